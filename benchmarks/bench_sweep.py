#!/usr/bin/env python
"""What running IMP chains as Ray tasks costs (a measurement, not a test: it always exits 0).

In one run it times the same chains three or four ways, on one CPU each, so that only the way they
are run differs:

* ``plain``: ``lc.run_imp(..., checkpoint_dir=...)`` called once per chain in this process (what a
  reader would write without ``lc.sweep``);
* ``sweep, in-process``: ``lc.sweep(..., backend="in-process")``, which runs each chain round by round;
* ``sweep through Ray, cold``: ``lc.sweep(..., num_cpus=1)`` starting its own local Ray instance with
  one CPU (so the chains run one after another, as above) and shutting it down: start-up, worker
  start, scheduling, result transfer and shut-down are all inside the time;
* ``sweep through Ray, warm`` (tiny chains only): the same sweep on a Ray instance that is already
  running and has run one chain, which leaves the cost of scheduling and result transfer per chain.

Two kinds of chain: the book's (chapters 3 and 4: the ``book`` preset, 3,000 iterations, 15 rounds,
3 seeds, the reinit and random-pruning controls) and a tiny one (100 iterations, 1 round, 1 seed).
The plain book chains run before and after the Ray sweep, so a change of the machine's load during
the run shows up on both sides. Run ``python benchmarks/bench_sweep.py --help`` for the options.
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
    plain = first + last
    return {"chain": f"book preset: 3,000 iterations, {args.book_rounds} pruning rounds, {args.book_seeds} seed(s) "
                     f"and 2 controls per chain",
            "n": len(chains), "plain": plain, "ray": ray_seconds, "in-process": None, "warm": None,
            "task": float(result.chains["seconds"].sum()), "same": same(frames | more, result)}


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
            "in-process": inproc, "warm": warm, "task": float(cold_result.chains["seconds"].sum()),
            "same": same(frames, in_result) and same(frames, cold_result) and same(frames, warm_result)}


def fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def render(rows: list[dict], ray_alone: float, seconds: float, loads: tuple) -> list[str]:
    import ray

    out = [
        "IMP chains run plainly (run_imp per chain), by lc.sweep in-process, and by lc.sweep through a local Ray "
        "instance with 1 CPU; 1 torch thread everywhere",
        "",
        f"- CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        f"- Software: Python {platform.python_version()}, torch {torch.__version__}, ray {ray.__version__}",
        f"- Run: {seconds:.0f} s in all; load average {fmt(loads[0], 1)} before, {fmt(loads[1], 1)} after",
        f"- ray.init(num_cpus=1) + ray.shutdown() alone: {ray_alone:.1f} s",
        "",
        "| chain | chains | plain, s | sweep in-process, s | sweep through Ray (cold), s | through Ray (warm), s "
        "| Ray's cost per chain, s | / plain chain | records identical |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        per_chain = (r["ray"] - r["plain"]) / r["n"]
        out.append(f"| {r['chain']} | {r['n']} | {fmt(r['plain'])} | {fmt(r['in-process'])} | {fmt(r['ray'])} | "
                   f"{fmt(r['warm'])} | {per_chain:.2f} | {per_chain / (r['plain'] / r['n']):.1%} | "
                   f"{'yes' if r['same'] else 'NO'} |")
    book = rows[0]
    ratio = (book["ray"] - book["plain"]) / book["plain"]
    out += ["", f"Ray's cost per book chain: {ratio:.1%} of the chain's time (target <= {TARGET:.0%}): "
                f"{'PASS' if ratio <= TARGET else 'MISS'}"]
    tiny = rows[-1]
    if tiny["warm"] is not None:
        marginal = (tiny["warm"] - tiny["in-process"]) / tiny["n"]
        out.append(f"Scheduling and result transfer per chain on a running Ray instance (tiny chains, warm - "
                   f"in-process): {marginal:.3f} s")
    return out


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--book-chains", type=int, default=2, help="book chains (default 2)")
    p.add_argument("--book-rounds", type=int, default=15, help="pruning rounds of a book chain (default 15)")
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
