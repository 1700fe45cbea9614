#!/usr/bin/env python
"""What running IMP chains as Ray tasks costs (a measurement, not a test: it always exits 0).

Ray's cost is everything a sweep through Ray spends outside the chains themselves: starting the
local instance and its worker process, scheduling each task, sending the records back, and shutting
down. The script measures it as the sweep's wall time minus the time each chain ran inside its task
(``SweepResult.chains["seconds"]``), divided by the number of chains, and compares it with a
chain's own time. Both come from the same run; that difference, unlike a comparison of two separate
runs, holds on a machine whose load changes while it runs.

Every chain runs on one CPU with one torch thread: the sweep starts its own local Ray instance with
``num_cpus=1``, so the chains run one after another. For reference the same chains also run plainly,
``lc.run_imp(..., checkpoint_dir=...)`` in this process (the book chains half before and half after
the sweep), and the records of every way must be identical.

Two kinds of chain: the book's (the ``book`` preset of chapters 3 and 4: 3,000 iterations, 3 seeds
and the reinit and random-pruning controls, 15 rounds) and a tiny
one (100 iterations, 1 round, 1 seed). For the tiny chains the sweep also runs on a Ray instance that
is already running and warm, which leaves the cost of scheduling and result transfer alone, and in
this process (``backend="in-process"``). ``lc.sweep`` runs a chain round by round, resuming each
round from the checkpoint folder; the last line times loading a whole finished book chain, which
bounds what that resumption costs per round.

Run ``python benchmarks/bench_sweep.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

import lottery_core as lc
from lottery_core.sweep import Experiment

TARGET = 0.05  # Ray's cost per book chain, as a fraction of the chain's own time


def book_chains(args: argparse.Namespace) -> list[Experiment]:
    k = args.book_seeds
    return [Experiment(f"book{i}", "book", rounds=args.book_rounds, seeds=range(i * k, i * k + k),
                       control=["reinit", "random_prune"]) for i in range(args.book_chains)]


def tiny_chains(n: int, first: int = 0) -> list[Experiment]:
    return [Experiment(f"tiny{i}", "book", rounds=1, seeds=[i], overrides={"iterations": 100, "eval_every": 50})
            for i in range(first, first + n)]


def run_plain(experiments: list[Experiment], root: Path) -> tuple[float, dict[str, pd.DataFrame]]:
    """run_imp once per chain; (seconds, frames)."""
    frames, started = {}, time.perf_counter()
    for e in experiments:
        config = e.resolve()
        result = lc.run_imp(config, rounds=e.rounds, checkpoint_dir=root / e.name, verbose=False,
                            **e.imp_arguments(config))
        frames[e.name] = result.to_frame()
    return time.perf_counter() - started, frames


def run_sweep(experiments: list[Experiment], root: Path, **options) -> tuple[float, lc.SweepResult]:
    started = time.perf_counter()
    result = lc.sweep(experiments, root, verbose=False, **options)
    seconds = time.perf_counter() - started
    assert not result.failures, result.failures
    return seconds, result


def same(frames: dict[str, pd.DataFrame], result: lc.SweepResult) -> bool:
    return all(frames[name].equals(result.frames[name]) for name in frames)


def time_ray_alone() -> float:
    """ray.init(num_cpus=1) and ray.shutdown(), with nothing run."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=1)
    ray.shutdown()
    return time.perf_counter() - started


def measure_book(args: argparse.Namespace, tmp: Path) -> dict:
    chains = book_chains(args)
    half = len(chains) // 2
    first, frames = run_plain(chains[:half], tmp / "plain")  # before the Ray sweep ...
    ray_seconds, result = run_sweep(chains, tmp / "ray", num_cpus=1)
    last, more = run_plain(chains[half:], tmp / "plain")  # ... and after it
    e = chains[0]
    config = e.resolve()
    started = time.perf_counter()
    lc.run_imp(config, rounds=e.rounds, checkpoint_dir=tmp / "ray" / e.name, verbose=False, **e.imp_arguments(config))
    return {"chain": f"book preset: 3,000 iterations, {args.book_rounds} pruning rounds, {args.book_seeds} seeds "
                     f"and 2 controls per chain",
            "n": len(chains), "plain": first + last, "ray": ray_seconds, "task": list(result.chains["seconds"]),
            "same": same(frames | more, result), "load": time.perf_counter() - started, "rounds": e.rounds}


def measure_tiny(args: argparse.Namespace, tmp: Path) -> dict:
    import ray

    chains = tiny_chains(args.tiny_chains)
    plain, frames = run_plain(chains, tmp / "tiny-plain")
    inproc, in_result = run_sweep(chains, tmp / "tiny-inproc", backend="in-process")
    cold, cold_result = run_sweep(chains, tmp / "tiny-cold", num_cpus=1)
    ray.init(num_cpus=1)
    try:
        run_sweep(tiny_chains(1, first=len(chains)), tmp / "tiny-warmup")  # start and warm the worker
        warm, warm_result = run_sweep(chains, tmp / "tiny-warm")
    finally:
        ray.shutdown()
    return {"chain": "tiny: 100 iterations, 1 pruning round, 1 seed", "n": len(chains), "plain": plain, "ray": cold,
            "task": list(cold_result.chains["seconds"]), "in-process": inproc, "warm": warm,
            "warm_task": list(warm_result.chains["seconds"]),
            "same": same(frames, in_result) and same(frames, cold_result) and same(frames, warm_result)}


def fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def cost(wall: float, task: list[float]) -> tuple[float, float]:
    """(Ray's cost per chain in seconds, as a fraction of the mean chain time)."""
    per_chain = (wall - sum(task)) / len(task)
    return per_chain, per_chain / (sum(task) / len(task))


def render(rows: list[dict], ray_alone: float, seconds: float, loads: tuple) -> list[str]:
    import ray

    out = [
        "IMP chains through lc.sweep on a local Ray instance with 1 CPU (one chain at a time), against the time the "
        "chains ran inside their tasks; 1 torch thread everywhere",
        "",
        f"- CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        f"- Software: Python {platform.python_version()}, torch {torch.__version__}, ray {ray.__version__}",
        f"- Run: {seconds:.0f} s in all; load average {fmt(loads[0], 1)} before, {fmt(loads[1], 1)} after",
        f"- ray.init(num_cpus=1) + ray.shutdown() alone: {ray_alone:.1f} s",
        "",
        "| chain | chains | chain time in its task, mean s | sweep through Ray, s | Ray's cost per chain, s "
        "| / chain time | plain run_imp, mean s per chain | records identical |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        per_chain, fraction = cost(r["ray"], r["task"])
        out.append(f"| {r['chain']} | {r['n']} | {sum(r['task']) / r['n']:.2f} | {r['ray']:.2f} | {per_chain:.2f} | "
                   f"{fraction:.1%} | {r['plain'] / r['n']:.2f} | {'yes' if r['same'] else 'NO'} |")
    book, tiny = rows
    fraction = cost(book["ray"], book["task"])[1]
    warm = cost(tiny["warm"], tiny["warm_task"])[0]
    out += [
        "",
        f"Ray's cost per book chain: {fraction:.1%} of the chain's time (target <= {TARGET:.0%}): "
        f"{'PASS' if fraction <= TARGET else 'MISS'}",
        f"On a running, warm Ray instance (tiny chains): {warm:.3f} s per chain for scheduling and result transfer",
        f"Tiny chains in this process through lc.sweep(backend='in-process'): {tiny['in-process'] / tiny['n']:.2f} s "
        f"per chain",
        f"Loading a finished book chain ({book['rounds'] + 1} rounds) from its checkpoint folder: {book['load']:.2f} s",
    ]
    return out


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--book-chains", type=int, default=2, help="book chains (default 2)")
    p.add_argument("--book-rounds", type=int, default=15, help="rounds per book chain (default 15, as in the book)")
    p.add_argument("--book-seeds", type=int, default=3, help="seeds per book chain (default 3)")
    p.add_argument("--tiny-chains", type=int, default=8, help="tiny chains (default 8)")
    args = p.parse_args()
    torch.set_num_threads(1)  # a 1-CPU Ray task runs torch with one thread; so does this process
    before, started = load_average(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ray_alone = time_ray_alone()
        rows = [measure_book(args, Path(tmp)), measure_tiny(args, Path(tmp))]
    lines = render(rows, ray_alone, time.perf_counter() - started, (before, load_average()))
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
