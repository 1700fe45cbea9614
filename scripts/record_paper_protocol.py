"""Record the paper's LeNet-300-100 protocol (Frankle & Carbin 2019, Figure 2 and Appendix G) on real images.

Iterative magnitude pruning rewinding to θ0, with the random-reinitialisation and random-pruning controls at
every density, for several seeds: Adam 1.2e-3, batch 60, 50,000 iterations per training, evaluation every 100
iterations, hidden layers pruned 20% and the output layer 10% per round. Meant for a GPU (about 10 s per
training on an H200); the records are written after every finished round, so an interrupted run leaves what it
finished and a second call with the same --checkpoint-dir resumes.

provenance.json ties the records to the code and the machine: the commit that git reports (with the sha256 of
``git diff HEAD`` when the tree has uncommitted changes) and the sha256 of the library's sources; the Python,
NumPy, torch, CUDA, cuDNN and driver versions; the sha256 of the data files, of the loaded tensors and of the
records; the exact command line.

    python scripts/record_paper_protocol.py --dataset fashion_mnist --seeds 0-4 --rounds 16 \
        --out lottery_core/records/fashion_mnist_lenet --checkpoint-dir /tmp/imp_fashion_mnist
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import lottery_core as lc

ROOT = Path(__file__).resolve().parents[1]
# torchvision's folder of each dataset under --root, and Debian's copy of Fashion-MNIST
DATA_FOLDERS = {"mnist": ["MNIST/raw"], "fashion_mnist": ["FashionMNIST/raw"], "cifar10": ["cifar-10-batches-py"]}
SYSTEM_DATA = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}


def seed_list(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,2,5' -> [0, 2, 5]."""
    if "-" in text:
        first, last = (int(t) for t in text.split("-"))
        return list(range(first, last + 1))
    return [int(t) for t in text.split(",")]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def code_state(root: Path = ROOT) -> dict:
    """The commit from git itself; when the tree differs from it, the sha256 of ``git diff HEAD`` and the untracked
    files; and the sha256 of the library's sources (the digest CHANGELOG.md records), which needs no git."""
    spec = importlib.util.spec_from_file_location("release", root / "scripts" / "release.py")
    release = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(release)
    head = _git(["rev-parse", "HEAD"], root)
    state = {"commit": head.decode().strip() if head else None, "library_sha256": release.library_digest(root)}
    if head:
        diff = _git(["diff", "HEAD", "--binary"], root)
        untracked = _git(["ls-files", "--others", "--exclude-standard"], root).decode().split()
        state["dirty"] = bool(diff) or bool(untracked)
        if state["dirty"]:
            state |= {"diff_sha256": hashlib.sha256(diff).hexdigest(), "untracked": untracked}
    return state


def software() -> dict:
    """Versions of what ran: Python, NumPy, torch, CUDA, cuDNN, the GPU driver, lottery_core."""
    driver = None
    if torch.cuda.is_available():
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        try:
            driver = subprocess.run(query, capture_output=True, text=True, check=True).stdout.split()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            driver = "unknown"
    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "driver": driver,
            "lottery_core": lc.__version__, "platform": platform.platform()}


def data_hashes(dataset: str, root: Path, data: lc.Dataset) -> dict:
    """sha256 of the dataset's files (torchvision's folder under ``root``, a system copy) and of the loaded tensors."""
    files = [f for folder in DATA_FOLDERS.get(dataset, []) for f in sorted((root / folder).glob("*")) if f.is_file()]
    if dataset in SYSTEM_DATA and SYSTEM_DATA[dataset].is_dir():
        files += sorted(f for f in SYSTEM_DATA[dataset].iterdir() if f.is_file())
    tensors = hashlib.sha256()
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        tensors.update(getattr(data, split).detach().cpu().contiguous().numpy().tobytes())
    return {"data_files": {str(f): sha256_file(f) for f in files}, "data_tensors_sha256": tensors.hexdigest()}


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
        "command": "python " + shlex.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "python_executable": sys.executable,
        "cwd": os.getcwd(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **code_state(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
        "software": software(),
        "config": config.to_dict(),
        "seeds": args.seeds,
        "controls": ["reinit", "random_prune"],
        "data": repr(data),
        **data_hashes(config.dataset, Path(args.root) if args.root else lc.data.default_root(), data),
    }
    _record(args, config, data, provenance)


def _record(args: argparse.Namespace, config: lc.ExperimentConfig, data: lc.Dataset, provenance: dict) -> None:
    """Run one more round per call, writing the records, their sha256 and the provenance after every round."""
    started = time.perf_counter()
    for r in range(args.rounds + 1):
        result = lc.run_imp(config, rounds=r, seeds=args.seeds, control=["reinit", "random_prune"], data=data,
                            checkpoint_dir=args.checkpoint_dir, verbose=False)
        records = args.out / "records.csv"
        result.to_long_frame().to_csv(records, index=False)
        provenance |= {"rounds_finished": r, "seconds": round(time.perf_counter() - started, 1),
                       "records_sha256": sha256_file(records)}
        (args.out / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
        print(f"round {r:2d} done after {provenance['seconds']:7.1f} s", flush=True)


if __name__ == "__main__":
    main()
