"""Snapshots, rewinding and the random-reinitialisation control (Frankle & Carbin 2019, Section 2;
rewinding to iteration k: Frankle et al. 2019, Stabilizing the Lottery Ticket Hypothesis)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from .masks import Mask
from .models import glorot_init_


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A deep copy of the model's parameters and buffers (its ``state_dict``)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def rewind(model: nn.Module, snap: Mapping[str, torch.Tensor], mask: Mask | None = None) -> nn.Module:
    """Load ``snap`` (θ0 or θk) into ``model`` and zero the pruned weights: θ ⊙ m."""
    model.load_state_dict(dict(snap))
    if mask is not None:
        mask.apply(model)
    return model


@torch.no_grad()
def reinitialize(model: nn.Module, mask: Mask | None = None, *, seed: int) -> nn.Module:
    """Fresh Glorot-normal weights drawn from ``seed`` (zero biases), then masked.

    The random-reinitialisation control: the ticket's structure with new initial weights.
    """
    fresh = glorot_init_(copy.deepcopy(model).cpu(), torch.Generator().manual_seed(seed))
    model.load_state_dict(fresh.state_dict())
    if mask is not None:
        mask.apply(model)
    return model
