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

import pandas as pd
import torch

from .arms import Arm, train_together
from .config import ExperimentConfig
from .data import Dataset, load_dataset
from .masks import Mask, Prunable
from .pruning import layer_rates_for, magnitude_prune
from .results import ImpResult, Recipe, Round, RoundRecord, RunFolder, State, fingerprint
from .rewind import Init, ModelFn, rewind, snapshot
from .starts import CONTROLS, arm_init, check_arms
from .training import OptimizerFn, SchedulerFn

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
    controls = check_arms(control, controls_only=True)
    seeds = _check_settings(config, rounds, rewind_iteration, seeds)
    control_rounds = None if control_rounds is None else sorted({int(r) for r in control_rounds})
    data = _dataset(config, data, device)
    recipe = Recipe(model_fn, prunable, model_name, reinit_init, optimizer_fn, scheduler_fn)
    result = ImpResult(config, seeds, controls, rewind_iteration, recipe=recipe)
    settings = fingerprint(config, seeds, controls, rewind_iteration, control_rounds)
    folder = RunFolder.open(settings | recipe.describe(result.network(data, seeds[0]), config.optimizer, config.lr),
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
    models, histories = train_together(result, data, arms, 0 if r == 0 else k, snapshot_at=(0, k) if r == 0 else ())
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
    model = result.network(data, seed)
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
    model = result.network(data, seed)
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
            state, mask = arm_init(name, result.network(data, s), result.rewind_state(s), masks[s],
                                   seed=seed, init=result.recipe.reinit_draw())
            arms.append(Arm(s, name, state, mask))
    return arms


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
