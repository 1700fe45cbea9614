"""Command line of lottery_core: ``python -m lottery_core {sweep,run} ...`` and ``--version``.

Every argument is checked before any data is loaded or any file is written; a bad one ends the command with
one line naming the argument and the remedy, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from . import __version__
from .data import DatasetUnavailableError
from .sweep import (
    SWEEP_HELP,
    OneLineParser,
    add_chain_arguments,
    add_sweep_arguments,
    experiments_from_args,
    preset_name,
    run_chain,
    run_sweep,
    writable_folder,
)

# Chapter 3's defaults (book/03_winning_tickets.ipynb, parameters cell): the book preset, 15 rounds, seeds 0-4.
RUN_DEFAULTS = {"preset": "book", "rounds": 15, "seeds": "0-4"}
RUN_HELP = ("Run one IMP chain in this process (by default chapter 3's: the book preset, 15 pruning rounds, seeds "
            "0-4), resuming the rounds already in its folder; write <results-dir>/<name>.csv.")


def parser() -> argparse.ArgumentParser:
    """The whole command line: ``--version`` and the subcommands ``sweep`` and ``run``."""
    top = OneLineParser(prog="python -m lottery_core", description="The lottery_core command line.")
    top.add_argument("--version", action="version", version=f"lottery_core {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="{sweep,run}")
    sweep = commands.add_parser("sweep", help="IMP chains as Ray tasks (or in this process)", description=SWEEP_HELP)
    add_sweep_arguments(sweep)
    sweep.set_defaults(handler=_sweep, command_parser=sweep)
    run = commands.add_parser("run", help="one IMP chain in this process", description=RUN_HELP)
    run.set_defaults(handler=_run_one, command_parser=run)
    run.add_argument("--preset", type=preset_name, default=RUN_DEFAULTS["preset"], help="default: book")
    add_chain_arguments(run, rounds=RUN_DEFAULTS["rounds"], seeds=RUN_DEFAULTS["seeds"])
    run.add_argument("--name", default=None, help="the chain's name (default: the preset name)")
    run.add_argument("--results-dir", type=writable_folder, default="lottery_output/cli",
                     help="where the chain's checkpoints and records go (default: ./lottery_output/cli)")
    return top


def _run_one(args: argparse.Namespace, command: argparse.ArgumentParser) -> int:
    """``run``: train (or resume) the one chain and write its tidy records to ``<results-dir>/<name>.csv``."""
    args.preset, args.rounds = [args.preset], [args.rounds]
    (experiment,) = experiments_from_args(args, command)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    try:
        record = run_chain(experiment, args.results_dir, device=args.device)
    except (ValueError, DatasetUnavailableError) as error:  # e.g. a folder written by other settings
        print(f"python -m lottery_core run: {error}", file=sys.stderr)
        return 1
    out = args.results_dir / f"{experiment.name}.csv"
    pd.DataFrame(record["long"]).to_csv(out, index=False)
    print(f"records: {out}", flush=True)
    return 0


def _sweep(args: argparse.Namespace, command: argparse.ArgumentParser) -> int:
    return run_sweep(args, experiments_from_args(args, command))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and check ``argv`` (default: ``sys.argv[1:]``), then run the command; returns the exit status."""
    args = parser().parse_args(argv)
    return args.handler(args, args.command_parser)


if __name__ == "__main__":
    sys.exit(main())
