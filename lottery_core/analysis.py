"""The Xavier-scale argument and weight-movement analysis.

Glorot & Bengio (2010) give a layer weights of std sqrt(2 / (fan_in + fan_out)). A subnetwork that
keeps a fraction d of each layer's connections has d times smaller fans, so Glorot would give it
weights 1/sqrt(d) larger (√10 ≈ 3.16 at d = 0.1). Per neuron, the actual fans under a mask give a
sparse-aware std (Evci et al. 2022). Weight movement follows Frankle & Carbin (2019), Appendix F.5;
initial-weight distributions Appendix F.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch


def xavier_std(fan_in: float, fan_out: float, gain: float = 1.0) -> float:
    """Glorot-normal standard deviation: gain * sqrt(2 / (fan_in + fan_out))."""
    if fan_in + fan_out <= 0:
        raise ValueError(f"fan_in + fan_out must be positive, got {fan_in} + {fan_out}")
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def subnetwork_scale(density: float) -> float:
    """1 / sqrt(density): how much larger Glorot makes the weights of a subnetwork keeping
    ``density`` of every layer (both fans shrink by the density). √10 ≈ 3.16 at 10%."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return 1.0 / math.sqrt(density)


def _receptive(mask: torch.Tensor) -> int:
    return int(np.prod(mask.shape[2:])) if mask.ndim > 2 else 1


def effective_fan_in(mask: torch.Tensor) -> torch.Tensor:
    """Surviving incoming connections of each output neuron (channel), shape (out,)."""
    return mask.flatten(1).sum(1)


def effective_fan_out(mask: torch.Tensor) -> torch.Tensor:
    """Surviving outgoing connections of each input neuron (channel), shape (in,)."""
    return mask.transpose(0, 1).flatten(1).sum(1)


def sparse_glorot_std(mask: torch.Tensor) -> torch.Tensor:
    """Per-weight sparse-aware Glorot std sqrt(2 / (fan_in_eff + fan_out_eff)), where fan_in_eff is
    the kept fan-in of the weight's output neuron and fan_out_eff the kept fan-out of its input neuron
    (for a convolution both count kernel positions, as dense Glorot's fans do).
    Zero where the mask is False."""
    mask = mask.bool()
    extra = (1,) * (mask.ndim - 2)
    fan_in = effective_fan_in(mask).double().view(-1, 1, *extra)
    fan_out = effective_fan_out(mask).double().view(1, -1, *extra)
    std = torch.sqrt(2.0 / (fan_in + fan_out).clamp_min(1.0))
    return (std * mask).float()


def scale_table(mask: Mapping[str, torch.Tensor], initial: Mapping[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """Per layer: dense Glorot std, the subnetwork std from the layer density, the per-neuron
    sparse-aware std (mean and spread) and the spread of per-neuron fan-in. With ``initial``
    weights (θ0), also the RMS of the surviving initial weights and its ratio to the dense std:
    how much of the 1/sqrt(d) factor magnitude selection supplies by itself."""
    rows = []
    for key, m in mask.items():
        m = m.bool().cpu()
        fan_in = m[0].numel()
        fan_out = m.shape[0] * _receptive(m)
        density = m.float().mean().item()
        dense = xavier_std(fan_in, fan_out)
        fin = effective_fan_in(m).float()
        per_weight = sparse_glorot_std(m)[m]
        row = {
            "layer": key,
            "fan_in": fan_in,
            "fan_out": fan_out,
            "density": density,
            "dense_std": dense,
            "subnetwork_std": dense * subnetwork_scale(density) if density > 0 else float("nan"),
            "predicted_scale": subnetwork_scale(density) if density > 0 else float("nan"),
            "neuron_std_mean": per_weight.mean().item() if per_weight.numel() else float("nan"),
            "neuron_std_p10": per_weight.quantile(0.1).item() if per_weight.numel() else float("nan"),
            "neuron_std_p90": per_weight.quantile(0.9).item() if per_weight.numel() else float("nan"),
            "fan_in_min": fin.min().item(),
            "fan_in_median": fin.median().item(),
            "fan_in_max": fin.max().item(),
        }
        if initial is not None:
            w0 = initial[key].detach().float().cpu()
            kept = w0[m]
            row["kept_init_rms"] = kept.pow(2).mean().sqrt().item() if kept.numel() else float("nan")
            row["all_init_rms"] = w0.pow(2).mean().sqrt().item()
            row["measured_scale"] = row["kept_init_rms"] / dense
            row["share_of_predicted_log"] = (
                math.log(row["measured_scale"]) / math.log(row["predicted_scale"])
                if 0 < density < 1 and kept.numel()
                else float("nan")
            )
        rows.append(row)
    return pd.DataFrame(rows)


def weight_movement(initial: Mapping[str, torch.Tensor], final: Mapping[str, torch.Tensor],
                    mask: Mapping[str, torch.Tensor], *, detail: bool = False) -> pd.DataFrame:
    """How far weights moved between θ0 and θT, for the weights a mask keeps versus prunes.

    Use θ0 and θT of a run in which all these weights trained (e.g. the dense network) and the
    ticket mask found from it (Appendix F.5). Summary (default): per layer and group, count, mean
    and quartiles of |w_T - w_0|, and the fraction that moved away from zero (|w_T| > |w_0|).
    ``detail=True``: one row per weight (layer, group, w0, wT, movement) for plotting.
    """
    frames = []
    for key, m in mask.items():
        m = m.bool().cpu().flatten()
        w0 = initial[key].detach().float().cpu().flatten()
        wt = final[key].detach().float().cpu().flatten()
        group = np.where(m.numpy(), "kept", "pruned")
        frames.append(pd.DataFrame({
            "layer": key,
            "group": group,
            "w0": w0.numpy(),
            "wT": wt.numpy(),
            "movement": (wt - w0).abs().numpy(),
            "away_from_zero": (wt.abs() > w0.abs()).numpy(),
        }))
    long = pd.concat(frames, ignore_index=True)
    if detail:
        return long
    grouped = long.groupby(["layer", "group"], sort=False)
    summary = grouped["movement"].describe(percentiles=[0.25, 0.5, 0.75])
    summary = summary.rename(columns={"50%": "median", "25%": "q25", "75%": "q75"})
    summary["away_from_zero"] = grouped["away_from_zero"].mean()
    return summary.reset_index()[["layer", "group", "count", "mean", "q25", "median", "q75", "max", "away_from_zero"]]


def paired_interval(a: Sequence[float], b: Sequence[float] | None = None, confidence: float = 0.95) -> dict[str, float]:
    """Mean of the paired differences ``a - b`` over seeds (of ``a`` alone when ``b`` is None) with its
    two-sided Student-t interval on n − 1 degrees of freedom: ``{"mean", "low", "high", "n"}``.

    This is the interval every verdict in the book carries: pair the arms by seed (same θ0, same data
    order), so the seed-to-seed spread that both arms share cancels. With one seed the bounds are NaN.
    """
    from scipy import stats

    x = np.asarray(a, dtype=float) - (0.0 if b is None else np.asarray(b, dtype=float))
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"need a non-empty 1-D sequence of paired values, got shape {x.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n, mean = len(x), float(x.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "n": n}
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


# --- Chapter helpers: intervals per density, selection on validation data, layer tables -----------------------

def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent examples: sqrt(p(1 − p) / n)."""
    if n < 1 or not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"need n >= 1 and an accuracy in [0, 1], got n={n}, accuracy={accuracy}")
    return math.sqrt(accuracy * (1.0 - accuracy) / n)


def _per_seed(frame: pd.DataFrame, arm: str, metric: str, by: str, dense_arm: str) -> pd.DataFrame:
    """``metric`` of ``arm`` as a (``by`` x seed) table, averaged over repeated rows (e.g. random draws).
    ``arm="dense"`` repeats, at every value of ``by``, the seed's ``dense_arm`` row where ``by`` is 0."""
    if arm == "dense":
        dense = frame[(frame["arm"] == dense_arm) & (frame[by] == 0)].groupby("seed")[metric].mean()
        keys = sorted(frame[by].unique())
        return pd.DataFrame({s: [v] * len(keys) for s, v in dense.items()}, index=keys).rename_axis(by)
    return frame[frame["arm"] == arm].pivot_table(index=by, columns="seed", values=metric, aggfunc="mean")


def paired_differences(frame: pd.DataFrame, arm: str, baseline: str, metric: str = "early_stop_test_acc", *,
                       by: str = "round", dense_arm: str = "ticket", confidence: float = 0.95) -> pd.DataFrame:
    """For every value of ``by`` (a round, a pruning rate): the mean over seeds of ``arm − baseline``,
    paired by seed, with its Student-t interval (:func:`paired_interval`).

    ``frame`` is tidy data (columns seed, arm, ``by``, density and the metrics) such as
    ``ImpResult.to_long_frame()``; repeated rows of one seed (random draws) are averaged first.
    ``baseline`` is an arm, or ``"dense"``: each seed's own ``dense_arm`` row at ``by == 0`` (round 0).
    Values where either arm is missing (controls trained at some rounds only) are left out.
    Columns: ``by, density, mean, low, high, n``.
    """
    a = _per_seed(frame, arm, metric, by, dense_arm)
    b = _per_seed(frame, baseline, metric, by, dense_arm)
    density = frame[frame["arm"] == (arm if arm != "dense" else dense_arm)].groupby(by)["density"].mean()
    rows = []
    for key in sorted(set(a.index) & set(b.index)):
        seeds = [s for s in a.columns if s in b.columns and pd.notna(a.loc[key, s]) and pd.notna(b.loc[key, s])]
        if seeds:
            interval = paired_interval(a.loc[key, seeds].to_numpy(float), b.loc[key, seeds].to_numpy(float),
                                       confidence)
            rows.append({by: key, "density": float(density.get(key, math.nan)), **interval})
    out = pd.DataFrame(rows, columns=[by, "density", "mean", "low", "high", "n"])
    return out.astype({by: frame[by].dtype})


def best_round(frame: pd.DataFrame, arm: str = "ticket", *, baseline: str | None = None,
               metric: str = "early_stop_val_acc", by: str = "round") -> int:
    """The pruned round (``by`` > 0) where ``arm``'s mean ``metric`` is highest, or, with ``baseline``,
    where its mean paired lead over ``baseline`` is largest. The default metric is validation accuracy,
    so the test accuracy reported at the chosen round is not selected on the test set."""
    if baseline is None:
        means = _per_seed(frame, arm, metric, by, "ticket").mean(axis=1)
    else:
        means = paired_differences(frame, arm, baseline, metric, by=by).set_index(by)["mean"]
    means = means[means.index > 0].dropna()
    if means.empty:
        raise ValueError(f"no pruned {by} with {arm!r} to choose from")
    return means.idxmax().item() if hasattr(means.idxmax(), "item") else means.idxmax()


def closest_round(long: pd.DataFrame, density: float) -> int:
    """The round whose (mean) density is closest to ``density``."""
    densities = long.groupby("round")["density"].mean()
    return int((densities - density).abs().idxmin())


def density_schedule(sizes: Mapping[str, int], rates: Mapping[str, float], rounds: int) -> list[float]:
    """Overall density after 0..``rounds`` rounds when every layer loses ``round(rate x survivors)``
    each round (layer sizes and rates keyed alike), as iterative magnitude pruning does."""
    counts, out = dict(sizes), []
    for _ in range(rounds + 1):
        out.append(sum(counts.values()) / sum(sizes.values()))
        counts = {k: c - round(rates[k] * c) for k, c in counts.items()}
    return out


def init_std_table(model: torch.nn.Module) -> pd.DataFrame:
    """Per prunable layer: shape, Glorot fans, number of weights, Glorot's σ and the standard deviation
    of the weights the model actually holds, and their ratio (Glorot & Bengio 2010)."""
    from .masks import prunable_parameters

    rows = []
    for key, w in prunable_parameters(model).items():
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
        sigma = xavier_std(fan_in, fan_out)
        rows.append({"layer": key, "shape": tuple(w.shape), "fan_in": fan_in, "fan_out": fan_out,
                     "weights": w.numel(), "xavier_std": sigma, "measured_std": w.detach().std().item(),
                     "measured / xavier": w.detach().std().item() / sigma})
    return pd.DataFrame(rows).set_index("layer")


def mask_adjacency(mask: torch.Tensor) -> float:
    """Of the kept connections of a fully-connected layer (rows: output units, columns: inputs in order),
    the share whose neighbour to the right (the next input of the same unit) is kept too. A random mask
    of density d gives about d; spatially local masks give more (Greydanus & Kobak 2024, MNIST-1D's
    lottery-ticket experiment)."""
    m = mask.bool().flatten(1).cpu()
    if m.shape[1] < 2:
        raise ValueError("need at least two inputs per unit")
    left = m[:, :-1]
    kept = int(left.sum())
    return float((left & m[:, 1:]).sum()) / kept if kept else math.nan


def last_within(differences: pd.DataFrame, tolerance: float, *, by: str = "round") -> float | int | None:
    """The largest ``by`` value up to which every mean difference (``paired_differences`` output, e.g.
    pruned − dense validation accuracy) stays above ``-tolerance``; ``None`` if the first one does not."""
    last = None
    for _, row in differences.sort_values(by).iterrows():
        if row["mean"] < -tolerance:
            break
        last = row[by]
    return last.item() if hasattr(last, "item") else last
# ---- Chapters 5 and 6: selection null for weight movement, kept-weight RMS over training, arm intervals ----


def gaussian_selection_ceiling(density: float) -> float:
    """The largest RMS, in units of σ, that keeping a fraction ``density`` of N(0, σ²) weights can give:
    keep those with |w| > σt, t = Φ⁻¹(1 − d/2); then E[w² | |w| > σt] / σ² = 1 + 2tφ(t)/d < 1/d."""
    from statistics import NormalDist

    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    if density == 1.0:
        return 1.0
    t = NormalDist().inv_cdf(1 - density / 2)
    return math.sqrt(1 + 2 * t * NormalDist().pdf(t) / density)


def selection_ceiling_scale(w0: torch.Tensor, keep: torch.Tensor, dense_std: float) -> float:
    """RMS of the largest-|w0| weights, as many as ``keep`` keeps, over ``dense_std``: the most any mask
    of that size could select from these initial weights."""
    k = int(keep.sum())
    top = w0.detach().abs().flatten().float().topk(k).values
    return top.pow(2).mean().sqrt().item() / dense_std if k else float("nan")


def kept_rms(state: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Per layer, the root-mean-square of the weights ``mask`` keeps."""
    return {k: state[k].detach().float().cpu()[m.bool().cpu()].pow(2).mean().sqrt().item() for k, m in mask.items()}


def rms_trajectory(snapshots: Mapping[int, Mapping[str, torch.Tensor]],
                   mask: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """The kept weights of one training run, per layer and snapshot iteration: their RMS, the RMS of
    their change since the first snapshot (``moved``), the layer density, the dense Glorot σ and
    σ/sqrt(d) (the review's reading of Appendix F.5: do they grow toward σ/sqrt(d)?)."""
    iterations = sorted(snapshots)
    first = snapshots[iterations[0]]
    rows = []
    for key, m in mask.items():
        m = m.bool().cpu()
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(m)
        sigma, density = xavier_std(fan_in, fan_out), m.float().mean().item()
        w0 = first[key].detach().float().cpu()[m]
        for it in iterations:
            w = snapshots[it][key].detach().float().cpu()[m]
            rows.append({"layer": key, "iteration": it, "rms": w.pow(2).mean().sqrt().item(),
                         "moved": (w - w0).pow(2).mean().sqrt().item(), "density": density, "sigma": sigma,
                         "sigma_d": sigma / math.sqrt(density) if density > 0 else float("nan")})
    return pd.DataFrame(rows)


def movement_null(initial: Mapping[str, torch.Tensor], final: Mapping[str, torch.Tensor],
                  mask: Mapping[str, torch.Tensor], *, bins: int = 20) -> pd.DataFrame:
    """Weight movement |θT − θ0| of kept against pruned weights, with the selection by |θT| removed.

    A magnitude mask keeps weights that are large at the end, and a weight that ends large has, on
    average, moved further: part of "kept weights moved more" (Appendix F.5) is selection. Per layer,
    the weights are binned by |θT| (``bins`` quantile bins); each kept weight is compared with the
    pruned weights of its own bin. ``matched_pruned`` is the mean movement the kept weights would have
    if they moved like pruned weights of the same final size; ``coverage`` is the share of kept
    weights whose bin holds pruned weights (the others are left out of the matched numbers).
    ``away_*``: the share with |θT| > |θ0| (moved away from zero), raw and matched likewise.
    """
    rows = []
    for key, m in mask.items():
        m = m.bool().cpu().flatten()
        w0 = initial[key].detach().float().cpu().flatten()
        wt = final[key].detach().float().cpu().flatten()
        move, away = (wt - w0).abs(), (wt.abs() > w0.abs()).float()
        edges = torch.quantile(wt.abs(), torch.linspace(0, 1, bins + 1)[1:-1])
        b = torch.bucketize(wt.abs(), edges)
        counts = torch.bincount(b[~m], minlength=bins).float()
        move_bin = torch.bincount(b[~m], weights=move[~m], minlength=bins) / counts.clamp_min(1)
        away_bin = torch.bincount(b[~m], weights=away[~m], minlength=bins) / counts.clamp_min(1)
        covered = m & (counts[b] > 0)
        rows.append({
            "layer": key, "kept": int(m.sum()), "pruned": int((~m).sum()),
            "kept_mean": move[m].mean().item(), "pruned_mean": move[~m].mean().item(),
            "coverage": covered.sum().item() / max(int(m.sum()), 1),
            "kept_mean_covered": move[covered].mean().item() if covered.any() else float("nan"),
            "matched_pruned": move_bin[b[covered]].mean().item() if covered.any() else float("nan"),
            "away_kept": away[m].mean().item(), "away_pruned": away[~m].mean().item(),
            "away_kept_covered": away[covered].mean().item() if covered.any() else float("nan"),
            "away_matched": away_bin[b[covered]].mean().item() if covered.any() else float("nan"),
        })
    out = pd.DataFrame(rows)
    out["raw_ratio"] = out["kept_mean"] / out["pruned_mean"]
    out["matched_ratio"] = out["kept_mean_covered"] / out["matched_pruned"]
    return out


def kept_init_shape(initial: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor], *,
                    near_zero: float = 0.5) -> pd.DataFrame:
    """Shape of the kept initial weights per layer, in units of the layer's Glorot σ (Appendix F.1):
    ``near_zero_ratio`` (share with |θ0| < near_zero·σ among kept over among all: 1 = no selection),
    ``dip_ratio`` (density at |z| < 0.25 over density at 0.75 < |z| < 1.25; a Gaussian gives 1.63, below 1
    is a valley between two peaks), Sarle's ``bimodality`` coefficient (γ² + 1)/κ (Gaussian 1/3, above
    5/9 suggests two modes), ``rms_ratio`` (kept over all) and ``positive`` (share of kept above zero)."""
    rows = []
    for key, m in mask.items():
        w = initial[key].detach().double().cpu()
        z_all = (w / xavier_std(*torch.nn.init._calculate_fan_in_and_fan_out(w))).flatten()
        z = z_all[m.bool().cpu().flatten()]
        a = z.abs()
        centre, shoulder = (a < 0.25).double().mean() / 0.5, ((a > 0.75) & (a < 1.25)).double().mean()
        std = (z - z.mean()) / z.std(unbiased=False)
        rows.append({
            "layer": key,
            "near_zero_ratio": ((a < near_zero).double().mean() / (z_all.abs() < near_zero).double().mean()).item(),
            "dip_ratio": (centre / shoulder).item() if shoulder > 0 else float("nan"),
            "bimodality": ((std.pow(3).mean() ** 2 + 1) / std.pow(4).mean()).item(),
            "rms_ratio": (z.pow(2).mean() / z_all.pow(2).mean()).sqrt().item(),
            "positive": (z > 0).double().mean().item(),
        })
    return pd.DataFrame(rows)


def arm_differences(frame: pd.DataFrame, arms: Sequence[str], reference: str, *,
                       metric: str = "early_stop_test_acc", by: Sequence[str] = ("round",),
                       confidence: float = 0.95) -> pd.DataFrame:
    """For tidy ``frame`` (columns ``seed``, ``arm``, ``metric`` and ``by``): per group and arm, the
    paired difference ``arm − reference`` over seeds with its Student-t interval
    (:func:`paired_interval`), the group's mean density when there is a ``density`` column."""
    wide = frame.pivot_table(index=[*by, "seed"], columns="arm", values=metric, aggfunc="first")
    rows = []
    for group, part in wide.groupby(level=list(range(len(by))), sort=True):
        group = group if isinstance(group, tuple) else (group,)
        for arm in arms:
            pair = part[[arm, reference]].dropna()
            iv = paired_interval(pair[arm].to_numpy(), pair[reference].to_numpy(), confidence)
            rows.append(dict(zip(by, group)) | {"arm": arm, "reference": reference} | iv)
    out = pd.DataFrame(rows)
    if "density" in frame:  # the compared arms' density (a dense reference does not dilute it)
        density = frame[frame["arm"].isin(arms)].groupby(list(by))["density"].mean()
        out["density"] = [density.loc[tuple(r) if len(by) > 1 else r[0]] for r in out[list(by)].to_numpy()]
    return out


def select_rounds_on_validation(frame: pd.DataFrame, n: int, *, arm: str = "ticket", reference: str = "reinit",
                                metric: str = "early_stop_val_acc") -> list[int]:
    """``n`` rounds at which to test further arms, chosen on validation accuracy only: the pruned
    rounds of tidy ``frame`` (an IMP run's ``to_long_frame()``) are split into ``n`` consecutive groups
    along the pruning path, and each group gives the round where ``arm`` leads ``reference`` most
    (mean over seeds of ``metric``). Rounds at which ``reference`` did not train are left out."""
    pruned = frame[frame["round"] > 0]
    means = pruned.groupby(["round", "arm"])[metric].mean().unstack("arm")
    lead = (means[arm] - means[reference]).dropna().sort_index()  # rounds where the reference trained
    if not 1 <= n <= len(lead):
        raise ValueError(f"n must be between 1 and the {len(lead)} pruned rounds, got {n}")
    groups = np.array_split(lead.index.to_numpy(), n)
    return [int(lead.loc[g].idxmax()) for g in groups]


def gap_closed(frame: pd.DataFrame, control: str, *, ticket: str = "ticket", reference: str = "reinit",
               metric: str = "early_stop_test_acc", n_boot: int = 4000, seed: int = 0,
               confidence: float = 0.95) -> dict[str, float]:
    """Share of the ticket's lead over ``reference`` that ``control`` closes, pooled over the rounds of
    tidy ``frame``: Σ(control − reference) / Σ(ticket − reference) of the means over seeds, with a
    paired bootstrap over seeds (percentile interval; each draw resamples whole seeds, all rounds and
    arms together). 0: no better than ``reference``; 1: as good as the ticket."""
    wide = frame.pivot_table(index="seed", columns=["arm", "round"], values=metric, aggfunc="first")
    num = (wide[control] - wide[reference]).to_numpy()
    den = (wide[ticket] - wide[reference]).to_numpy()
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(num), size=(n_boot, len(num)))
    boot = num[draws].sum(axis=(1, 2)) / den[draws].sum(axis=(1, 2))
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot[np.isfinite(boot)], [tail, 1 - tail])
    return {"mean": float(num.sum() / den.sum()), "low": float(low), "high": float(high), "n": len(num),
            "lead": float(den.mean(axis=0).mean())}


def ratio_interval(a: Sequence[float], b: Sequence[float] | None = None, confidence: float = 0.95) -> dict[str, float]:
    """Geometric mean of the paired ratios ``a / b`` over seeds (of ``a`` when ``b`` is None) with the
    Student-t interval of their logarithms, transformed back: ``{"mean", "low", "high", "n"}``."""
    logs = np.log(np.asarray(a, dtype=float))
    if b is not None:
        logs = logs - np.log(np.asarray(b, dtype=float))
    iv = paired_interval(logs, confidence=confidence)
    return {k: (math.exp(v) if k != "n" and math.isfinite(v) else v) for k, v in iv.items()}


def movement_by_seed(result, rounds: Sequence[int], *, bins: int = 20) -> pd.DataFrame:
    """:func:`movement_null` of the dense run (θ0 → θT of round 0) against the ticket masks of ``rounds``,
    one row per round, seed and layer. ``result`` is an :class:`~lottery_core.ImpResult`."""
    frames = [
        movement_null(result.initial_state(s), result.trained_state(0, s), result.mask(r, s), bins=bins)
        .assign(round=r, seed=s)
        for r in rounds for s in result.seeds
    ]
    return pd.concat(frames, ignore_index=True)


def movement_summary(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per round and layer of :func:`movement_by_seed`'s rows: the kept/pruned movement ratio raw and
    within |θT| bins (geometric means over seeds, t intervals of the logs), the share of the raw effect
    left after matching (in log terms), and the away-from-zero shares of kept minus pruned weights, raw
    and matched (paired t intervals). Each interval is a dict ``{"mean", "low", "high", "n"}``."""
    rows = []
    for (r, layer), g in frame.groupby(["round", "layer"], sort=False):
        raw, matched = ratio_interval(g["raw_ratio"], confidence=confidence), \
            ratio_interval(g["matched_ratio"], confidence=confidence)
        rows.append({
            "round": r, "layer": layer, "raw_ratio": raw, "matched_ratio": matched,
            "share_left": math.log(matched["mean"]) / math.log(raw["mean"]) if raw["mean"] != 1 else float("nan"),
            "coverage": float(g["coverage"].mean()),
            "away_raw": paired_interval(g["away_kept"], g["away_pruned"], confidence),
            "away_matched": paired_interval(g["away_kept_covered"], g["away_matched"], confidence),
        })
    return pd.DataFrame(rows)


def kept_init_shape_by_seed(result, rounds: Sequence[int], *, near_zero: float = 0.5) -> pd.DataFrame:
    """:func:`kept_init_shape` of θ0 under the ticket masks of ``rounds``, one row per round, seed and layer."""
    frames = [kept_init_shape(result.initial_state(s), result.mask(r, s), near_zero=near_zero).assign(round=r, seed=s)
              for r in rounds for s in result.seeds]
    return pd.concat(frames, ignore_index=True)


def ticket_scales(result, rounds: Sequence[int] | None = None) -> pd.DataFrame:
    """:func:`scale_table` of every ticket of ``result`` (default: all pruned rounds), one row per round,
    seed and layer, with ``ceiling_scale`` (:func:`selection_ceiling_scale`: the largest RMS any mask of
    the layer's size could select from this θ0, over the dense σ) and the ticket's overall density."""
    rounds = range(1, result.num_rounds) if rounds is None else rounds
    frames = []
    for r in rounds:
        for s in result.seeds:
            mask, theta0 = result.mask(r, s), result.initial_state(s)
            t = scale_table(mask, theta0)
            t["ceiling_scale"] = [selection_ceiling_scale(theta0[k], mask[k], d)
                                  for k, d in zip(t["layer"], t["dense_std"])]
            t["sample_scale"] = t["all_init_rms"] / t["dense_std"]
            frames.append(t.assign(round=r, seed=s, overall_density=mask.density()))
    return pd.concat(frames, ignore_index=True)


def rms_summary(rms: pd.DataFrame, *, reference: str = "ticket", confidence: float = 0.95) -> pd.DataFrame:
    """Per round, arm and layer of :func:`rms_trajectory` rows (with ``round``, ``seed`` and ``arm``):
    the kept weights' RMS at the first and last snapshot in units of the dense σ (means over seeds),
    σ/sqrt(d) in the same units, the growth RMS_T / RMS_0 and the movement RMS(θT − θ0) relative to
    ``reference`` arm's, each as a geometric mean over seeds with its t interval (:func:`ratio_interval`)."""
    first, last = rms["iteration"].min(), rms["iteration"].max()
    ends = rms[rms["iteration"].isin([first, last])].pivot_table(
        index=["round", "arm", "layer", "seed"], columns="iteration", values=["rms", "moved"], aggfunc="first")
    meta = rms.groupby(["round", "layer"])[["density", "sigma", "sigma_d"]].mean()
    rows = []
    for (r, arm, layer), g in ends.groupby(level=["round", "arm", "layer"], sort=False):
        sigma = meta.loc[(r, layer), "sigma"]
        ref = ends.loc[(r, reference, layer)]
        seeds = g.index.get_level_values("seed")
        rows.append({
            "round": r, "arm": arm, "layer": layer, "density": meta.loc[(r, layer), "density"],
            "initial": g[("rms", first)].mean() / sigma, "final": g[("rms", last)].mean() / sigma,
            "sigma_d": meta.loc[(r, layer), "sigma_d"] / sigma, "moved": g[("moved", last)].mean() / sigma,
            "growth": ratio_interval(g[("rms", last)].to_numpy(), g[("rms", first)].to_numpy(), confidence),
            "moved_vs_reference": ratio_interval(g[("moved", last)].to_numpy(),
                                                 ref.loc[seeds, ("moved", last)].to_numpy(), confidence),
        })
    return pd.DataFrame(rows)


@torch.no_grad()
def dead_units(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Per ReLU layer of ``model``, the share of units that output zero for every example of ``x``: such a
    unit passes no gradient to its incoming weights (chapter 7, at the rewinding point θk)."""
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out))
             for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    try:
        model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    return {f"hidden {i + 1}": float((out.flatten(2).amax(-1) if out.ndim > 2 else out).amax(0).le(0).float().mean())
            for i, out in enumerate(outputs)}


def dead_units_at_rewind(runs: Mapping[tuple[str, int], object], data) -> pd.DataFrame:
    """:func:`dead_units` of every run's rewind point θk (θ0 for k = 0) on the training inputs, mean over
    the run's seeds: one row per (setting, k) key of ``runs``, one column per hidden layer."""
    from .models import build_model

    rows = {}
    for key, result in runs.items():
        shares = []
        for s in result.seeds:
            model = build_model(result.config.model, data.input_shape, data.num_classes, seed=s).to(data.device)
            model.load_state_dict(result.rewind_state(s))
            shares.append(dead_units(model, data.x_train))
        rows[key] = pd.DataFrame(shares).mean()
    return pd.DataFrame(rows).T.rename_axis(["setting", "k"])
