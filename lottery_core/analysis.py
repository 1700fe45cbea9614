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


def arm_differences(frame: pd.DataFrame, metric: str, against: str, *, arm: str = "ticket",
                    confidence: float = 0.95) -> pd.DataFrame:
    """Per round of tidy IMP records (columns ``seed, round, density, arm`` and ``metric``): the mean over seeds
    of ``arm − against`` (``against`` is an arm name, or ``"dense"`` for the arm's own round 0) with its paired
    Student-t interval (:func:`paired_interval`). One row per round: ``round, density, mean, low, high, n``."""
    wide = frame.pivot_table(index=["round", "seed"], columns="arm", values=metric)
    density = frame.groupby("round")["density"].mean()
    rows = []
    for r, part in wide.groupby(level="round"):
        part = part.droplevel("round")
        base = wide.xs(0, level="round")[arm].reindex(part.index) if against == "dense" else part[against]
        rows.append({"round": r, "density": density[r], **paired_interval(part[arm], base, confidence)})
    return pd.DataFrame(rows)
