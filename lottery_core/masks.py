"""Masks: which weights of a network survive pruning (Frankle & Carbin 2019, Section 2).

A mask holds one boolean tensor per prunable weight: by default the weights of ``nn.Linear`` and
convolution layers (``nn.Conv1d/2d/3d`` and their transposes); biases and normalisation layers are
never pruned. A predicate ``prunable(name, parameter)`` picks other parameters for your own network.
Masks convert to and from the ``*_mask`` buffers of ``torch.nn.utils.prune``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn
from torch.nn.utils import prune

from .checkpoint import atomic_save, safe_load

PRUNABLE_TYPES = (nn.Linear, nn.modules.conv._ConvNd)
Prunable = Callable[[str, torch.Tensor], bool]  # (parameter name, parameter) -> prune it?


def prunable_parameters(model: nn.Module, prunable: Prunable | None = None) -> dict[str, torch.Tensor]:
    """Parameter name -> weight of every Linear and convolution layer, in model order; with
    ``prunable``, every parameter for which ``prunable(name, parameter)`` is true."""
    if prunable is not None:
        return {name: p for name, p in model.named_parameters() if prunable(name, p)}
    return {
        f"{name}.weight" if name else "weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES)
    }


def torch_pruned(model: nn.Module) -> list[str]:
    """Names (``net.1.weight``) of the parameters that ``torch.nn.utils.prune`` has pruned in place:
    each is a ``*_orig`` parameter with a ``*_mask`` buffer beside it."""
    return [f"{module_name}.{hook._tensor_name}" if module_name else hook._tensor_name
            for module_name, module in model.named_modules() for hook in module._forward_pre_hooks.values()
            if isinstance(hook, prune.BasePruningMethod)]


def _split(key: str) -> tuple[str, str]:
    """``"net.1.weight"`` -> (``"net.1"``, ``"weight"``); a top-level parameter has module name ``""``."""
    module, _, name = key.rpartition(".")
    return module, name


def output_layer_name(model: nn.Module) -> str:
    """Mask key of the last prunable layer (the output layer the paper prunes at half rate)."""
    return list(prunable_parameters(model))[-1]


class Mask(Mapping[str, torch.Tensor]):
    """Parameter name -> boolean tensor (True = the weight survives)."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]):
        self._tensors = {}
        for key, value in tensors.items():
            value = torch.as_tensor(value)
            if value.dtype != torch.bool:
                raise ValueError(f"mask entry {key!r} must be a bool tensor, got {value.dtype}")
            self._tensors[key] = value

    # Mapping protocol
    def __getitem__(self, key: str) -> torch.Tensor:
        return self._tensors[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __repr__(self) -> str:
        return f"Mask({len(self)} layers, density={self.density():.4f})"

    @classmethod
    def ones_like(cls, model: nn.Module, prunable: Prunable | None = None) -> Mask:
        """The dense mask: every prunable weight kept (``prunable`` as in :func:`prunable_parameters`)."""
        return cls({k: torch.ones_like(p, dtype=torch.bool) for k, p in prunable_parameters(model, prunable).items()})

    @classmethod
    def from_torch_prune(cls, module: nn.Module, *, remove: bool = False) -> Mask:
        """The masks that ``torch.nn.utils.prune`` left on ``module`` (its ``<name>_mask`` buffers),
        keyed by parameter name (``net.1.weight`` for ``net.1.weight_orig``). ``remove=True`` then
        makes the pruning permanent (``prune.remove``), so the module trains with this mask."""
        names = torch_pruned(module)
        if not names:
            raise ValueError("the module has no parameter pruned by torch.nn.utils.prune")
        modules = dict(module.named_modules())
        mask = cls({key: getattr(modules[_split(key)[0]], f"{_split(key)[1]}_mask").detach().bool().clone()
                    for key in names})
        for key in names if remove else ():
            prune.remove(modules[_split(key)[0]], _split(key)[1])
        return mask

    def to_torch_prune(self, module: nn.Module) -> nn.Module:
        """Prune ``module`` in place through ``torch.nn.utils.prune.custom_from_mask``, one parameter
        per entry of this mask (combined with any pruning already there)."""
        self.check_fits(module)
        modules = dict(module.named_modules())
        for key, keep in self._tensors.items():
            name, tensor = _split(key)
            prune.custom_from_mask(modules[name], tensor, keep.to(getattr(modules[name], tensor).device))
        return module

    def parameters_of(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's parameter of every entry of this mask, in mask order (after :meth:`check_fits`)."""
        self.check_fits(model)
        params = dict(model.named_parameters())
        return {key: params[key] for key in self._tensors}

    def counts(self) -> dict[str, int]:
        """Surviving weights per layer."""
        return {k: int(v.sum()) for k, v in self._tensors.items()}

    def sizes(self) -> dict[str, int]:
        """Total weights per layer."""
        return {k: v.numel() for k, v in self._tensors.items()}

    def density(self) -> float:
        """Fraction of all prunable weights that remain (the paper's P_m)."""
        return sum(self.counts().values()) / sum(self.sizes().values())

    def layer_densities(self) -> dict[str, float]:
        """Fraction of weights remaining in each layer."""
        return {k: int(v.sum()) / v.numel() for k, v in self._tensors.items()}

    def check_fits(self, model: nn.Module) -> None:
        """Raise ``ValueError`` unless every entry names a parameter of ``model`` of the same shape
        (the parameters a mask covers are the ones it prunes: see :func:`prunable_parameters`)."""
        shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
        ours = {k: tuple(v.shape) for k, v in self._tensors.items()}
        wanted = {k: shapes.get(k) for k in ours}
        if not ours or wanted != ours:
            wrong = sorted(k for k in wanted.keys() | ours.keys() if wanted.get(k) != ours.get(k))
            raise ValueError(f"mask does not fit the model: layers {wrong} have shapes {[ours.get(k) for k in wrong]} "
                             f"in the mask and {[wanted.get(k) for k in wrong]} in the model"
                             + _torch_pruned_hint(model))

    @torch.no_grad()
    def apply(self, model: nn.Module) -> nn.Module:
        """Zero the pruned weights of ``model`` in place."""
        for key, p in self.parameters_of(model).items():
            p.mul_(self._tensors[key].to(p.device))
        return model

    def equal(self, other: Mapping[str, torch.Tensor]) -> bool:
        """Same layers, same kept positions."""
        return set(self) == set(other) and all(
            torch.equal(self[k].cpu(), other[k].cpu()) for k in self
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.cpu() for k, v in self._tensors.items()}

    def save(self, path: str | os.PathLike) -> None:
        """Write the mask atomically (:func:`~lottery_core.atomic_save`)."""
        atomic_save(self.state_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> Mask:
        """Read a mask written by :meth:`save` (:func:`~lottery_core.safe_load`: tensors only, never code)."""
        return cls(safe_load(path, map_location=map_location))


def _torch_pruned_hint(model: nn.Module) -> str:
    names = torch_pruned(model)
    if not names:
        return ""
    return (f". torch.nn.utils.prune has pruned {names} in place (each is now a *_orig parameter times a *_mask "
            "buffer): take its masks with mask = lottery_core.Mask.from_torch_prune(model, remove=True), which "
            "also calls prune.remove, then train with mask=mask")
