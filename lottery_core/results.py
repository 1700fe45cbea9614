"""What an IMP run produces and keeps (Frankle & Carbin 2019, Section 2): one record per seed and
round, the rounds' masks, start points and trained weights, and the run folder that holds every
finished round on disk so that a later call resumes after the last one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from .checkpoint import atomic_save, safe_load
from .config import ExperimentConfig
from .data import Dataset
from .history import Evaluation, History
from .masks import Mask, Prunable, prunable_parameters
from .models import build_model
from .rewind import Init, ModelFn, seeded
from .training import OptimizerFn, SchedulerFn, make_optimizer

FORMAT = 2  # of the run folder; a folder of another format is refused
METRICS = ("final_test_acc", "early_stop_iteration", "early_stop_test_acc", "early_stop_val_acc")
State = dict[str, torch.Tensor]


def metrics(h: History) -> dict[str, float]:
    """The numbers a record keeps of one learning curve."""
    return {name: getattr(h, name) for name in METRICS}


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
        for name, values in self.controls.items():
            row.update({f"{name}_{k}": v for k, v in values.items()})
        return row


@dataclass
class Round:
    """Everything one round produced: per seed the ticket's mask and trained weights (θT), the
    learning curve of every arm (seed, ``"ticket"`` or a control name); round 0 also θ0 and the
    rewind point. Tensors are on the CPU."""

    round: int
    masks: dict[int, Mask]
    trained: dict[int, State]
    histories: dict[tuple[int, str], History]
    initial: dict[int, State] = field(default_factory=dict)
    start: dict[int, State] = field(default_factory=dict)

    def to_plain(self) -> dict:
        """Tensors and plain containers only: what a round file holds."""
        curves = [[s, arm, [list(astuple(e)) for e in h.evaluations]] for (s, arm), h in self.histories.items()]
        return {"round": self.round, "masks": {s: m.state_dict() for s, m in self.masks.items()},
                "trained": self.trained, "initial": self.initial, "start": self.start, "histories": curves}

    @classmethod
    def from_plain(cls, plain: dict) -> Round:
        histories = {(int(s), str(arm)): History([Evaluation(int(r[0]), *map(float, r[1:])) for r in rows])
                     for s, arm, rows in plain["histories"]}
        return cls(int(plain["round"]), {int(s): Mask(m) for s, m in plain["masks"].items()}, dict(plain["trained"]),
                   histories, dict(plain["initial"]), dict(plain["start"]))


@dataclass(frozen=True)
class Recipe:
    """What an IMP run uses besides its config: your own network (``model_fn(seed)``, the parameters
    ``prunable`` picks, a ``model_name`` for the run folder), how the reinitialising controls draw
    (``reinit_init``, see :func:`~lottery_core.reinitialize`), and an optimiser and LR-schedule factory.
    All ``None``: the config's named model, its optimiser, Glorot draws."""

    model_fn: ModelFn | None = None
    prunable: Prunable | None = None
    model_name: str | None = None
    reinit_init: Init = None
    optimizer_fn: OptimizerFn | None = None
    scheduler_fn: SchedulerFn | None = None

    def reinit_draw(self) -> Init:
        """The ``init`` of the reinitialising controls: as asked, else ``model_fn`` with a fresh seed
        (the model's own initialiser), else the named model's (Glorot)."""
        return self.reinit_init if self.reinit_init is not None else self.model_fn

    def describe(self, model: nn.Module, optimizer: str, lr: float) -> dict[str, Any]:
        """What the fingerprint adds for this recipe (``model`` is the seed's θ0 network; ``optimizer``
        and ``lr`` the config's); nothing for the defaults, so the runs of the named models keep their folders."""
        out: dict[str, Any] = {}
        if self.model_fn is not None or self.prunable is not None:
            shapes = [(k, list(v.shape), str(v.dtype)) for k, v in model.state_dict().items()]
            structure = hashlib.sha1((repr(model) + repr(shapes)).encode()).hexdigest()[:12]
            out["model"] = {"name": self.model_name or type(model).__name__, "structure": structure,
                            "parameters": sum(p.numel() for p in model.parameters()),
                            "prunable": list(prunable_parameters(model, self.prunable))}
        if self.reinit_init is not None:
            out["reinit_init"] = self.reinit_init if isinstance(self.reinit_init, str) else _name(self.reinit_init)
        probe = [nn.Parameter(torch.zeros(1))]
        opt = self.optimizer_fn(probe) if self.optimizer_fn is not None else make_optimizer(optimizer, probe, lr)
        if self.optimizer_fn is not None:
            out["optimizer"] = {"class": type(opt).__name__, **_plain(opt.defaults)}
        if self.scheduler_fn is not None:
            scheduler = self.scheduler_fn(opt)
            out["scheduler"] = {"class": type(scheduler).__name__, **_plain(scheduler.state_dict())}
        return json.loads(json.dumps(out))  # as experiment.json gives it back (tuples become lists)


def _plain(values: dict) -> dict:
    """The entries of ``values`` that JSON can hold (numbers, strings, lists of them): an optimiser's
    or scheduler's settings without the functions and tensors."""
    out = {}
    for key, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", type(fn).__name__)


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
    trained: dict[tuple[int, int], State] = field(default_factory=dict)
    initial: dict[int, State] = field(default_factory=dict)
    start: dict[int, State] = field(default_factory=dict)
    histories: dict[tuple[int, int, str], History] = field(default_factory=dict)
    recipe: Recipe = field(default_factory=Recipe)

    def _seed(self, seed: int | None) -> int:
        return self.seeds[0] if seed is None else seed

    def mask(self, round: int, seed: int | None = None) -> Mask:
        """The ticket's mask at ``round`` (round 0: dense)."""
        return self.masks[(round, self._seed(seed))]

    def trained_state(self, round: int, seed: int | None = None) -> State:
        """The ticket's weights at the end of training in ``round`` (θT)."""
        return self.trained[(round, self._seed(seed))]

    def initial_state(self, seed: int | None = None) -> State:
        """θ0 of the seed's network."""
        return self.initial[self._seed(seed)]

    def rewind_state(self, seed: int | None = None) -> State:
        """The weights every round rewinds to: θ0, or θk with ``rewind_iteration=k``."""
        return self.start[self._seed(seed)]

    def history(self, round: int, arm: str = "ticket", seed: int | None = None) -> History:
        """Learning curve of the ticket (``arm="ticket"``) or of a control at ``round``."""
        return self.histories[(round, self._seed(seed), arm)]

    def network(self, data: Dataset, seed: int, state: State | None = None) -> nn.Module:
        """The run's network for ``data`` (``model_fn``, else the config's named model) drawn from
        ``seed``, then loaded with ``state`` when given."""
        model_fn = self.recipe.model_fn
        model = seeded(model_fn, seed) if model_fn is not None else build_model(
            self.config.model, data.input_shape, data.num_classes, seed=seed)
        if state is not None:
            model.load_state_dict(state)
        return model

    @property
    def num_rounds(self) -> int:
        return 1 + max((r.round for r in self.rounds), default=-1)

    def add(self, done: Round) -> None:
        """Keep a finished round and add one record per seed."""
        r = done.round
        self.masks.update({(r, s): m for s, m in done.masks.items()})
        self.trained.update({(r, s): state for s, state in done.trained.items()})
        self.initial.update(done.initial)
        self.start.update(done.start)
        self.histories.update({(r, s, arm): h for (s, arm), h in done.histories.items()})
        for s in self.seeds:
            ticket = done.histories[(s, "ticket")]
            # round 0 trains no controls: every control of the dense network is the dense network itself
            controls = {name: metrics(ticket if r == 0 else done.histories[(s, name)]) for name in self.controls
                        if r == 0 or (s, name) in done.histories}
            first = controls.get(self.controls[0], {}) if self.controls else {}
            self.rounds.append(RoundRecord(r, done.masks[s].density(), **metrics(ticket), seed=s, controls=controls,
                                           **{f"control_{k}": first.get(k) for k in METRICS[:3]}))

    def to_frame(self) -> pd.DataFrame:
        """One row per seed and round; each control adds ``<control>_<metric>`` columns."""
        return pd.DataFrame([r.as_row() for r in self.rounds])

    def to_long_frame(self) -> pd.DataFrame:
        """One row per seed, round and arm (``ticket`` or a control name): tidy data for seaborn."""
        rows = []
        for r in self.rounds:
            base = {"seed": r.seed, "round": r.round, "density": r.density}
            rows.append(base | {"arm": "ticket"} | {m: getattr(r, m) for m in METRICS})
            rows += [base | {"arm": name} | values for name, values in r.controls.items()]
        return pd.DataFrame(rows)


def fingerprint(config: ExperimentConfig, seeds: list[int], controls: list[str], rewind_iteration: int,
                control_rounds: list[int] | None) -> dict:
    """Everything that decides an IMP run's results: runs with equal fingerprints share a run folder."""
    return {"format": FORMAT, "config": config.to_dict(), "seeds": seeds, "controls": controls,
            "rewind_iteration": rewind_iteration, "control_rounds": control_rounds}


def digest(fingerprint: dict) -> str:
    """A short hash of a fingerprint: the name of its folder under a ``cache_dir``."""
    return hashlib.sha1(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:12]


class RunFolder:
    """A checkpoint folder: ``experiment.json`` (the fingerprint of the run that wrote it) and one
    ``round_NNN.pt`` per finished round, each written atomically and tagged with the fingerprint."""

    def __init__(self, path: str | Path, fingerprint: dict):
        self.path, self.fingerprint, self.digest = Path(path), fingerprint, digest(fingerprint)

    @classmethod
    def open(cls, fingerprint: dict, *, checkpoint_dir: str | Path | None = None,
             cache_dir: str | Path | None = None) -> RunFolder | None:
        """The folder ``checkpoint_dir``, or under ``cache_dir`` the one named after the fingerprint
        (``None`` without either). A folder written by other settings is refused with a ``ValueError``."""
        if checkpoint_dir is not None and cache_dir is not None:
            raise ValueError("give checkpoint_dir or cache_dir, not both")
        if checkpoint_dir is None and cache_dir is None:
            return None
        path = Path(cache_dir) / f"imp-{digest(fingerprint)}" if cache_dir is not None else Path(checkpoint_dir)
        folder = cls(path, fingerprint)
        folder._claim()
        return folder

    def _claim(self) -> None:
        meta = self.path / "experiment.json"
        if not meta.exists():
            atomic_save(self.fingerprint, meta)
            return
        try:
            stored = safe_load(meta)
        except ValueError as error:
            raise ValueError(
                f"{error}. It records the settings that wrote the round files beside it: delete it and run "
                "again to write it anew (each round file is still checked against the settings as it is read)"
            ) from error
        if stored != self.fingerprint:
            model = isinstance(stored, dict) and stored.get("model") != self.fingerprint.get("model")
            raise ValueError(f"checkpoint_dir {self.path} was written by a different experiment "
                             f"({_differences(stored, self.fingerprint)})"
                             + ("; it trained another model" if model else "")
                             + "; use another directory or delete this one")

    def round_path(self, r: int) -> Path:
        return self.path / f"round_{r:03d}.pt"

    def load(self, r: int) -> Round | None:
        """Round ``r`` if its file exists; a damaged one is a ``ValueError`` that says what to delete."""
        path = self.round_path(r)
        if not path.exists():
            return None
        try:
            plain = safe_load(path)
            if plain.get("experiment") != self.digest or plain.get("round") != r:
                raise ValueError("it belongs to another run")
            return Round.from_plain(plain)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                f"{path} is damaged ({error}). Delete it and the round files after it to train again from round "
                f"{r}; the rounds before it are kept"
            ) from error

    def save(self, done: Round) -> None:
        atomic_save(done.to_plain() | {"experiment": self.digest}, self.round_path(done.round))


def _differences(stored: object, wanted: dict) -> str:
    if not isinstance(stored, dict):
        return f"it holds {type(stored).__name__}, not settings"
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} here" for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k)]
        elif a != b:
            out.append(f"{key}: {a!r} there, {b!r} here")
    return "; ".join(out)
