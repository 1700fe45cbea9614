"""The ticket's initial weights changed one property at a time, and every such arm trained side by side.

A review of Frankle & Carbin (2019) reads their Appendix F.5 (ticket weights move further) through
Glorot's rule: a subnetwork keeping a fraction d of a layer's weights "should" start with weights
1/sqrt(d) larger, so the ticket's weights, drawn at the dense scale, have ways to go. It proposes, as
future work, to make the subnetwork's initial weights that much larger. The arms below test this
under the ticket's own mask and data order:

- ``ticket``: θ0 itself (the winning ticket);
- ``ticket_scaled_<alpha>``: θ0 of every layer times (1/sqrt(d))**alpha, d the layer's density
  (``ticket_scaled_1`` is the review's proposal, ``ticket_scaled_0.5`` half of it in log terms);
- ``ticket_random_signs``: |θ0| with a fresh random sign for every kept weight;
- ``ticket_shuffled``: the layer's kept θ0 values put back at random kept positions, a draw from the
  ticket's own initial distribution as in Appendix F.3 (without replacement);
- every name of :data:`~lottery_core.CONTROLS` (``reinit``, ``reinit_layer_scaled``, ...).

:func:`train_arms` trains every (round, seed, arm) of a finished IMP run in one batched call.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from .config import ExperimentConfig
from .controls import CONTROLS, control_init
from .data import Dataset
from .history import History
from .masks import Mask
from .models import build_model
from .scale import rms_trajectory
from .training import train_batched

State = dict[str, torch.Tensor]
SCALED_PREFIX = "ticket_scaled_"
TICKET_ARMS = ("ticket", "ticket_random_signs", "ticket_shuffled")
ARM_LABELS = {  # every named start: the ticket, its variants and the controls of lottery_core.controls
    "ticket": "winning ticket (rewound to θ0)",
    "ticket_random_signs": "ticket |θ0|, random signs",
    "ticket_shuffled": "ticket θ0 values, shuffled positions",
    "reinit": "random reinitialisation",
    "random_prune": "random pruning",
    "reinit_layer_scaled": "reinit × 1/√d per layer",
    "reinit_neuron_scaled": "reinit, per-neuron sparse Glorot",
    "sign_constant": "ticket signs, constant magnitude",
    "sign_shuffle": "ticket signs, shuffled magnitudes",
    "one_shot": "one-shot pruning (rewound to θ0)",  # the pruning methods that one-shot runs compare
    "magnitude": "magnitude pruning",
    "random": "random pruning",
    "global": "global magnitude pruning",
}


def scaled_arm(alpha: float) -> str:
    """The arm name of the ticket scaled by (1/sqrt(d))**alpha, e.g. ``ticket_scaled_0.5``."""
    return f"{SCALED_PREFIX}{alpha:g}"


def arm_alpha(name: str) -> float | None:
    """The exponent alpha of a ``ticket_scaled_<alpha>`` arm (0 for ``ticket``), else None."""
    if name == "ticket":
        return 0.0
    if name.startswith(SCALED_PREFIX):
        return float(name[len(SCALED_PREFIX):])
    return None


def arm_label(name: str) -> str:
    """A figure and table label for an arm."""
    alpha = arm_alpha(name)
    if alpha is not None and name != "ticket":
        power = {0.5: "½", 1.0: ""}.get(alpha, f"^{alpha:g}")
        return f"ticket × (1/√d){power}" if power else "ticket × 1/√d"
    return ARM_LABELS.get(name, name)


def check_arm(name: str) -> None:
    """Raise ``ValueError`` for a name that is no arm."""
    if name in TICKET_ARMS or name in CONTROLS:
        return
    alpha = None
    try:
        alpha = arm_alpha(name)
    except ValueError:
        pass
    if alpha is None or not math.isfinite(alpha):
        valid = ", ".join([*TICKET_ARMS, f"{SCALED_PREFIX}<alpha>", *CONTROLS])
        raise ValueError(f"unknown arm {name!r}; valid arms: {valid}")


def scaled_ticket(start: Mapping[str, torch.Tensor], mask: Mask, alpha: float) -> State:
    """θ0 with every masked layer multiplied by (1/sqrt(d))**alpha, d its density; pruned weights zero."""
    state = {k: v.clone() for k, v in start.items()}
    for key, density in mask.layer_densities().items():
        factor = density ** (-alpha / 2) if density > 0 else 0.0
        state[key] = state[key] * factor * mask[key].to(state[key].device)
    return state


def random_signs(start: Mapping[str, torch.Tensor], mask: Mask, seed: int) -> State:
    """|θ0| of the kept weights, each with a fair random sign (the magnitudes without the signs)."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in start.items()}
    for key, keep in mask.items():
        w = state[key]
        signs = torch.randint(0, 2, w.shape, generator=gen).to(w) * 2 - 1
        state[key] = w.abs() * signs * keep.to(w.device)
    return state


def shuffled_positions(start: Mapping[str, torch.Tensor], mask: Mask, seed: int) -> State:
    """Each layer's kept θ0 values, signs included, permuted among the kept positions (Appendix F.3)."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in start.items()}
    for key, keep in mask.items():
        w, keep = state[key], keep.to(state[key].device)
        kept = w[keep]
        out = torch.zeros_like(w)
        out[keep] = kept[torch.randperm(kept.numel(), generator=gen).to(w.device)]
        state[key] = out
    return state


def arm_init(name: str, model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, *,
             seed: int) -> tuple[State, Mask]:
    """Initial state and mask of arm ``name`` for a ticket starting from ``start`` under ``mask``.
    ``model`` is scratch space for the controls (overwritten)."""
    check_arm(name)
    if name in CONTROLS:
        return control_init(name, model, start, mask, seed=seed)
    if name == "ticket_random_signs":
        return random_signs(start, mask, seed), mask
    if name == "ticket_shuffled":
        return shuffled_positions(start, mask, seed), mask
    return scaled_ticket(start, mask, arm_alpha(name)), mask


def arm_seed(name: str, seed: int, round: int) -> int:
    """A reproducible seed for arm ``name``'s random draw, distinct across arms, seeds and rounds."""
    return zlib.crc32(f"{name}/{seed}/{round}".encode()) % 2**31


@dataclass
class ArmRun:
    """Arms trained under the tickets' masks: ``frame`` holds one row per (round, seed, arm) with the
    density and the evaluation metrics; ``snapshots[(round, seed, arm)]`` maps iteration -> state;
    ``masks[(round, seed)]`` is the ticket's mask."""

    frame: pd.DataFrame
    masks: dict[tuple[int, int], Mask] = field(default_factory=dict)
    snapshots: dict[tuple[int, int, str], dict[int, State]] = field(default_factory=dict)
    seconds: float = 0.0

    def rms_frame(self) -> pd.DataFrame:
        """:func:`~lottery_core.rms_trajectory` of every network with snapshots, one row per
        round, seed, arm, layer and snapshot iteration."""
        frames = [rms_trajectory(snaps, self.masks[(r, s)]).assign(round=r, seed=s, arm=arm)
                  for (r, s, arm), snaps in self.snapshots.items() if snaps]
        return pd.concat(frames, ignore_index=True)


def snapshot_schedule(iterations: int, points: int = 5) -> list[int]:
    """Iterations at which to keep weights: 0, then ``points - 1`` roughly geometric steps up to ``iterations``."""
    steps = np.geomspace(max(iterations / 30, 1), iterations, points - 1).round().astype(int)
    return sorted({0, *map(int, steps)})


def _metrics(history) -> dict[str, float]:
    return {"early_stop_test_acc": history.early_stop_test_acc, "early_stop_val_acc": history.early_stop_val_acc,
            "early_stop_iteration": history.early_stop_iteration, "final_test_acc": history.final_test_acc}


def train_configured(models: Sequence[nn.Module], data: Dataset, config: ExperimentConfig, *,
                     masks: Sequence[Mask | None], seeds: Sequence[int], start_iteration: int = 0,
                     **options) -> list[History]:
    """:func:`~lottery_core.train_batched` on ``config``'s schedule (batch size, learning rate, optimizer,
    evaluations), from ``start_iteration`` to ``config.iterations``; ``options`` go to ``train_batched``."""
    return train_batched(models, data, masks=masks, seeds=seeds, iterations=config.iterations - start_iteration,
                         batch_size=config.batch_size, lr=config.lr, optimizer=config.optimizer,
                         eval_every=config.eval_every, start_iteration=start_iteration, **options)


def train_arms(result, rounds: Iterable[int], arms: Sequence[str], *, data, start_iteration: int | None = None,
               snapshot_at: Iterable[int] = (), progress: bool | str = False, verbose: bool = True) -> ArmRun:
    """Train every arm in ``arms`` at every round in ``rounds`` for every seed of the IMP run ``result``,
    in one :func:`~lottery_core.train_batched` call, each under the ticket's mask with the seed's data
    order and the run's schedule.

    Ticket arms start from the run's rewind point (θ0, or θk with ``rewind_iteration=k``). Training
    starts at ``start_iteration`` (default: the run's rewind iteration) and lasts until the run's last
    iteration: ``start_iteration=0`` gives a control the ticket's whole budget (Frankle et al. 2019
    rewind a ticket to θk after k dense iterations). ``snapshot_at`` iterations are kept per network.
    """
    for name in arms:
        check_arm(name)
    config, rounds = result.config, sorted({int(r) for r in rounds})
    start = result.rewind_iteration if start_iteration is None else int(start_iteration)
    jobs, models, masks = [], [], []
    for r in rounds:
        for s in result.seeds:
            for name in arms:
                model = build_model(config.model, data.input_shape, data.num_classes, seed=s)
                state, mask = arm_init(name, model, result.rewind_state(s), result.mask(r, s),
                                       seed=arm_seed(name, s, r))
                model.load_state_dict(state)
                jobs.append((r, s, name))
                models.append(model)
                masks.append(mask)
    started = time.perf_counter()
    histories = train_configured(models, data, config, masks=masks, seeds=[s for _, s, _ in jobs],
                                 start_iteration=start, snapshot_at=snapshot_at, progress=progress)
    run = ArmRun(pd.DataFrame([
        {"round": r, "seed": s, "arm": name, "density": m.density(), **_metrics(h)}
        for (r, s, name), m, h in zip(jobs, masks, histories)
    ]), seconds=time.perf_counter() - started)
    for (r, s, name), m, h in zip(jobs, masks, histories):
        run.masks[(r, s)] = m
        run.snapshots[(r, s, name)] = {i: {k: v.detach().cpu() for k, v in snap.items()}
                                       for i, snap in h.snapshots.items()}
    if verbose:
        print(arm_summary(run), flush=True)
    return run


def arm_summary(run: ArmRun) -> str:
    """One text block: how many networks trained, and each arm's mean test accuracy per round."""
    frame = run.frame
    lines = [f"trained {len(frame)} networks together in {run.seconds:.0f} s "
             f"({frame['seed'].nunique()} seeds x {frame['arm'].nunique()} arms x {frame['round'].nunique()} rounds)"]
    for r, part in frame.groupby("round", sort=True):
        means = part.groupby("arm", sort=False)["early_stop_test_acc"].mean()
        lines.append(f"round {r:2d} | {part['density'].mean():6.2%} of weights | "
                     + " | ".join(f"{a} {v:.2%}" for a, v in means.items()))
    return "\n".join(lines)
