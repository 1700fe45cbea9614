"""The Xavier-scale argument and weight-movement analysis.

Glorot & Bengio (2010) give a layer weights of std sqrt(2 / (fan_in + fan_out)). A subnetwork that
keeps a fraction d of each layer's connections has d times smaller fans, so Glorot would give it
weights 1/sqrt(d) larger (√10 ≈ 3.16 at d = 0.1). Per neuron, the actual fans under a mask give a
sparse-aware std (Evci et al. 2022). Weight movement follows Frankle & Carbin (2019), Appendix F.5;
initial-weight distributions Appendix F.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

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


def gaussian_selection_ceiling(density: float) -> float:
    """The largest RMS, in units of σ, that keeping a fraction ``density`` of N(0, σ²) weights can give:
    keep those with |w| > σt, t = Φ⁻¹(1 − d/2); then E[w² | |w| > σt] / σ² = 1 + 2tφ(t)/d < 1/d."""
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
