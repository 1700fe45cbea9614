"""Record the paper's LeNet-300-100 protocol (Frankle & Carbin 2019, Figure 2 and Appendix G) on real images.

Iterative magnitude pruning rewinding to θ0, with the random-reinitialisation and random-pruning controls at
every density, for several seeds: Adam 1.2e-3, batch 60, 50,000 iterations per training, evaluation every 100
iterations, hidden layers pruned 20% and the output layer 10% per round. Meant for a GPU (about 10 s per
training on an H200); the records are written after every finished round, so an interrupted run leaves what it
finished and a second call with the same --checkpoint-dir resumes.

    python scripts/record_paper_protocol.py --dataset fashion_mnist --seeds 0-4 --rounds 16 \
        --out lottery_core/records/fashion_mnist_lenet --checkpoint-dir /tmp/imp_fashion_mnist
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

import lottery_core as lc


def seed_list(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,2,5' -> [0, 2, 5]."""
    if "-" in text:
        first, last = (int(t) for t in text.split("-"))
        return list(range(first, last + 1))
    return [int(t) for t in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--preset", default="lenet_mnist_paper")
    parser.add_argument("--seeds", type=seed_list, default=seed_list("0-4"))
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=None, help="default: the preset's (50,000)")
    parser.add_argument("--root", default=None, help="dataset folder (default: $LOTTERY_DATA)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checkpoint-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    config = lc.get_preset(args.preset, dataset=args.dataset, iterations=args.iterations)
    data = lc.load_dataset(config.dataset, seed=config.data_seed, root=args.root)
    args.out.mkdir(parents=True, exist_ok=True)
    provenance = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
        "torch": torch.__version__,
        "config": config.to_dict(),
        "seeds": args.seeds,
        "controls": ["reinit", "random_prune"],
        "data": repr(data),
    }
    started = time.perf_counter()
    for r in range(args.rounds + 1):  # one more round per call: records are on disk after every round
        result = lc.run_imp(config, rounds=r, seeds=args.seeds, control=["reinit", "random_prune"], data=data,
                            checkpoint_dir=args.checkpoint_dir, verbose=False)
        result.to_long_frame().to_csv(args.out / "records.csv", index=False)
        provenance |= {"rounds_finished": r, "seconds": round(time.perf_counter() - started, 1)}
        (args.out / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
        print(f"round {r:2d} done after {provenance['seconds']:7.1f} s", flush=True)


def _commit() -> str:
    """``$LOTTERY_COMMIT`` when set (a copy of the tree run elsewhere), otherwise the checked-out commit."""
    if os.environ.get("LOTTERY_COMMIT"):
        return os.environ["LOTTERY_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
