"""Magnitude pruning and its random-pruning control (Frankle & Carbin 2019, Section 2 and 4)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .masks import Mask, Prunable, prunable_parameters

SCOPES = ("layerwise", "global")


def _check_rate(rate: float, what: str = "rate") -> float:
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {rate}")
    return rate


def _smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Flat indices of the ``k`` smallest scores; ties broken by position, so exactly ``k``.

    The k-th smallest value splits them: every score below it, then the first of those equal to it
    (a selection, linear in the number of weights, where a full sort is not)."""
    flat = scores.flatten()
    if k <= 0:
        return torch.zeros(0, dtype=torch.long)
    threshold = flat.kthvalue(min(k, flat.numel())).values
    below = (flat < threshold).nonzero().flatten()
    return torch.cat([below, (flat == threshold).nonzero().flatten()[: k - len(below)]])


@torch.no_grad()
def magnitude_prune(
    model: nn.Module,
    mask: Mask,
    rate: float,
    *,
    layer_rates: Mapping[str, float] | None = None,
    scope: str = "layerwise",
) -> Mask:
    """Remove ``round(rate x surviving)`` of the surviving weights with the smallest |w|.

    ``scope="layerwise"`` prunes each layer separately (the paper's choice), ``layer_rates`` giving
    some layers their own rate (the paper prunes the output layer at half rate);
    ``scope="global"`` ranks the survivors of all prunable layers together. Weights already pruned
    stay pruned. Returns a new mask; ``model`` and ``mask`` are not changed.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid scopes: {', '.join(SCOPES)}")
    rate = _check_rate(rate)
    layer_rates = dict(layer_rates or {})
    params = mask.parameters_of(model)
    unknown = sorted(set(layer_rates) - set(params))
    if unknown:
        raise ValueError(f"layer_rates names unknown layers {unknown}; prunable layers: {list(params)}")
    for key, r in layer_rates.items():
        _check_rate(r, f"layer_rates[{key!r}]")
    if scope == "global" and layer_rates:
        raise ValueError("layer_rates apply to scope='layerwise' only")

    inf = torch.tensor(float("inf"))
    scores = {k: torch.where(mask[k].cpu(), p.detach().abs().cpu().float(), inf) for k, p in params.items()}
    new = {k: mask[k].detach().cpu().clone() for k in params}
    if scope == "layerwise":
        for key, s in scores.items():
            k = round(layer_rates.get(key, rate) * int(new[key].sum()))
            new[key].view(-1)[_smallest(s, k)] = False
    else:
        keep = torch.cat([m.flatten() for m in new.values()])  # every layer's survivors ranked together
        keep[_smallest(torch.cat([s.flatten() for s in scores.values()]), round(rate * int(keep.sum())))] = False
        new = {k: part.view(new[k].shape) for k, part in zip(new, keep.split([m.numel() for m in new.values()]))}
    device = next(iter(mask.values())).device
    return Mask({k: v.to(device) for k, v in new.items()})


def random_prune(mask: Mask, *, seed: int) -> Mask:
    """A mask with the same number of survivors in every layer as ``mask``, at random positions.

    The random-pruning control: same per-layer densities, structure chosen by chance.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, m in mask.items():
        keep = torch.zeros(m.numel(), dtype=torch.bool)
        keep[torch.randperm(m.numel(), generator=gen)[: int(m.sum())]] = True
        out[key] = keep.view(m.shape).to(m.device)
    return Mask(out)


def layer_rates_for(model: nn.Module, prune_rate: float, output_prune_rate: float | None = None,
                    conv_prune_rate: float | None = None, *, prunable: Prunable | None = None) -> dict[str, float]:
    """Per-layer pruning rates of the paper's schedule: fc ``prune_rate``, the output layer (the last
    prunable parameter) ``output_prune_rate`` and convolutions ``conv_prune_rate`` (each defaulting
    to ``prune_rate``). ``prunable`` picks the parameters as in :func:`prunable_parameters`."""
    modules = dict(model.named_modules())
    names = list(prunable_parameters(model, prunable))
    convs = {key for key in names if isinstance(modules[key.rpartition(".")[0]], nn.modules.conv._ConvNd)}
    rates = {key: conv_prune_rate if key in convs and conv_prune_rate is not None else prune_rate for key in names}
    if output_prune_rate is not None:
        rates[names[-1]] = output_prune_rate
    return rates
