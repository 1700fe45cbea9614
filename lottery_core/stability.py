"""Instability analysis: linear mode connectivity (Frankle, Dziugaite, Roy & Carbin, ICML 2020,
"Linear Mode Connectivity and the Lottery Ticket Hypothesis").

Two copies of a network train from the same weights θk under the same mask with different SGD noise
(two minibatch orders; each with a fresh optimiser, as a rewound ticket), and the networks on the
straight line θ(α) = (1 − α) θ_A + α θ_B between the results are evaluated (11 points here; the paper
uses a finer grid). The *error barrier* (the paper's "linear interpolation instability") is the largest
error on the path minus the mean of the ends' errors; the paper calls a barrier under 2% stable. The
copies of many starts and seeds train side by side in one :func:`~lottery_core.train_batched` call.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call

from .config import ExperimentConfig
from .data import Dataset, load_dataset
from .history import loss_and_accuracy
from .masks import Mask
from .models import build_model
from .rewind import rewind, snapshot
from .training import train_batched

State = Mapping[str, torch.Tensor]
DEFAULT_POINTS = 11  # α = 0, 0.1, ..., 1
STABLE_THRESHOLD = 0.02  # Frankle et al. (2020) call a network stable when its error barrier is under 2%
DEFAULT_REWIND_ITERATIONS = (0, 25, 100, 300, 1000)


def interpolation_alphas(points: int = DEFAULT_POINTS) -> list[float]:
    """``points`` evenly spaced values of α from 0 to 1, both ends included (11: 0, 0.1, ..., 1)."""
    if not isinstance(points, int) or isinstance(points, bool) or points < 2:
        raise ValueError(f"a path needs at least 2 points (its two ends), got {points!r}")
    return [i / (points - 1) for i in range(points)]


def check_same_layout(state_a: State, state_b: State) -> None:
    """Raise ``ValueError`` unless the two states have the same keys, shapes and dtypes."""
    if set(state_a) != set(state_b):
        raise ValueError(f"the states do not match: only in the first {sorted(set(state_a) - set(state_b))}, "
                         f"only in the second {sorted(set(state_b) - set(state_a))}")
    for key, (a, b) in ((k, (v, state_b[k])) for k, v in state_a.items()):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"{key!r} differs: {tuple(a.shape)} {a.dtype} against {tuple(b.shape)} {b.dtype}")


def _mix(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    if not a.is_floating_point():  # an integer buffer (BatchNorm's num_batches_tracked) is a count: the nearer end
        return (a if alpha < 0.5 else b).detach().clone()
    return (1 - alpha) * a.detach() + alpha * b.detach().to(a.device)


def interpolate(state_a: State, state_b: State, alpha: float) -> dict[str, torch.Tensor]:
    """The state (1 − α)·``state_a`` + α·``state_b``: ``state_a`` at α = 0 and ``state_b`` at α = 1 exactly.

    Every floating tensor is interpolated, buffers included: BatchNorm's running mean and variance
    are mixed like the weights (the statistics are not recomputed for the mixed network). Integer
    buffers take the nearer end's value. A weight that is zero in both states (pruned by a shared
    mask) is zero at every α, so the path between two networks with one mask keeps that mask.
    """
    alpha = float(alpha)
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    check_same_layout(state_a, state_b)
    return {key: _mix(a, state_b[key], alpha) for key, a in state_a.items()}


def error_barrier(errors: Sequence[float]) -> float:
    """The paper's error barrier of a path from one end (first) to the other (last):
    max(errors) − (errors[0] + errors[-1]) / 2; the maximum includes the ends, so it is never negative."""
    values = [float(e) for e in errors]
    if len(values) < 2:
        raise ValueError(f"a path needs at least 2 errors (its two ends), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"errors must be finite, got {values}")
    return max(values) - (values[0] + values[-1]) / 2


@dataclass(frozen=True)
class Instability:
    """The straight path between two trained copies: α, and the error and loss at each point."""

    alphas: tuple[float, ...]
    errors: tuple[float, ...]
    losses: tuple[float, ...]
    split: str = "test"

    @property
    def barrier(self) -> float:
        """The error barrier (Frankle et al. 2020): max error on the path − mean of the ends' errors."""
        return error_barrier(self.errors)

    @property
    def loss_barrier(self) -> float:
        """The same definition applied to the cross-entropy loss."""
        return error_barrier(self.losses)

    @property
    def end_accuracies(self) -> tuple[float, float]:
        """Accuracy of the two trained copies (α = 0 and α = 1)."""
        return 1.0 - self.errors[0], 1.0 - self.errors[-1]

    def stable(self, threshold: float = STABLE_THRESHOLD) -> bool:
        """Whether the barrier is below ``threshold`` (the paper's 2% by default)."""
        return self.barrier < threshold


@torch.no_grad()
def linear_path(model: nn.Module, state_a: State, state_b: State, data: Dataset, *,
                points: int = DEFAULT_POINTS, split: str = "test") -> Instability:
    """Evaluate the networks on the straight line from ``state_a`` to ``state_b`` (``points`` values of
    α) on one split of ``data``, in evaluation mode; ``model`` only gives the architecture and is not
    changed. Loss and accuracy are the library's (:func:`~lottery_core.loss_and_accuracy`)."""
    alphas = interpolation_alphas(points)
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits: train, val, test")
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    check_same_layout(model.state_dict(), state_a)
    was_training = model.training
    model.eval()
    errors, losses = [], []
    try:
        for alpha in alphas:
            state = {k: v.to(x.device) for k, v in interpolate(state_a, state_b, alpha).items()}
            loss, acc = loss_and_accuracy(functional_call(model, state, (x,)), y)
            errors.append(1.0 - acc.item())
            losses.append(loss.item())
    finally:
        model.train(was_training)
    return Instability(tuple(alphas), tuple(errors), tuple(losses), split)


def train_copies(model: nn.Module, starts: Sequence[State], masks: Sequence[Mask | None], data: Dataset, *,
                 data_seeds: Sequence[tuple[int, int]], iterations: int, batch_size: int, lr: float,
                 optimizer: str = "adam", start_iteration: int = 0) -> list[tuple[State, State]]:
    """Two copies of every start (``starts[i]`` under ``masks[i]``), the copies' data orders drawn from
    the two seeds of ``data_seeds[i]``; all 2·len(starts) networks train in one batched run.

    Returns the trained (state_a, state_b) of every start. ``start_iteration`` numbers the run from
    k (rewinding to θk); the copies train ``iterations`` steps from there.
    """
    if not (len(starts) == len(masks) == len(data_seeds)) or not starts:
        raise ValueError(f"need one mask and one seed pair per start, got {len(starts)} starts, "
                         f"{len(masks)} masks, {len(data_seeds)} seed pairs")
    if any(len(pair) != 2 for pair in data_seeds):
        raise ValueError(f"every entry of data_seeds must be a pair of seeds, got {list(data_seeds)}")
    copies, copy_masks = [], []
    for start, mask in zip(starts, masks):
        check_same_layout(model.state_dict(), start)
        for _ in range(2):
            copies.append(rewind(copy.deepcopy(model), start, mask))
            copy_masks.append(mask)
    train_batched(copies, data, masks=copy_masks, seeds=[int(s) for pair in data_seeds for s in pair],
                  iterations=iterations, batch_size=batch_size, lr=lr, optimizer=optimizer,
                  eval_every=iterations, progress=False, start_iteration=start_iteration)
    states = [snapshot(m) for m in copies]
    return list(zip(states[0::2], states[1::2]))


def instability(model: nn.Module, start_state: State, mask: Mask | None, data: Dataset, *, iterations: int,
                batch_size: int, lr: float, optimizer: str = "adam", data_seeds: tuple[int, int] = (1, 2),
                start_iteration: int = 0, points: int = DEFAULT_POINTS, split: str = "test") -> Instability:
    """Instability analysis of one start (Frankle, Dziugaite, Roy & Carbin 2020).

    Two copies of ``start_state`` (θk ⊙ ``mask``) train ``iterations`` steps with the minibatch orders of
    the two ``data_seeds``; returns the path between them (``points`` values of α, on ``split``) with its
    ``barrier``. Equal seeds give identical networks and a zero barrier. ``model`` gives the architecture."""
    [(state_a, state_b)] = train_copies(model, [start_state], [mask], data, data_seeds=[data_seeds],
                                        iterations=iterations, batch_size=batch_size, lr=lr,
                                        optimizer=optimizer, start_iteration=start_iteration)
    return linear_path(model, state_a, state_b, data, points=points, split=split)


def copy_seeds(seed: int) -> tuple[int, int]:
    """The two data-order seeds of the copies trained for ``seed``: distinct from each other, from
    every other seed's pair and from the small seeds that draw θ0 and the dense run's order."""
    return 10_007 * (seed + 1), 10_007 * (seed + 1) + 1


def rewind_points(config: ExperimentConfig, data: Dataset, seeds: Sequence[int],
                  iterations: Sequence[int]) -> dict[int, dict[int, State]]:
    """seed → {k: θk}: the dense network drawn from ``seed`` (``build_model``) and trained with that
    seed's data order, as :func:`~lottery_core.run_imp` trains round 0, snapshotted at every k."""
    ks = sorted({int(k) for k in iterations})
    if not ks or ks[0] < 0 or ks[-1] >= config.iterations:
        raise ValueError(f"rewind iterations must lie in [0, {config.iterations}), got {list(iterations)}")
    models = [build_model(config.model, data.input_shape, data.num_classes, seed=s) for s in seeds]
    if ks[-1] == 0:
        return {s: {0: snapshot(m)} for s, m in zip(seeds, models)}
    histories = train_batched(models, data, seeds=list(seeds), iterations=ks[-1], batch_size=config.batch_size,
                              lr=config.lr, optimizer=config.optimizer, eval_every=ks[-1], snapshot_at=ks,
                              progress=False)
    return {s: dict(h.snapshots) for s, h in zip(seeds, histories)}


def instability_curve(config: ExperimentConfig, *, rewind_iterations: Sequence[int] = DEFAULT_REWIND_ITERATIONS,
                      seeds: Sequence[int] = (0, 1, 2), masks: Mapping | None = None, data: Dataset | None = None,
                      points: int = DEFAULT_POINTS, split: str = "test") -> pd.DataFrame:
    """The error barrier against the rewind iteration k, for the dense network or a mask (Frankle et al. 2020).

    θk is each seed's dense network after k iterations (:func:`rewind_points`); two copies of θk ⊙ mask
    train the remaining iterations with the data orders of :func:`copy_seeds`, one batched run per k.
    ``masks`` (None: dense) maps each seed, or (seed, k), to its mask, e.g. ``{s: result.mask(r, s) for s in
    seeds}``. One row per (seed, k): ``seed, k, density, barrier, loss_barrier, acc_a, acc_b, max_error``."""
    data = data if data is not None else load_dataset(config.dataset, seed=config.data_seed,
                                                      num_samples=config.num_samples)
    seeds = [int(s) for s in seeds]
    starts = rewind_points(config, data, seeds, rewind_iterations)
    model = build_model(config.model, data.input_shape, data.num_classes, seed=seeds[0])
    rows = []
    for k in sorted({int(k) for k in rewind_iterations}):
        seed_masks = [None if masks is None else masks[(s, k)] if (s, k) in masks else masks[s] for s in seeds]
        pairs = train_copies(model, [starts[s][k] for s in seeds], seed_masks, data,
                             data_seeds=[copy_seeds(s) for s in seeds], iterations=config.iterations - k,
                             batch_size=config.batch_size, lr=config.lr, optimizer=config.optimizer,
                             start_iteration=k)
        for s, mask, (a, b) in zip(seeds, seed_masks, pairs):
            path = linear_path(model, a, b, data, points=points, split=split)
            acc_a, acc_b = path.end_accuracies
            rows.append({"seed": s, "k": k, "density": 1.0 if mask is None else mask.density(),
                         "barrier": path.barrier, "loss_barrier": path.loss_barrier,
                         "acc_a": acc_a, "acc_b": acc_b, "max_error": max(path.errors)})
    return pd.DataFrame(rows)
