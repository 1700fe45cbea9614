"""Snapshots, rewinding and the random-reinitialisation control (Frankle & Carbin 2019, Section 2;
rewinding to iteration k: Frankle et al. 2019, Stabilizing the Lottery Ticket Hypothesis)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

import torch
from torch import nn

from .masks import Mask
from .models import ConvNet, LeNet, glorot_init_

ModelFn = Callable[[int], nn.Module]  # seed -> a freshly initialised network
Init = str | ModelFn | None  # how reinitialize draws: None (the model's own), "glorot", "reset_parameters", a ModelFn
INITS = ("glorot", "reset_parameters")


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


def seeded(model_fn: ModelFn, seed: int) -> nn.Module:
    """``model_fn(seed)`` with PyTorch's global generator seeded by ``seed`` (and restored after),
    so a factory that draws from the global generator (any ``nn.Module`` constructor) is reproducible."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_fn(seed)


def fresh_draw(model: nn.Module, seed: int, init: Init = None) -> nn.Module:
    """A copy of ``model`` with new initial weights drawn from ``seed``: ``"glorot"`` (Gaussian
    Glorot weights, zero biases), ``"reset_parameters"`` (each module's own default initialiser,
    e.g. PyTorch's Kaiming-uniform for ``nn.Linear``), a factory ``init(seed) -> nn.Module``, or
    ``None``: the model's own initialiser (Glorot for this package's networks, else ``reset_parameters``)."""
    if init is None:
        init = "glorot" if isinstance(model, (LeNet, ConvNet)) else "reset_parameters"
    if callable(init):
        return seeded(init, seed)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; valid: None, a model factory, {', '.join(INITS)}")
    fresh = copy.deepcopy(model).cpu()
    if init == "glorot":
        return glorot_init_(fresh, torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in fresh.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return fresh


@torch.no_grad()
def reinitialize(model: nn.Module, mask: Mask | None = None, *, seed: int, init: Init = None) -> nn.Module:
    """Fresh initial weights drawn from ``seed`` (see :func:`fresh_draw` for ``init``), then masked.

    The random-reinitialisation control (Frankle & Carbin 2019, Section 2): the ticket's structure
    with new initial weights from the network's own initialiser (Glorot for the paper's networks).
    """
    model.load_state_dict(fresh_draw(model, seed, init).state_dict())
    if mask is not None:
        mask.apply(model)
    return model
