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
