#!/usr/bin/env python
"""How long chapter 3's shared pruning run takes on this machine (a measurement, not a test).

Chapters 3 to 9 share one IMP run: the `book` preset (LeNet-300-100 on MNIST-1D, 3,000 iterations per
network), 15 pruning rounds, seeds 0-4, the controls `reinit` and `random_prune` at chapter 3's control
rounds. This script trains it once without any cache (in a temporary folder) and, in the same process,
times the bare training loop of ``bench_train.py`` (seconds per 1,000 MNIST-1D steps), so that a time
measured on one machine can be scaled to another: the book's reference speed is 0.45 s per 1,000 steps.

    python benchmarks/bench_shared_run.py                 # CPU, or CUDA where there is one
    python benchmarks/bench_shared_run.py --device cpu --markdown benchmarks/results/shared_run_cpu.md
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from bench_train import load_average, time_bare, usable_cores

import lottery_core as lc

REFERENCE = 0.45  # s per 1,000 bare-loop steps: the speed the README's book times are scaled to
ROUNDS, SEEDS = 15, [0, 1, 2, 3, 4]
CONTROL_ROUNDS = [1, 3, 5, 7, 9, 12, 15]  # chapter 3's parameters cell
BARE_STEPS = 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=str(lc.default_device()), help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the result to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    config = lc.get_preset("book")
    data = lc.load_dataset(config.dataset, seed=config.data_seed, device=device, num_samples=config.num_samples)
    load_before = load_average()
    time_bare(data, 200)  # warm-up: thread pools and allocations, not timed
    bare_before = time_bare(data, BARE_STEPS) / BARE_STEPS * 1000
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        lc.run_imp(config, rounds=ROUNDS, seeds=SEEDS, control=["reinit", "random_prune"],
                   control_rounds=CONTROL_ROUNDS, data=data, checkpoint_dir=folder, verbose=False)
        seconds = time.perf_counter() - started
    bare_after = time_bare(data, BARE_STEPS) / BARE_STEPS * 1000
    bare = (bare_before + bare_after) / 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}"
    lines = [
        "# Chapter 3's shared pruning run, timed",
        "",
        f"`python benchmarks/bench_shared_run.py --device {device.type}` on {time.strftime('%Y-%m-%d')}, "
        f"lottery_core {lc.__version__}, torch {torch.__version__}, {name}, {usable_cores()} usable cores, "
        f"{torch.get_num_threads()} torch threads, load average {load_before:.1f} before.",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| the shared run (15 rounds, 5 seeds, 2 controls at 7 rounds), no cache | {seconds:.0f} s |",
        f"| bare loop, s per 1,000 MNIST-1D steps (mean of before {bare_before:.2f} and after {bare_after:.2f}) "
        f"| {bare:.2f} |",
        f"| the shared run scaled to the reference speed ({REFERENCE} s per 1,000 steps) "
        f"| {seconds * REFERENCE / bare:.0f} s |",
    ]
    if max(bare_before, bare_after) > 1.3 * min(bare_before, bare_after):
        lines += ["", "The bare loop's speed changed by more than 30% during the run (other work on the machine): "
                  "the scaled time is unreliable; run again on a quiet machine."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
