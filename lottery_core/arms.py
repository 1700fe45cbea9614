"""Networks trained side by side under an IMP run's masks: the run's own rounds, and named starts
trained afterwards (:mod:`lottery_core.starts`), all through one batched call of
:func:`~lottery_core.train_batched` with the run's schedule and each seed's data order."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from torch import nn

from .data import Dataset
from .history import History
from .masks import Mask
from .results import ImpResult, State, metrics
from .scale import rms_trajectory
from .starts import arm_init, check_arms
from .training import train_batched


class Arm(NamedTuple):
    """One network to train: a seed's ticket or one of its named starts."""

    seed: int
    name: str  # "ticket" or a start name
    state: State  # its initial weights
    mask: Mask


def train_together(result: ImpResult, data: Dataset, arms: Sequence[Arm], start: int, *,
                   snapshot_at: Iterable[int] = (),
                   progress: bool | str = False) -> tuple[list[nn.Module], list[History]]:
    """Train every arm from iteration ``start`` to the run's last one in one batched call, with the run's
    schedule (and its ``optimizer_fn``, ``scheduler_fn``) and each seed's data order; returns (models, histories)."""
    config, recipe = result.config, result.recipe
    models = [result.network(data, a.seed, a.state) for a in arms]
    histories = train_batched(
        models, data, masks=[a.mask for a in arms], seeds=[a.seed for a in arms],
        iterations=config.iterations - start, batch_size=config.batch_size, lr=config.lr,
        optimizer=config.optimizer, eval_every=config.eval_every, snapshot_at=snapshot_at,
        progress=progress, start_iteration=start, optimizer_fn=recipe.optimizer_fn, scheduler_fn=recipe.scheduler_fn,
    )
    return models, histories


def arm_seed(name: str, seed: int, round: int) -> int:
    """A reproducible seed for a start's random draw after the run, distinct across starts, seeds and rounds."""
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


def train_arms(result: ImpResult, rounds: Iterable[int], arms: Sequence[str], *, data: Dataset,
               start_iteration: int | None = None, snapshot_at: Iterable[int] = (), progress: bool | str = False,
               verbose: bool = True) -> ArmRun:
    """Train every named start in ``arms`` (:mod:`lottery_core.starts`) at every round in ``rounds`` for
    every seed of the IMP run ``result``, in one batched call, each under the ticket's mask with the
    seed's data order and the run's schedule, on the run's own network (``model_fn`` included).

    Starts derive from the run's rewind point (θ0, or θk with ``rewind_iteration=k``). Training starts
    at ``start_iteration`` (default: the run's rewind iteration) and lasts until the run's last
    iteration: ``start_iteration=0`` gives a control the ticket's whole budget (Frankle et al. 2019
    rewind a ticket to θk after k dense iterations). ``snapshot_at`` iterations are kept per network.
    """
    check_arms(arms)
    rounds = sorted({int(r) for r in rounds})
    bad = [r for r in rounds if not 0 <= r < result.num_rounds]
    if bad:
        raise ValueError(f"rounds {bad} are not rounds of this run (0 to {result.num_rounds - 1})")
    jobs = []
    for r in rounds:
        for s in result.seeds:
            for name in arms:
                state, mask = arm_init(name, result.network(data, s), result.rewind_state(s), result.mask(r, s),
                                       seed=arm_seed(name, s, r), init=result.recipe.reinit_draw())
                jobs.append((r, Arm(s, name, state, mask)))
    started = time.perf_counter()
    start = result.rewind_iteration if start_iteration is None else int(start_iteration)
    _, histories = train_together(result, data, [a for _, a in jobs], start, snapshot_at=snapshot_at,
                                  progress=progress)
    run = ArmRun(pd.DataFrame([{"round": r, "seed": a.seed, "arm": a.name, "density": a.mask.density(), **metrics(h)}
                               for (r, a), h in zip(jobs, histories)]), seconds=time.perf_counter() - started)
    for (r, a), h in zip(jobs, histories):
        run.masks[(r, a.seed)] = a.mask
        run.snapshots[(r, a.seed, a.name)] = {i: {k: v.detach().cpu() for k, v in snap.items()}
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
