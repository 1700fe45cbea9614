"""Iterative magnitude pruning (Frankle & Carbin 2019, Section 2, "Identifying winning tickets").

Each round trains the network, prunes a fraction of the surviving weights with the smallest trained
magnitudes, and rewinds the survivors to their initial values θ0 (or to θk, Frankle et al. 2019).
Several seeds, and the control networks trained at every density, run together through
:func:`~lottery_core.batched.train_batched`. With a ``checkpoint_dir`` every finished round is
written atomically, and a later call resumes after the last finished round.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from .batched import train_batched
from .checkpoint import atomic_save, safe_load
from .config import ExperimentConfig
from .controls import CONTROLS, control_init
from .data import Dataset, load_dataset
from .masks import Mask
from .models import build_model
from .pruning import layer_rates_for, magnitude_prune
from .rewind import snapshot
from .training import Evaluation, History

_FORMAT = 1
METRICS = ("final_test_acc", "early_stop_iteration", "early_stop_test_acc", "early_stop_val_acc")


@dataclass
class RoundRecord:
    """The ticket of one seed at one round (and the controls trained beside it)."""

    round: int
    density: float
    final_test_acc: float
    early_stop_iteration: int
    early_stop_test_acc: float
    early_stop_val_acc: float
    seed: int
    control_final_test_acc: float | None = None
    control_early_stop_iteration: int | None = None
    control_early_stop_test_acc: float | None = None
    controls: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_row(self) -> dict:
        row = {k: v for k, v in self.__dict__.items() if k != "controls"}
        for name, metrics in self.controls.items():
            row.update({f"{name}_{k}": v for k, v in metrics.items()})
        return row


@dataclass
class ImpResult:
    """Records, masks, start points, trained weights and learning curves of an IMP run.

    Indexing is by round and seed (``seed=None`` means the first seed).
    """

    config: ExperimentConfig
    seeds: list[int]
    controls: list[str]
    rewind_iteration: int
    rounds: list[RoundRecord] = field(default_factory=list)
    masks: dict[tuple[int, int], Mask] = field(default_factory=dict)
    trained: dict[tuple[int, int], dict[str, torch.Tensor]] = field(default_factory=dict)
    initial: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    start: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    histories: dict[tuple[int, int, str], History] = field(default_factory=dict)

    def _seed(self, seed: int | None) -> int:
        return self.seeds[0] if seed is None else seed

    def mask(self, round: int, seed: int | None = None) -> Mask:
        """The ticket's mask at ``round`` (round 0: dense)."""
        return self.masks[(round, self._seed(seed))]

    def trained_state(self, round: int, seed: int | None = None) -> dict[str, torch.Tensor]:
        """The ticket's weights at the end of training in ``round`` (θT)."""
        return self.trained[(round, self._seed(seed))]

    def initial_state(self, seed: int | None = None) -> dict[str, torch.Tensor]:
        """θ0 of the seed's network."""
        return self.initial[self._seed(seed)]

    def rewind_state(self, seed: int | None = None) -> dict[str, torch.Tensor]:
        """The weights every round rewinds to: θ0, or θk with ``rewind_iteration=k``."""
        return self.start[self._seed(seed)]

    def history(self, round: int, arm: str = "ticket", seed: int | None = None) -> History:
        """Learning curve of the ticket (``arm="ticket"``) or of a control at ``round``."""
        return self.histories[(round, self._seed(seed), arm)]

    @property
    def num_rounds(self) -> int:
        return 1 + max((r.round for r in self.rounds), default=-1)

    def to_frame(self) -> pd.DataFrame:
        """One row per seed and round; each control adds ``<control>_<metric>`` columns."""
        return pd.DataFrame([r.as_row() for r in self.rounds])

    def to_long_frame(self) -> pd.DataFrame:
        """One row per seed, round and arm (``ticket`` or a control name): tidy data for seaborn."""
        rows = []
        for r in self.rounds:
            base = {"seed": r.seed, "round": r.round, "density": r.density}
            rows.append(base | {"arm": "ticket"} | {m: getattr(r, m) for m in METRICS})
            for name, metrics in r.controls.items():
                rows.append(base | {"arm": name} | metrics)
        return pd.DataFrame(rows)


def _fingerprint(config: ExperimentConfig, seeds: Sequence[int], controls: Sequence[str],
                 rewind_iteration: int, control_rounds: Sequence[int] | None) -> dict:
    return {
        "format": _FORMAT,
        "config": config.to_dict(),
        "seeds": list(seeds),
        "controls": list(controls),
        "rewind_iteration": rewind_iteration,
        "control_rounds": None if control_rounds is None else sorted(control_rounds),
    }


def _check_checkpoint_dir(path: Path, fingerprint: dict) -> None:
    meta = path / "experiment.json"
    if meta.exists():
        stored = json.loads(meta.read_text())
        if stored != fingerprint:
            diffs = _differences(stored, fingerprint)
            raise ValueError(
                f"checkpoint_dir {path} was written by a different experiment ({diffs}); "
                f"use another directory or delete this one"
            )
    else:
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / ".experiment.json.tmp"
        tmp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True))
        tmp.replace(meta)


def _differences(stored: dict, wanted: dict) -> str:
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            out += [f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} here" for k in changed]
        elif a != b:
            out.append(f"{key}: {a!r} there, {b!r} here")
    return "; ".join(out)


def _history_to_plain(h: History) -> list[list[float]]:
    return [[e.iteration, e.train_loss, e.val_loss, e.val_acc, e.test_acc] for e in h.evaluations]


def _history_from_plain(rows: list[list[float]]) -> History:
    return History([Evaluation(int(r[0]), *map(float, r[1:])) for r in rows])


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _metrics(h: History) -> dict[str, float]:
    return {
        "final_test_acc": h.final_test_acc,
        "early_stop_iteration": h.early_stop_iteration,
        "early_stop_test_acc": h.early_stop_test_acc,
        "early_stop_val_acc": h.early_stop_val_acc,
    }


def run_imp(
    config: ExperimentConfig,
    *,
    rounds: int,
    rewind_iteration: int = 0,
    control: str | Sequence[str] | None = None,
    checkpoint_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    seeds: Sequence[int] | None = None,
    control_rounds: Iterable[int] | None = None,
    data: Dataset | None = None,
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> ImpResult:
    """Iterative magnitude pruning for ``rounds`` pruning rounds (``rounds + 1`` trainings).

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
    """
    if checkpoint_dir is not None and cache_dir is not None:
        raise ValueError("give checkpoint_dir or cache_dir, not both")
    controls = [control] if isinstance(control, str) else list(control or [])
    for name in controls:
        if name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}; valid controls: {', '.join(CONTROLS)}")
    if rounds < 0:
        raise ValueError(f"rounds must be at least 0, got {rounds}")
    if not 0 <= rewind_iteration < config.iterations:
        raise ValueError(f"rewind_iteration must be in [0, {config.iterations}), got {rewind_iteration}")
    seeds = [config.seed] if seeds is None else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    control_rounds = None if control_rounds is None else sorted({int(r) for r in control_rounds})
    if data is None:
        data = load_dataset(config.dataset, seed=config.data_seed, device=device, num_samples=config.num_samples)
    elif data.name != config.dataset:
        raise ValueError(f"data is {data.name!r} but the config names {config.dataset!r}")

    result = ImpResult(config, seeds, controls, rewind_iteration)
    fingerprint = _fingerprint(config, seeds, controls, rewind_iteration, control_rounds)
    if cache_dir is not None:
        digest = hashlib.sha1(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:12]
        checkpoint_dir = Path(cache_dir) / f"imp-{digest}"
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        _check_checkpoint_dir(ckpt, fingerprint)

    template = build_model(config.model, data.input_shape, data.num_classes, seed=0)
    rates = layer_rates_for(template, config.prune_rate, config.output_prune_rate, config.conv_prune_rate)
    first = 0
    if ckpt is not None:
        while first <= rounds and (ckpt / f"round_{first:03d}.pt").exists():
            _load_round(result, safe_load(ckpt / f"round_{first:03d}.pt"))
            if verbose:
                _print_round(result, first, None, resumed=True)
            first += 1
    for r in range(first, rounds + 1):
        started = time.perf_counter()
        payload = _train_round(result, r, data, template, rates, control_rounds)
        _load_round(result, payload)
        if ckpt is not None:
            atomic_save(payload, ckpt / f"round_{r:03d}.pt")
        if verbose:
            _print_round(result, r, time.perf_counter() - started)
    return result


def _seed_for(kind: int, seed: int, round: int) -> int:
    """Distinct, reproducible seeds for control draws."""
    return 1_000_003 * (kind + 1) + 1009 * round + seed


def _control_arms(result: ImpResult, r: int, masks: dict[int, Mask], names: Sequence[str], data: Dataset) -> list:
    """(seed, control name, initial state, mask) of every control at round ``r``."""
    config = result.config
    arms = []
    for name in names:
        c = list(CONTROLS).index(name)
        for s in result.seeds:
            scratch = build_model(config.model, data.input_shape, data.num_classes, seed=s)
            state, mask = control_init(name, scratch, result.rewind_state(s), masks[s], seed=_seed_for(c, s, r))
            arms.append((s, name, state, mask))
    return arms


def _train_arms(config: ExperimentConfig, data: Dataset, arms: list, start: int, snapshot_at=()):
    """Train every arm together; returns (trained models, histories)."""
    models = []
    for s, _, state, _ in arms:
        model = build_model(config.model, data.input_shape, data.num_classes, seed=s)
        model.load_state_dict(state)
        models.append(model)
    histories = train_batched(
        models, data, masks=[a[3] for a in arms], seeds=[a[0] for a in arms],
        iterations=config.iterations - start, batch_size=config.batch_size, lr=config.lr,
        optimizer=config.optimizer, eval_every=config.eval_every, snapshot_at=snapshot_at,
        progress=False, start_iteration=start,
    )
    return models, histories


def _train_round(result: ImpResult, r: int, data: Dataset, template, rates: dict[str, float],
                 control_rounds: list[int] | None) -> dict:
    config, k = result.config, result.rewind_iteration
    if r == 0:
        masks = {s: Mask.ones_like(template) for s in result.seeds}
    else:
        masks = {}
        for s in result.seeds:
            model = build_model(config.model, data.input_shape, data.num_classes, seed=s)
            model.load_state_dict(result.trained_state(r - 1, s))
            masks[s] = magnitude_prune(model, result.mask(r - 1, s), config.prune_rate,
                                       layer_rates=rates if config.scope == "layerwise" else None,
                                       scope=config.scope)

    # arms: (seed, arm name, initial state, mask); the tickets first
    arms = []
    for s in result.seeds:
        model = build_model(config.model, data.input_shape, data.num_classes, seed=s)
        if r > 0:
            model.load_state_dict(result.rewind_state(s))
            masks[s].apply(model)
        arms.append((s, "ticket", snapshot(model), masks[s]))
    with_controls = r > 0 and (control_rounds is None or r in control_rounds)
    if with_controls:
        arms += _control_arms(result, r, masks, result.controls, data)
    models, histories = _train_arms(config, data, arms, 0 if r == 0 else k, (0, k) if r == 0 else ())

    payload: dict = {"round": r, "masks": {}, "trained": {}, "histories": {}, "records": []}
    for (s, name, _, mask), model, h in zip(arms, models, histories):
        payload["histories"][f"{s}/{name}"] = _history_to_plain(h)
        if name == "ticket":
            payload["masks"][s] = mask.state_dict()
            payload["trained"][s] = _cpu(model.state_dict())
            if r == 0:
                payload.setdefault("initial", {})[s] = _cpu(h.snapshots[0])
                payload.setdefault("start", {})[s] = _cpu(h.snapshots[k])
    for s in result.seeds:
        ticket = _history_from_plain(payload["histories"][f"{s}/ticket"])
        density = Mask(payload["masks"][s]).density()
        record = {"round": r, "density": density, "seed": s, **_metrics(ticket), "controls": {}}
        for name in result.controls:
            h = ticket if r == 0 else (
                _history_from_plain(payload["histories"][f"{s}/{name}"]) if with_controls else None
            )
            if h is not None:
                record["controls"][name] = _metrics(h)
        payload["records"].append(record)
    return payload


def train_controls(
    result: ImpResult,
    controls: str | Sequence[str],
    *,
    rounds: Iterable[int],
    data: Dataset | None = None,
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> pd.DataFrame:
    """Train control networks for the tickets of a finished IMP run, without retraining the tickets.

    For every round in ``rounds`` and every seed of ``result``, each control in ``controls`` (names
    from ``CONTROLS``) starts from its own initialisation under the ticket's mask and trains with
    the ticket's schedule and data order. The learning curves are added to ``result.histories``.
    Returns tidy data (``seed, round, density, arm`` and the metrics), the tickets' rows included.
    """
    names = [controls] if isinstance(controls, str) else list(controls)
    for name in names:
        if name not in CONTROLS:
            raise ValueError(f"unknown control {name!r}; valid controls: {', '.join(CONTROLS)}")
    rounds = sorted({int(r) for r in rounds})
    missing = [r for r in rounds if r < 1 or r >= result.num_rounds]
    if missing:
        raise ValueError(f"rounds {missing} are not pruned rounds of this run (1 to {result.num_rounds - 1})")
    config = result.config
    if data is None:
        data = load_dataset(config.dataset, seed=config.data_seed, device=device, num_samples=config.num_samples)
    long = result.to_long_frame()
    started = time.perf_counter()
    # every arm of every round starts at the same iteration: one batched run trains them all
    masks = {(r, s): result.mask(r, s) for r in rounds for s in result.seeds}
    arms, arm_rounds = [], []
    for r in rounds:
        round_arms = _control_arms(result, r, {s: masks[(r, s)] for s in result.seeds}, names, data)
        arms += round_arms
        arm_rounds += [r] * len(round_arms)
    _, histories = _train_arms(config, data, arms, result.rewind_iteration)
    records = []
    for r, (s, name, _, _), h in zip(arm_rounds, arms, histories):
        result.histories[(r, s, name)] = h
        records.append({"seed": s, "round": r, "density": masks[(r, s)].density(), "arm": name, **_metrics(h)})
    frame = pd.DataFrame(records)
    if verbose:
        seconds = time.perf_counter() - started
        print(f"trained {len(arms)} control networks together in {seconds:.1f} s", flush=True)
        for r, part in frame.groupby("round", sort=True):
            means = part.groupby("arm", sort=False)["early_stop_test_acc"].mean()
            parts = " | ".join(f"{a} {v:.2%}" for a, v in means.items())
            print(f"round {r:2d} | {masks[(r, result.seeds[0])].density():7.2%} of weights | {parts}", flush=True)
    rows = [long[(long["round"].isin(rounds)) & (long["arm"] == "ticket")], frame]
    return pd.concat(rows, ignore_index=True)


def _load_round(result: ImpResult, payload: dict) -> None:
    r = int(payload["round"])
    for s, m in payload["masks"].items():
        result.masks[(r, int(s))] = Mask(m)
    for s, state in payload["trained"].items():
        result.trained[(r, int(s))] = state
    for s, state in payload.get("initial", {}).items():
        result.initial[int(s)] = state
    for s, state in payload.get("start", {}).items():
        result.start[int(s)] = state
    for key, rows in payload["histories"].items():
        s, name = key.split("/", 1)
        result.histories[(r, int(s), name)] = _history_from_plain(rows)
    for rec in payload["records"]:
        rec = dict(rec)
        controls = rec.pop("controls")
        record = RoundRecord(**rec, controls=controls)
        if result.controls and result.controls[0] in controls:
            first = controls[result.controls[0]]
            record.control_final_test_acc = first["final_test_acc"]
            record.control_early_stop_iteration = first["early_stop_iteration"]
            record.control_early_stop_test_acc = first["early_stop_test_acc"]
        result.rounds.append(record)


def _print_round(result: ImpResult, r: int, seconds: float | None, resumed: bool = False) -> None:
    recs = [x for x in result.rounds if x.round == r]
    n = len(recs)
    acc = sum(x.early_stop_test_acc for x in recs) / n
    line = (
        f"round {r:2d} | {recs[0].density:7.2%} of weights | ticket test acc {acc:.2%}"
        f" (early stop {sum(x.early_stop_iteration for x in recs) / n:.0f})"
    )
    for name in result.controls:
        vals = [x.controls[name]["early_stop_test_acc"] for x in recs if name in x.controls]
        if vals and r > 0:
            line += f" | {name} {sum(vals) / len(vals):.2%}"
    if n > 1:
        line += f" | mean of {n} seeds"
    line += " | resumed from checkpoint" if resumed else f" | {seconds:.1f} s"
    print(line, flush=True)
