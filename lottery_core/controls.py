"""Control initialisations trained beside a ticket, each under a mask of the ticket's densities.

- ``reinit``: the ticket's mask, fresh weights from the network's own initialiser (Glorot for the
  paper's networks; Frankle & Carbin 2019, Section 2).
- ``random_prune``: a random mask with the ticket's per-layer counts, on the ticket's θ0 (Section 4).
- ``reinit_layer_scaled``: fresh weights (as ``reinit``) times 1/sqrt(layer density): the √10 argument.
- ``reinit_neuron_scaled``: fresh weights with each weight's sparse-aware Glorot std computed from
  the actual fan-in and fan-out of its neurons under the mask (Evci et al. 2022); always Glorot-based.
- ``sign_constant``: the ticket's initial signs with one constant magnitude per layer, the layer's
  Glorot std times 1/sqrt(layer density) (Zhou et al. 2019's constant-magnitude control).
- ``sign_shuffle``: the ticket's initial signs with the surviving initial magnitudes of the layer
  shuffled among its kept weights (Zhou et al. 2019).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from .masks import Mask
from .pruning import random_prune
from .rewind import Init, reinitialize, snapshot
from .scale import sparse_glorot_std, xavier_std

State = dict[str, torch.Tensor]
# (scratch model, ticket start, ticket mask, seed, init) -> (initial state, mask); ``init`` as for ``reinitialize``
ControlFn = Callable[[nn.Module, Mapping[str, torch.Tensor], Mask, int, Init], tuple[State, Mask]]


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    return nn.init._calculate_fan_in_and_fan_out(weight)


def _reinit(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
            init: Init = None) -> tuple[State, Mask]:
    model.load_state_dict(dict(start))
    reinitialize(model, mask, seed=seed, init=init)
    return snapshot(model), mask


def _random_prune(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                  init: Init = None) -> tuple[State, Mask]:
    new = random_prune(mask, seed=seed)
    model.load_state_dict(dict(start))
    new.apply(model)
    return snapshot(model), new


def _layer_scaled(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                  init: Init = None) -> tuple[State, Mask]:
    state, _ = _reinit(model, start, mask, seed, init)
    for key, density in mask.layer_densities().items():
        if density > 0:
            state[key] = state[key] / math.sqrt(density)
    return state, mask


def _neuron_scaled(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                   init: Init = None) -> tuple[State, Mask]:
    state, _ = _reinit(model, start, mask, seed, "glorot")  # the rescaling below assumes Glorot draws
    for key, w in mask.parameters_of(model).items():
        dense_std = xavier_std(*_fans(w))
        # fresh Glorot draws are N(0, dense_std^2); rescale each to its own sparse-aware std
        state[key] = state[key] * (sparse_glorot_std(mask[key]).to(w.device) / dense_std)
    return state, mask


def _sign_constant(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                   init: Init = None) -> tuple[State, Mask]:
    state = {k: v.clone() for k, v in start.items()}
    for key, density in mask.layer_densities().items():
        w = state[key]
        scale = xavier_std(*_fans(w)) / math.sqrt(max(density, 1e-12))
        state[key] = torch.sign(w) * scale * mask[key].to(w.device)
    return state, mask


def _sign_shuffle(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                  init: Init = None) -> tuple[State, Mask]:
    gen = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in start.items()}
    for key in mask:
        w, keep = state[key], mask[key].to(state[key].device)
        kept = w[keep]
        magnitudes = kept.abs()[torch.randperm(kept.numel(), generator=gen).to(w.device)]
        out = torch.zeros_like(w)
        out[keep] = torch.sign(kept) * magnitudes
        state[key] = out
    return state, mask


CONTROLS: dict[str, ControlFn] = {
    "reinit": _reinit,
    "random_prune": _random_prune,
    "reinit_layer_scaled": _layer_scaled,
    "reinit_neuron_scaled": _neuron_scaled,
    "sign_constant": _sign_constant,
    "sign_shuffle": _sign_shuffle,
}


def check_controls(names: str | Sequence[str] | None) -> list[str]:
    """``names`` (one name, several, or ``None`` for none) as a list; an unknown name is a
    ``ValueError`` that lists the valid ones."""
    names = [names] if isinstance(names, str) else list(names or [])
    for name in names:
        if name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}; valid controls: {', '.join(CONTROLS)}")
    return names


def control_init(name: str, model: nn.Module, ticket_start: Mapping[str, torch.Tensor], mask: Mask,
                 *, seed: int, init: Init = None) -> tuple[State, Mask]:
    """Initial state and mask of control ``name`` for a ticket that starts from ``ticket_start``
    (θ0 or θk) under ``mask``. ``model`` is used as scratch space and is overwritten. ``init``: how
    the reinitialising controls draw fresh weights (see :func:`~lottery_core.reinitialize`)."""
    check_controls(name)
    return CONTROLS[name](model, ticket_start, mask, seed, init)
