"""Sweeps of many IMP chains: one Ray task per chain, a local Ray by default, a cluster unchanged.

The paper's figures are sweeps of independent IMP chains (Frankle & Carbin 2019, Section 2 and
Appendix G: five trials per network, 15 to 30 pruning rounds each, beside their controls). Every
chain checkpoints each finished round (``run_imp(..., checkpoint_dir=...)``), so one chain is one
Ray task that, when Ray retries it after its worker died, resumes after its last finished round.

``sweep(experiments, results_dir)`` starts a local Ray instance (``ray.init()``); with ``address=``
or ``$RAY_ADDRESS`` it joins an existing cluster. Without Ray installed it runs the chains one after
another in this process, with the same records. ``python -m lottery_core sweep --help`` is the
command-line form.

Layout of ``results_dir``: ``<name>/`` is the chain's ``checkpoint_dir`` (load masks and weights with
``run_imp(config, ..., checkpoint_dir=results_dir / name)``), and ``<name>.json`` holds its records
once it has finished; a later sweep that finds that file with the same settings loads it and trains
nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import re
import secrets
import socket
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import PRESETS, ExperimentConfig, get_preset
from .data import load_dataset
from .imp import run_imp
from .results import RoundRecord
from .starts import CONTROLS

_FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")
BACKENDS = ("auto", "ray", "in-process")
RoundHook = Callable[[str, int], None]


class SharedPathError(RuntimeError):
    """A worker cannot see the results directory that the driver wrote to."""


@dataclass(frozen=True)
class Experiment:
    """One IMP chain of a sweep: ``run_imp(config, rounds=..., seeds=..., control=..., ...)``.

    ``config`` is an ``ExperimentConfig`` or a preset name; ``overrides`` are applied as
    ``get_preset`` applies them. All ``seeds`` (default ``[config.seed]``) train together in the one
    chain, batched as ``run_imp`` batches them; :meth:`split` makes one chain per seed (or per group
    of seeds) for more parallel tasks. ``name`` names the chain's folder under the results directory.
    """

    name: str
    config: ExperimentConfig | str = "book"
    rounds: int = 1
    seeds: Sequence[int] | None = None
    control: str | Sequence[str] | None = None
    rewind_iteration: int = 0
    control_rounds: Sequence[int] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"experiment name {self.name!r} must be a plain folder name (letters, digits, . _ + = -)")
        control = [self.control] if isinstance(self.control, str) else list(self.control or [])
        object.__setattr__(self, "control", tuple(control))
        for key in ("seeds", "control_rounds"):
            value = getattr(self, key)
            object.__setattr__(self, key, None if value is None else tuple(int(v) for v in value))
        object.__setattr__(self, "overrides", dict(self.overrides))

    def resolve(self) -> ExperimentConfig:
        """The chain's configuration (a preset name is looked up, ``overrides`` applied)."""
        if isinstance(self.config, str):
            return get_preset(self.config, **self.overrides)
        return dataclasses.replace(self.config, **{k: v for k, v in self.overrides.items() if v is not None})

    def imp_arguments(self, config: ExperimentConfig) -> dict[str, Any]:
        """The keyword arguments of ``run_imp`` other than ``rounds`` and the folders."""
        return {
            "seeds": list(self.seeds) if self.seeds is not None else [config.seed],
            "control": list(self.control) or None,
            "rewind_iteration": self.rewind_iteration,
            "control_rounds": None if self.control_rounds is None else list(self.control_rounds),
        }

    def spec(self) -> dict[str, Any]:
        """Everything that fixes the chain's records, as plain JSON data."""
        config = self.resolve()
        return {"config": config.to_dict(), "rounds": self.rounds, **self.imp_arguments(config)}

    def split(self, seeds_per_chain: int = 1) -> list[Experiment]:
        """The same experiment as chains of ``seeds_per_chain`` seeds each, named ``<name>-s<seeds>``."""
        if seeds_per_chain < 1:
            raise ValueError(f"seeds_per_chain must be at least 1, got {seeds_per_chain}")
        seeds = list(self.seeds) if self.seeds is not None else [self.resolve().seed]
        groups = [seeds[i:i + seeds_per_chain] for i in range(0, len(seeds), seeds_per_chain)]
        return [dataclasses.replace(self, name=f"{self.name}-s{'_'.join(map(str, g))}", seeds=g) for g in groups]


@dataclass
class SweepResult:
    """What a sweep returns: each chain's records, the failures by experiment name, and how it ran.

    ``frames[name]`` is ``run_imp(...).to_frame()`` of that chain and ``long_frames[name]`` its
    ``to_long_frame()``; ``failures[name]`` is the error of a chain that failed. ``chains`` has one row
    per experiment: ``status`` ("trained": ran now, resuming any finished rounds; "loaded": finished
    by an earlier sweep; "failed"), ``seconds`` (wall time of the chain where it ran) and ``host``.
    """

    frames: dict[str, pd.DataFrame]
    long_frames: dict[str, pd.DataFrame]
    failures: dict[str, str]
    chains: pd.DataFrame
    backend: str

    @property
    def frame(self) -> pd.DataFrame:
        """Every chain's records in one frame, with an ``experiment`` column first."""
        return _concat(self.frames)

    @property
    def long_frame(self) -> pd.DataFrame:
        """Tidy records (one row per seed, round and arm) of every chain, with an ``experiment`` column."""
        return _concat(self.long_frames)


def _concat(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [f.assign(experiment=name)[["experiment", *f.columns]] for name, f in frames.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"experiment": []})


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _check_shared(root: Path, token: str) -> None:
    """Raise ``SharedPathError`` unless this process reads the marker the driver wrote under ``root``."""
    marker = root / f".sweep-{token}"
    try:
        seen = marker.read_text()
    except OSError:
        seen = None
    if seen != token:
        raise SharedPathError(
            f"results_dir {root} is not shared with host {socket.gethostname()}: the marker {marker.name} that the "
            f"driver wrote there is missing. Every worker must reach the same folder at the same path (one machine, "
            f"or a file system that every node mounts there, such as NFS)"
        )


def run_chain(
    experiment: Experiment,
    results_dir: str | os.PathLike,
    *,
    device: str | None = None,
    on_round: RoundHook | None = None,
    token: str | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run or resume one chain in this process and write ``<results_dir>/<name>.json``; returns its contents.

    The chain is one ``run_imp`` call on its checkpoint folder (resuming after the last finished
    round); through ``run_imp``'s own ``on_round``, ``on_round(name, round)`` runs after each
    finished round, read or trained. ``token``: the driver's marker, checked before anything is
    written. ``verbose``: one line per round.
    """
    root = Path(results_dir)
    if token is not None:
        _check_shared(root, token)
    config = experiment.resolve()
    arguments = experiment.imp_arguments(config)
    started = time.perf_counter()
    data = load_dataset(config.dataset, seed=config.data_seed, device=device, num_samples=config.num_samples)
    clock = [time.perf_counter()]  # when the previous round finished

    def finished(records: list[RoundRecord]) -> None:
        if verbose:
            _print_round(experiment, records, time.perf_counter() - clock[0])
        clock[0] = time.perf_counter()
        if on_round is not None:
            on_round(experiment.name, records[0].round)

    result = run_imp(config, rounds=experiment.rounds, checkpoint_dir=root / experiment.name, data=data,
                     device=device, verbose=False, on_round=finished, **arguments)
    record = {
        "format": _FORMAT,
        "spec": experiment.spec(),
        "frame": result.to_frame().to_dict("records"),
        "long": result.to_long_frame().to_dict("records"),
        "seconds": time.perf_counter() - started,
        "host": socket.gethostname(),
    }
    _write_json(root / f"{experiment.name}.json", record)
    return record


def _print_round(experiment: Experiment, rows: list[RoundRecord], seconds: float) -> None:
    acc, r = sum(x.early_stop_test_acc for x in rows) / len(rows), rows[0].round
    print(f"[{experiment.name}] round {r}/{experiment.rounds} | {rows[0].density:7.2%} of weights | "
          f"ticket test acc {acc:.2%} at early stop | {seconds:.1f} s", flush=True)


def _finished(root: Path, experiment: Experiment, spec: dict) -> dict | None:
    """The records file of a chain that finished with these settings, or None."""
    path = root / f"{experiment.name}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return record if record.get("format") == _FORMAT and record.get("spec") == spec else None


def _import_ray(backend: str, address: str | None):
    """The ``ray`` module, or None for the in-process fallback."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "in-process":
        if address is not None:
            raise ValueError("address= joins a Ray cluster; it cannot be combined with backend='in-process'")
        return None
    try:
        return importlib.import_module("ray")
    except ImportError:
        if backend == "ray" or address is not None:
            raise ImportError("Ray is not installed: pip install 'lottery_core[cluster]'") from None
        return None


def _error_text(error: BaseException) -> str:
    """``Type: message`` of a chain's error (for a task's exception, of the exception the task raised)."""
    cause = getattr(error, "cause", None)  # ray.exceptions.RayTaskError wraps the task's own exception
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    first = (str(error).strip().splitlines() or [""])[0]  # Ray's system errors run on for many lines
    return f"{type(error).__name__}: {first}"


def _run_in_process(pending: list[Experiment], root: Path, chain: dict[str, Any]) -> dict[str, dict | str]:
    outcomes: dict[str, dict | str] = {}
    for experiment in pending:
        try:
            outcomes[experiment.name] = run_chain(experiment, root, **chain)
        except Exception as error:  # a chain's real error is reported; the other chains go on
            outcomes[experiment.name] = f"{type(error).__name__}: {error}"
            _say(chain["verbose"], f"sweep: chain {experiment.name} failed: {outcomes[experiment.name]}")
    return outcomes


def _say(verbose: bool, line: str) -> None:
    if verbose:
        print(line, flush=True)


def _start_ray(ray, address: str | None, num_cpus: int | None) -> bool:
    """Start or join Ray unless this process is already connected; True when this call started it."""
    if ray.is_initialized():
        return False
    joining = address is not None or bool(os.environ.get("RAY_ADDRESS"))
    ray.init(address=address, **({} if joining or num_cpus is None else {"num_cpus": num_cpus}))
    return True


def _run_with_ray(ray, pending: list[Experiment], root: Path, chain: dict[str, Any], *, address: str | None,
                  num_cpus: int | None, cpus_per_chain: float, gpus_per_chain: float | None,
                  max_retries: int) -> dict[str, dict | str]:
    started_here = _start_ray(ray, address, num_cpus)
    token = secrets.token_hex(8)
    marker = root / f".sweep-{token}"
    marker.write_text(token)
    try:
        gpus = gpus_per_chain if gpus_per_chain is not None else (1 if ray.cluster_resources().get("GPU", 0) else 0)
        options = {"num_cpus": cpus_per_chain, "num_gpus": gpus, "max_retries": max_retries, "retry_exceptions": False}
        chain = chain | {"device": chain["device"] or ("cuda" if gpus else "cpu"), "token": token}
        task = ray.remote(run_chain)
        refs = {task.options(name=f"chain:{e.name}", **options).remote(e, str(root), **chain): e.name for e in pending}
        outcomes: dict[str, dict | str] = {}
        while refs:
            (ready,), _ = ray.wait(list(refs), num_returns=1)
            name = refs.pop(ready)
            try:
                outcomes[name] = ray.get(ready)
                _say(chain["verbose"], f"sweep: chain {name} finished on {outcomes[name]['host']} "
                                       f"in {outcomes[name]['seconds']:.1f} s")
            except ray.exceptions.RayError as error:
                outcomes[name] = _error_text(error)
                _say(chain["verbose"], f"sweep: chain {name} failed: {outcomes[name]}")
        return outcomes
    finally:
        marker.unlink(missing_ok=True)
        if started_here:
            ray.shutdown()


def _as_experiments(experiments: Iterable[Experiment | Mapping[str, Any]]) -> list[Experiment]:
    out = [e if isinstance(e, Experiment) else Experiment(**e) for e in experiments]
    names = [e.name for e in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"experiment names must be distinct; repeated: {', '.join(repeated)}")
    return out


def sweep(experiments: Iterable[Experiment | Mapping[str, Any]], results_dir: str | os.PathLike, *,
          address: str | None = None, backend: str = "auto", num_cpus: int | None = None, cpus_per_chain: float = 1,
          gpus_per_chain: float | None = None, max_retries: int = 3, device: str | None = None,
          on_round: RoundHook | None = None, verbose: bool = True) -> SweepResult:
    """Run every experiment's IMP chain, one Ray task each, and collect their records.

    ``experiments``: ``Experiment`` objects (or dicts of their fields) with distinct names.
    ``results_dir`` must be reachable at the same path by every worker; each task checks that it
    sees a marker the driver wrote there and fails with ``SharedPathError`` if not. Chains whose
    records are already in ``results_dir`` with the same settings are loaded, not run.

    ``backend``: "auto" (Ray when installed, else the chains run one after another in this process,
    with a warning), "ray" or "in-process". ``address`` (or ``$RAY_ADDRESS``) joins a running cluster;
    otherwise ``ray.init()`` starts a local instance with ``num_cpus`` CPUs (default: all) and shuts it
    down at the end (an instance this process already runs is used and left running). Each task asks
    for ``cpus_per_chain`` CPUs and ``gpus_per_chain`` GPUs (default: 1 where the cluster has GPUs,
    else 0) and trains on ``device`` (default: "cuda" with a GPU, else "cpu"). A task whose worker
    dies is retried up to ``max_retries`` times and resumes after its last finished round; a chain
    that raises is not retried: ``failures`` names it with its error and the others go on.
    ``on_round(name, round)`` runs in the worker after each finished round (it must pickle).
    ``verbose``: a line per round of each chain and per finished chain.
    """
    experiments = _as_experiments(experiments)
    root = Path(results_dir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    outcomes, pending = _plan(experiments, root)
    ray = _import_ray(backend, address) if pending else None
    if pending and ray is None and backend == "auto":
        warnings.warn(f"Ray is not installed: running {len(pending)} chain(s) one after another in this process "
                      f"(pip install 'lottery_core[cluster]' to run them as Ray tasks)", RuntimeWarning, stacklevel=2)
    _say(verbose, f"sweep: {len(experiments)} chain(s) in {root}: {len(pending)} to run "
                  f"({'as Ray tasks' if ray is not None else 'in this process'}), "
                  f"{len(experiments) - len(pending)} finished earlier or invalid")
    chain = {"device": device, "on_round": on_round, "verbose": verbose}
    if ray is not None:
        outcomes |= _run_with_ray(ray, pending, root, chain, address=address, num_cpus=num_cpus,
                                  cpus_per_chain=cpus_per_chain, gpus_per_chain=gpus_per_chain, max_retries=max_retries)
    else:
        outcomes |= _run_in_process(pending, root, chain)
    result = _collect(experiments, outcomes, "ray" if ray is not None else "in-process")
    _say(verbose, _summary(result))
    return result


def _summary(result: SweepResult) -> str:
    counts = result.chains["status"].value_counts()
    failed = f" ({', '.join(result.failures)})" if result.failures else ""
    return (f"sweep: {counts.get('trained', 0)} trained, {counts.get('loaded', 0)} loaded, "
            f"{counts.get('failed', 0)} failed{failed}")


def _plan(experiments: list[Experiment], root: Path) -> tuple[dict[str, dict | str], list[Experiment]]:
    """(outcomes known before running: loaded records, or the error of an invalid experiment; chains to run)."""
    outcomes: dict[str, dict | str] = {}
    pending: list[Experiment] = []
    for experiment in experiments:
        try:
            done = _finished(root, experiment, experiment.spec())
        except Exception as error:  # e.g. an unknown preset or field: this chain fails, the others run
            outcomes[experiment.name] = f"{type(error).__name__}: {error}"
            continue
        if done is not None:
            outcomes[experiment.name] = done | {"status": "loaded"}
        else:
            pending.append(experiment)
    return outcomes, pending


def _collect(experiments: list[Experiment], outcomes: dict[str, dict | str], backend: str) -> SweepResult:
    frames, long_frames, failures, rows = {}, {}, {}, []
    for experiment in experiments:
        name, outcome = experiment.name, outcomes[experiment.name]
        if isinstance(outcome, str):
            failures[name] = outcome
            rows.append({"experiment": name, "status": "failed", "seconds": None, "host": None, "error": outcome})
            continue
        frames[name] = pd.DataFrame(outcome["frame"])
        long_frames[name] = pd.DataFrame(outcome["long"])
        rows.append({"experiment": name, "status": outcome.get("status", "trained"), "seconds": outcome["seconds"],
                     "host": outcome["host"], "error": None})
    return SweepResult(frames, long_frames, failures, pd.DataFrame(rows), backend)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose every error is one line on stderr and exit status 2 (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2,7-8"`` -> [0, 2, 7, 8]. An empty range (``"4-0"``) is an error."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a seed or a range: "
                                             "write e.g. 0-4 or 0,2,5") from None
        if high < low:
            raise argparse.ArgumentTypeError(f"{part.strip()} is an empty range: write the lower seed first, "
                                             f"e.g. {high}-{low}")
        seeds += range(low, high + 1)
    return seeds


def _count(what: str, least: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``least``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid number of {what}: give a whole number of "
                                             f"at least {least}")
        return value
    return parse


def preset_name(name: str) -> str:
    """An argparse type: the name of a preset in ``PRESETS``."""
    if name not in PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return name


def _control(name: str) -> str:
    """An argparse type: the name of a control in ``CONTROLS``."""
    if name not in CONTROLS:
        raise argparse.ArgumentTypeError(f"unknown control {name!r}: choose one of {', '.join(CONTROLS)}")
    return name


def _override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=VALUE: write e.g. --set iterations=5000")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def writable_folder(text: str) -> Path:
    """An argparse type: a folder that exists and is writable, or that can be created (nothing is created here)."""
    path = Path(text).expanduser().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under {existing}, which is a file"
        raise argparse.ArgumentTypeError(f"{text} {where}, not a folder: choose a folder path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {existing}: choose a folder you can write to")
    return path


def add_chain_arguments(p: argparse.ArgumentParser, *, rounds: int | None, seeds: str) -> None:
    """The options that fix IMP chains, shared by ``sweep`` and ``run`` (``rounds=None``: required)."""
    if rounds is None:  # a sweep: one value, or one per preset
        p.add_argument("--rounds", nargs="+", type=_count("pruning rounds", 0), required=True,
                       help="pruning rounds after the dense round 0: one value, or one per preset")
    else:
        p.add_argument("--rounds", type=_count("pruning rounds", 0), default=rounds,
                       help=f"pruning rounds after the dense round 0 (default {rounds})")
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds(seeds), help=f"e.g. 0-4 or 0,1,2 (default {seeds})")
    p.add_argument("--control", nargs="*", type=_control, default=[],
                   help="controls trained beside the tickets (reinit, random_prune, ...)")
    p.add_argument("--rewind-iteration", type=_count("iterations", 0), default=0, help="default 0: θ0")
    p.add_argument("--set", type=_override, action="append", default=[], metavar="FIELD=VALUE",
                   help="config override, e.g. --set iterations=5000 (repeatable)")
    p.add_argument("--device", default=None, help="default: cuda when available, else cpu")


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m lottery_core sweep``."""
    p.add_argument("--preset", nargs="+", type=preset_name, default=["book"], help="preset name(s) (default: book)")
    add_chain_arguments(p, rounds=None, seeds="0")
    p.add_argument("--seeds-per-chain", type=_count("seeds per chain", 1), default=None,
                   help="split the seeds into chains of this many (default: all seeds in one chain, trained together)")
    p.add_argument("--name", default=None, help="chain name (one preset only; default: the preset name)")
    p.add_argument("--results-dir", type=writable_folder, required=True,
                   help="folder every worker reaches at the same path")
    p.add_argument("--address", default=None, help="a running Ray cluster (default: $RAY_ADDRESS, else local)")
    p.add_argument("--in-process", action="store_true", help="run the chains in this process, without Ray")
    p.add_argument("--num-cpus", type=_count("CPUs", 1), default=None, help="CPUs of a local Ray instance")
    p.add_argument("--cpus-per-chain", type=float, default=1)
    p.add_argument("--gpus-per-chain", type=float, default=None, help="default: 1 where the cluster has GPUs")
    p.add_argument("--max-retries", type=_count("retries", 0), default=3, help="retries of a chain whose worker died")


SWEEP_HELP = ("Run IMP chains (one per preset, or per group of seeds) as Ray tasks: a local Ray instance, or the "
              "cluster at --address / $RAY_ADDRESS. Without Ray the chains run one after another in this process.")


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m lottery_core sweep", description=SWEEP_HELP)
    add_sweep_arguments(p)
    return p


def experiments_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Experiment]:
    """The experiments that the command line names, each checked (unknown fields, names, rewinding) before any
    work; an inconsistent command line is ``parser.error``: one line, exit status 2."""
    rounds = args.rounds * len(args.preset) if len(args.rounds) == 1 else args.rounds
    if len(rounds) != len(args.preset):
        parser.error(f"argument --rounds: give one value or one per preset ({len(args.preset)}), "
                     f"not {len(args.rounds)}")
    if getattr(args, "name", None) is not None and len(args.preset) > 1:
        parser.error("argument --name: names a single preset's chain; drop it or give one --preset")
    experiments = []
    for preset, r in zip(args.preset, rounds):
        try:
            experiment = Experiment(getattr(args, "name", None) or preset, preset, rounds=r, seeds=args.seeds,
                                    control=args.control, rewind_iteration=args.rewind_iteration,
                                    overrides=dict(args.set))
            config = experiment.resolve()
        except ValueError as error:
            flag = "--name" if "experiment name" in str(error) else "--set"
            parser.error(f"argument {flag}: {error}")
        if args.rewind_iteration >= config.iterations:
            parser.error(f"argument --rewind-iteration: {args.rewind_iteration} is not below the {config.iterations} "
                         f"training iterations of {preset}: give a smaller iteration")
        experiments.append(experiment)
    if getattr(args, "seeds_per_chain", None) is not None:
        experiments = [part for e in experiments for part in e.split(args.seeds_per_chain)]
    return experiments


def run_sweep(args: argparse.Namespace, experiments: list[Experiment]) -> int:
    """Run the checked experiments, write ``sweep.csv`` and ``sweep_long.csv`` into the results folder and print
    one line per chain; exit status 1 when a chain failed."""
    result = sweep(experiments, args.results_dir, address=args.address,
                   backend="in-process" if args.in_process else "auto", num_cpus=args.num_cpus,
                   cpus_per_chain=args.cpus_per_chain, gpus_per_chain=args.gpus_per_chain,
                   max_retries=args.max_retries, device=args.device)
    root = Path(args.results_dir)
    result.frame.to_csv(root / "sweep.csv", index=False)
    result.long_frame.to_csv(root / "sweep_long.csv", index=False)
    for name, frame in result.frames.items():
        last = frame[frame["round"] == frame["round"].max()]
        print(f"{name}: {len(frame)} records, round {int(last['round'].iloc[0])} at {last['density'].iloc[0]:.2%} "
              f"of weights, ticket test acc {last['early_stop_test_acc'].mean():.2%} at early stop", flush=True)
    for name, error in result.failures.items():
        print(f"{name}: FAILED: {error}", flush=True)
    print(f"records: {root / 'sweep.csv'} and {root / 'sweep_long.csv'}", flush=True)
    return 1 if result.failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lottery_core sweep ...`` (``argv`` without the word ``sweep``). Every argument is checked
    before any data is loaded or any file written: a bad one exits with status 2 and one line."""
    parser = _parser()
    args = parser.parse_args(argv)
    return run_sweep(args, experiments_from_args(args, parser))
