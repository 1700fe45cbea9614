"""Masks: which weights of a network survive pruning (Frankle & Carbin 2019, Section 2).

A mask holds one boolean tensor per prunable weight: the weights of ``nn.Linear`` and ``nn.Conv2d``
layers. Biases and normalisation layers are never pruned.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import torch
from torch import nn

from .checkpoint import atomic_save, safe_load

PRUNABLE_TYPES = (nn.Linear, nn.Conv2d)


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Parameter name -> weight of every Linear and Conv2d layer, in model order."""
    return {
        f"{name}.weight" if name else "weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES)
    }


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
    def ones_like(cls, model: nn.Module) -> Mask:
        """The dense mask: every prunable weight kept."""
        return cls({k: torch.ones_like(p, dtype=torch.bool) for k, p in prunable_parameters(model).items()})

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
        """Raise ``ValueError`` unless the mask has exactly one entry of the right shape per prunable weight."""
        shapes = {k: tuple(p.shape) for k, p in prunable_parameters(model).items()}
        ours = {k: tuple(v.shape) for k, v in self._tensors.items()}
        if shapes != ours:
            wrong = sorted(k for k in shapes.keys() | ours.keys() if shapes.get(k) != ours.get(k))
            raise ValueError(f"mask does not fit the model: layers {wrong} have shapes {[ours.get(k) for k in wrong]} "
                             f"in the mask and {[shapes.get(k) for k in wrong]} in the model")

    @torch.no_grad()
    def apply(self, model: nn.Module) -> nn.Module:
        """Zero the pruned weights of ``model`` in place."""
        self.check_fits(model)
        for key, p in prunable_parameters(model).items():
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
