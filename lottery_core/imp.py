"""Iterative magnitude pruning (Frankle & Carbin 2019, Section 2, "Identifying winning tickets").

Each round prunes a fraction of the surviving weights with the smallest trained magnitudes,
rewinds the survivors to their initial values θ0 (or to θk, Frankle et al. 2019) and trains them.
Several seeds, and the control networks trained at every density, run together through
:func:`~lottery_core.train_batched`. Records and the run folder live in :mod:`lottery_core.results`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn

from .config import ExperimentConfig
from .controls import CONTROLS, check_controls, control_init
from .data import Dataset, load_dataset
from .history import History
from .masks import Mask, Prunable
from .models import build_model
from .pruning import layer_rates_for, magnitude_prune
from .results import ImpResult, Recipe, Round, RoundRecord, RunFolder, State, fingerprint, metrics
from .rewind import Init, ModelFn, rewind, seeded, snapshot
from .training import OptimizerFn, SchedulerFn, train_batched


class Arm(NamedTuple):
    """One network a round trains: a seed's ticket or one of its controls."""

    seed: int
    name: str  # "ticket" or a control name
    state: State  # its initial weights
    mask: Mask


RoundHook = Callable[[list[RoundRecord]], None]  # the records of a finished round, one per seed


def run_imp(config: ExperimentConfig, *, rounds: int, rewind_iteration: int = 0,
            control: str | Sequence[str] | None = None, checkpoint_dir: str | Path | None = None,
            cache_dir: str | Path | None = None, seeds: Sequence[int] | None = None,
            control_rounds: Iterable[int] | None = None, data: Dataset | None = None,
            device: str | torch.device | None = None, verbose: bool = True, model_fn: ModelFn | None = None,
            prunable: Prunable | None = None, model_name: str | None = None, reinit_init: Init = None,
            optimizer_fn: OptimizerFn | None = None, scheduler_fn: SchedulerFn | None = None,
            on_round: RoundHook | None = None) -> ImpResult:
    """Iterative magnitude pruning (Frankle & Carbin 2019, Section 2) for ``rounds`` pruning rounds
    (``rounds + 1`` trainings).

    Round 0 trains the dense network from θ0 (``build_model(seed=...)``); round r trains the
    ticket θ_start ⊙ m_r, where m_r removes ``config.prune_rate`` of the surviving hidden weights
    (``output_prune_rate`` for the output layer, ``conv_prune_rate`` for convolutions) of the
    network trained in round r-1, and θ_start is θ0, or θk with ``rewind_iteration=k`` (the
    ticket then trains the remaining iterations from k). ``seeds`` (default ``[config.seed]``) run
    as independent trials; each seed fixes θ0 and the data order.

    ``control``: a name or a list of names from ``CONTROLS`` (``"reinit"``, ``"random_prune"``,
    ...), trained beside the ticket at every round in ``control_rounds`` (default: all rounds but
    0, where every control is itself a dense random initialisation and takes the dense run's
    numbers). The first control also fills the ``control_*`` fields of each record.

    ``checkpoint_dir``: write each finished round there and resume after the last one. ``cache_dir``:
    a folder under which every run gets its own checkpoint folder named after a hash of its settings,
    so runs with the same settings (two chapters, or a rerun) share one and train only once.

    Your own network: ``model_fn(seed) -> nn.Module`` replaces the named model (``config.model`` then
    only labels the run; ``model_name`` names it in the run folder), ``prunable(name, parameter)``
    picks the pruned parameters (default: Linear and convolution weights; the last one is the output
    layer), the reinitialising controls draw from ``model_fn`` with a fresh seed unless
    ``reinit_init="glorot"`` (or ``"reset_parameters"``). ``optimizer_fn`` and ``scheduler_fn`` as
    for :func:`~lottery_core.train`. ``on_round(records)`` runs after every finished round, trained
    or read from the run folder, with that round's records (one per seed).
    """
    controls = check_controls(control)
    seeds = _check_settings(config, rounds, rewind_iteration, seeds)
    control_rounds = None if control_rounds is None else sorted({int(r) for r in control_rounds})
    data = _dataset(config, data, device)
    recipe = Recipe(model_fn, prunable, model_name, reinit_init, optimizer_fn, scheduler_fn)
    result = ImpResult(config, seeds, controls, rewind_iteration, recipe=recipe)
    settings = fingerprint(config, seeds, controls, rewind_iteration, control_rounds)
    folder = RunFolder.open(settings | recipe.describe(_network(result, data, seeds[0]), config.optimizer, config.lr),
                            checkpoint_dir=checkpoint_dir, cache_dir=cache_dir)
    _run_rounds(result, rounds, data, folder, controls, control_rounds, verbose, on_round)
    return result


def _run_rounds(result: ImpResult, rounds: int, data: Dataset, folder: RunFolder | None, controls: Sequence[str],
                control_rounds: Sequence[int] | None, verbose: bool, on_round: RoundHook | None) -> None:
    """Rounds 0 to ``rounds``: those found in ``folder`` are read, up to the first one missing; the rest trained."""
    resumed = True
    for r in range(rounds + 1):
        started = time.perf_counter()
        done = folder.load(r) if folder is not None and resumed else None
        resumed = done is not None
        if done is None:
            with_controls = r > 0 and (control_rounds is None or r in control_rounds)
            done = imp_round(result, r, data, controls if with_controls else [])
            if folder is not None:
                folder.save(done)
        result.add(done)
        if verbose:
            _print_round(result, r, None if resumed else time.perf_counter() - started)
        if on_round is not None:
            on_round([record for record in result.rounds if record.round == r])


def imp_round(result: ImpResult, r: int, data: Dataset, controls: Sequence[str]) -> Round:
    """Round ``r`` of the paper's recipe for every seed: prune the weights trained in round r-1,
    rewind the survivors, train them, and ``controls`` beside them. Round 0 trains the dense
    network (no controls: they start from the rewind point, which round 0 records)."""
    k = result.rewind_iteration
    masks = {s: prune(result, r, s, data) for s in result.seeds}
    arms = [Arm(s, "ticket", rewound(result, r, s, masks[s], data), masks[s]) for s in result.seeds]
    arms += control_arms(result, r, masks, controls, data)
    models, histories = train_arms(result, data, arms, 0 if r == 0 else k, (0, k) if r == 0 else ())
    trained = {a.seed: _cpu(m.state_dict()) for a, m in zip(arms, models) if a.name == "ticket"}
    done = Round(r, masks, trained, {(a.seed, a.name): h for a, h in zip(arms, histories)})
    if r == 0:  # θ0 and the rewind point θk of every seed
        done.initial = {s: _cpu(done.histories[(s, "ticket")].snapshots[0]) for s in result.seeds}
        done.start = {s: _cpu(done.histories[(s, "ticket")].snapshots[k]) for s in result.seeds}
    for h in histories:  # kept as ``initial`` and ``start``; a round read from its file has none either
        h.snapshots.clear()
    return done


def prune(result: ImpResult, r: int, seed: int, data: Dataset) -> Mask:
    """m_r: the mask of round r-1 less the smallest weights trained in round r-1 (round 0: dense)."""
    config, prunable = result.config, result.recipe.prunable
    model = _network(result, data, seed)
    if r == 0:
        return Mask.ones_like(model, prunable)
    model.load_state_dict(result.trained_state(r - 1, seed))
    rates = None
    if config.scope == "layerwise":
        rates = layer_rates_for(model, config.prune_rate, config.output_prune_rate, config.conv_prune_rate,
                                prunable=prunable)
    return magnitude_prune(model, result.mask(r - 1, seed), config.prune_rate, layer_rates=rates, scope=config.scope)


def rewound(result: ImpResult, r: int, seed: int, mask: Mask, data: Dataset) -> State:
    """The ticket's initial weights: θ0 in round 0, then the rewind point (θ0 or θk) under ``mask``."""
    model = _network(result, data, seed)
    if r > 0:
        rewind(model, result.rewind_state(seed), mask)
    return snapshot(model)


def control_arms(result: ImpResult, r: int, masks: dict[int, Mask], names: Sequence[str], data: Dataset) -> list[Arm]:
    """Every control in ``names`` for every seed's ticket mask at round ``r``."""
    arms = []
    for name in names:
        c = list(CONTROLS).index(name)
        for s in result.seeds:
            seed = 1_000_003 * (c + 1) + 1009 * r + s  # distinct and reproducible for every control draw
            state, mask = control_init(name, _network(result, data, s), result.rewind_state(s), masks[s],
                                       seed=seed, init=result.recipe.reinit_draw())
            arms.append(Arm(s, name, state, mask))
    return arms


def train_arms(result: ImpResult, data: Dataset, arms: Sequence[Arm], start: int,
               snapshot_at: Iterable[int] = ()) -> tuple[list[nn.Module], list[History]]:
    """Train every arm together from iteration ``start`` to the end; returns (models, histories)."""
    config, recipe = result.config, result.recipe
    models = [_network(result, data, a.seed, a.state) for a in arms]
    histories = train_batched(
        models, data, masks=[a.mask for a in arms], seeds=[a.seed for a in arms],
        iterations=config.iterations - start, batch_size=config.batch_size, lr=config.lr,
        optimizer=config.optimizer, eval_every=config.eval_every, snapshot_at=snapshot_at,
        progress=False, start_iteration=start, optimizer_fn=recipe.optimizer_fn, scheduler_fn=recipe.scheduler_fn,
    )
    return models, histories


def train_controls(result: ImpResult, controls: str | Sequence[str], *, rounds: Iterable[int],
                   data: Dataset | None = None, device: str | torch.device | None = None,
                   verbose: bool = True) -> pd.DataFrame:
    """Train control networks for the tickets of a finished IMP run, without retraining the tickets.

    For every round in ``rounds`` and every seed of ``result``, each control in ``controls`` (names
    from ``CONTROLS``) starts from its own initialisation under the ticket's mask and trains with
    the ticket's schedule and data order. The learning curves are added to ``result.histories``.
    Returns tidy data (``seed, round, density, arm`` and the metrics), the tickets' rows included.
    """
    names = check_controls(controls)
    rounds = sorted({int(r) for r in rounds})
    missing = [r for r in rounds if r < 1 or r >= result.num_rounds]
    if missing:
        raise ValueError(f"rounds {missing} are not pruned rounds of this run (1 to {result.num_rounds - 1})")
    data = _dataset(result.config, data, device)
    started = time.perf_counter()
    # every arm of every round starts at the same iteration: one batched run trains them all
    arms = [(r, arm) for r in rounds
            for arm in control_arms(result, r, {s: result.mask(r, s) for s in result.seeds}, names, data)]
    _, histories = train_arms(result, data, [arm for _, arm in arms], result.rewind_iteration)
    records = []
    for (r, arm), h in zip(arms, histories):
        result.histories[(r, arm.seed, arm.name)] = h
        density = result.mask(r, arm.seed).density()
        records.append({"seed": arm.seed, "round": r, "density": density, "arm": arm.name, **metrics(h)})
    frame = pd.DataFrame(records)
    if verbose:
        print(f"trained {len(arms)} control networks together in {time.perf_counter() - started:.1f} s")
        for r, part in frame.groupby("round", sort=True):
            print(_round_line(part, r), flush=True)
    long = result.to_long_frame()
    return pd.concat([long[long["round"].isin(rounds) & (long["arm"] == "ticket")], frame], ignore_index=True)


def _check_settings(config: ExperimentConfig, rounds: int, rewind_iteration: int,
                    seeds: Sequence[int] | None) -> list[int]:
    if rounds < 0:
        raise ValueError(f"rounds must be at least 0, got {rounds}")
    if not 0 <= rewind_iteration < config.iterations:
        raise ValueError(f"rewind_iteration must be in [0, {config.iterations}), got {rewind_iteration}")
    seeds = [config.seed] if seeds is None else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    return seeds


def _dataset(config: ExperimentConfig, data: Dataset | None, device: str | torch.device | None) -> Dataset:
    if data is None:
        return load_dataset(config.dataset, seed=config.data_seed, device=device, num_samples=config.num_samples)
    if data.name != config.dataset:
        raise ValueError(f"data is {data.name!r} but the config names {config.dataset!r}")
    return data


def _network(result: ImpResult, data: Dataset, seed: int, state: State | None = None) -> nn.Module:
    """The run's network for ``data`` (``model_fn``, else the config's named model), drawn from
    ``seed`` (then loaded with ``state`` when given)."""
    model_fn = result.recipe.model_fn
    if model_fn is not None:
        model = seeded(model_fn, seed)
    else:
        model = build_model(result.config.model, data.input_shape, data.num_classes, seed=seed)
    if state is not None:
        model.load_state_dict(state)
    return model


def _cpu(state: State) -> State:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _round_line(frame: pd.DataFrame, r: int) -> str:
    """Round, density and each arm's mean early-stopping test accuracy, from tidy rows of round ``r``."""
    means = frame.groupby("arm", sort=False)["early_stop_test_acc"].mean()
    return " | ".join([f"round {r:2d}", f"{frame['density'].iloc[0]:7.2%} of weights",
                       *(f"{arm} test acc {acc:.2%}" for arm, acc in means.items())])


def _print_round(result: ImpResult, r: int, seconds: float | None) -> None:
    frame = result.to_long_frame().query(f"round == {r}")
    frame = frame[frame["arm"] == "ticket"] if r == 0 else frame  # round 0's controls are the dense run
    stop = frame.loc[frame["arm"] == "ticket", "early_stop_iteration"].mean()
    line = _round_line(frame, r) + f" | ticket early stop {stop:.0f}"
    line += f" | mean of {len(result.seeds)} seeds" if len(result.seeds) > 1 else ""
    print(line + (" | resumed from checkpoint" if seconds is None else f" | {seconds:.1f} s"), flush=True)
