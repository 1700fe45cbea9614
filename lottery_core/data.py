"""Datasets as tensors on the training device, each with a held-out validation split.

Frankle & Carbin (2019, Figure 2) hold out 5K training examples of MNIST and CIFAR-10 for early
stopping; every dataset here has such a validation split. MNIST-1D (Greydanus & Kobak 2024) and
scikit-learn's 8x8 digits are generated or bundled locally and need no network. Fashion-MNIST
(Xiao et al. 2017) is read offline from Debian's ``dataset-fashion-mnist`` files when they are
installed; otherwise torchvision downloads MNIST, Fashion-MNIST and CIFAR-10 once into ``root``.
"""

from __future__ import annotations

import functools
import gzip
import os
import random
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

OFFLINE_DATASETS = ("mnist1d", "digits")
DOWNLOADED_DATASETS = ("mnist", "fashion_mnist", "cifar10")
DATASETS = OFFLINE_DATASETS + DOWNLOADED_DATASETS
DATASET_TITLES = {"mnist1d": "MNIST-1D", "digits": "scikit-learn digits", "mnist": "MNIST",
                  "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}  # names for figures and text


class DatasetUnavailableError(RuntimeError):
    """A dataset that must be downloaded is not cached and the network cannot be reached."""


@dataclass
class Dataset:
    """Train/validation/test tensors, already on the training device."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device: str | torch.device) -> Dataset:
        """A copy of the dataset on ``device``."""
        moved = {k: getattr(self, k).to(device) for k in _SPLITS}
        return Dataset(name=self.name, num_classes=self.num_classes, **moved)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, 'x_' + s))}" for s in ("train", "val", "test"))
        return f"Dataset({self.name!r}, input_shape={self.input_shape}, {sizes}, device={self.device})"


_SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def default_device() -> torch.device:
    """CUDA when available, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_root() -> Path:
    """Download folder: ``$LOTTERY_DATA`` or ``~/.cache/lottery_core``."""
    return Path(os.environ.get("LOTTERY_DATA", Path.home() / ".cache" / "lottery_core"))


def load_dataset(
    name: str = "mnist1d",
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    root: str | os.PathLike | None = None,
    num_samples: int | None = None,
) -> Dataset:
    """Load ``name`` with a validation split held out of the training set.

    ``seed`` fixes which training examples form the validation split. ``num_samples`` sets the
    size of MNIST-1D (default 5,000, the published dataset: 4,000 train and 1,000 test examples).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    device = torch.device(device) if device is not None else default_device()
    if name == "mnist1d":
        arrays = _mnist1d(num_samples)
        val_size = len(arrays[0]) // 8
    elif name == "digits":
        arrays = _digits(seed)
        val_size = len(arrays[0]) // 8
    else:
        arrays = _torchvision(name, Path(root) if root is not None else default_root())
        val_size = 5000
    x_tr, y_tr, x_te, y_te = arrays
    order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    tensors = {
        "x_train": x_tr[train_idx],
        "y_train": y_tr[train_idx],
        "x_val": x_tr[val_idx],
        "y_val": y_tr[val_idx],
        "x_test": x_te,
        "y_test": y_te,
    }
    tensors = {k: v.to(device) for k, v in tensors.items()}
    return Dataset(name=name, num_classes=10, **tensors)


def _as_tensors(x_tr, y_tr, x_te, y_te):
    return (
        torch.as_tensor(np.asarray(x_tr), dtype=torch.float32),
        torch.as_tensor(np.asarray(y_tr), dtype=torch.long),
        torch.as_tensor(np.asarray(x_te), dtype=torch.float32),
        torch.as_tensor(np.asarray(y_te), dtype=torch.long),
    )


def _mnist1d(num_samples: int | None):
    if num_samples is not None and num_samples < 100:
        raise ValueError(f"num_samples must be at least 100, got {num_samples}")
    return tuple(t.clone() for t in _mnist1d_cached(num_samples))


@functools.lru_cache(maxsize=4)
def _mnist1d_cached(num_samples: int | None):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args(as_dict=False)
    if num_samples is not None:
        args.num_samples = int(num_samples)
    # make_dataset seeds Python's and NumPy's global generators; leave the caller's state as it was.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)  # generated locally from the templates; never downloads
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return _as_tensors(raw["x"], raw["y"], raw["x_test"], raw["y_test"])


def _digits(seed: int):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.data / 16.0
    y = bunch.target
    order = np.random.default_rng(seed + 1).permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    return _as_tensors(x[train], y[train], x[test], y[test])


_TV_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_TV_HOSTS = {
    "mnist": "ossci-datasets.s3.amazonaws.com",
    "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    "cifar10": "www.cs.toronto.edu",
}
# Datasets that an operating-system package installs: Debian's `dataset-fashion-mnist` ships the four
# original IDX files (the ones torchvision downloads) in this folder.
SYSTEM_DATA = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}


def _network_reachable(host: str, timeout: float = 4.0) -> bool:
    """Whether a TCP connection to ``host:443`` opens within ``timeout`` (DNS included)."""
    result = {"ok": False}

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return result["ok"]


def _import_torchvision():
    try:
        import torchvision
    except ImportError:
        raise ModuleNotFoundError(
            "MNIST, Fashion-MNIST and CIFAR-10 are read through torchvision, which is not installed: "
            "pip install torchvision (or install lottery_core with its extra: pip install -e '.[vision]'). "
            f"The offline datasets {', '.join(OFFLINE_DATASETS)} need no torchvision.",
            name="torchvision",
        ) from None
    return torchvision


def _stage_system_files(name: str, cls, root: Path) -> None:
    """Unpack an installed system copy of ``name`` into torchvision's raw folder under ``root``.

    Debian recompressed the archives (their checksums differ from torchvision's list), so each
    unpacked file is checked instead: a well-formed IDX file whose size matches its header.
    No network is involved; a file that fails the check is left out and torchvision's own
    cache or download is used instead.
    """
    source = SYSTEM_DATA.get(name)
    if source is None or not source.is_dir():
        return
    raw = root / cls.__name__ / "raw"
    for filename, _ in getattr(cls, "resources", ()):
        target, archive = raw / filename.removesuffix(".gz"), source / filename
        if target.exists() or not archive.exists():
            continue
        raw.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with gzip.open(archive, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        if _is_idx_file(partial):
            partial.replace(target)  # atomic: a reader never sees half a file
        else:
            partial.unlink()


def _is_idx_file(path: Path) -> bool:
    """An IDX file of unsigned bytes (LeCun's MNIST format): magic 0x0000_08_nd, nd sizes, then the data."""
    with open(path, "rb") as f:
        header = f.read(4)
        if len(header) < 4 or header[:3] != b"\x00\x00\x08" or not 1 <= header[3] <= 3:
            return False
        sizes = np.frombuffer(f.read(4 * header[3]), dtype=">u4")
    return len(sizes) == header[3] and path.stat().st_size == 4 + 4 * header[3] + int(np.prod(sizes))


def _torchvision(name: str, root: Path):
    cls = getattr(_import_torchvision().datasets, _TV_CLASSES[name])
    root.mkdir(parents=True, exist_ok=True)
    _stage_system_files(name, cls, root)
    try:  # already cached (or unpacked from the system's files): no network needed
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError:
        if not _network_reachable(_TV_HOSTS[name]):
            raise DatasetUnavailableError(
                f"dataset {name!r} is not cached in {root} and cannot be downloaded (no network). "
                f"Use an offline dataset instead: {', '.join(OFFLINE_DATASETS)}; or download it once "
                f"where the network is reachable and point $LOTTERY_DATA (or root=) at the folder."
                + _system_hint(name)
            ) from None
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    x_tr, x_te = _images(train.data), _images(test.data)
    mean = x_tr.mean(dim=(0, 2, 3), keepdim=True)
    std = x_tr.std(dim=(0, 2, 3), keepdim=True)
    y_tr = torch.as_tensor(np.asarray(train.targets), dtype=torch.long)
    y_te = torch.as_tensor(np.asarray(test.targets), dtype=torch.long)
    return (x_tr - mean) / std, y_tr, (x_te - mean) / std, y_te


def _system_hint(name: str) -> str:
    if name != "fashion_mnist":
        return ""
    return (f" On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` installs Fashion-MNIST in "
            f"{SYSTEM_DATA[name]}, where it is read offline.")


def _images(data) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) as float (N, C, H, W) in [0, 1]."""
    x = torch.as_tensor(np.asarray(data))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(255.0)
