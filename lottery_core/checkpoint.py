"""The only writer and reader of files that runs leave behind: atomic writes, code-free reads."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` (JSON text for a ``.json`` path) to a temporary file in the same folder, then
    rename it over ``path``: a reader never sees a half-written file, even when the writer is killed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if path.suffix == ".json":
                handle.write(json.dumps(obj, indent=1, sort_keys=True).encode())
            else:
                torch.save(obj, handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """Read a file written by :func:`atomic_save`: tensors and plain containers only
    (``weights_only=True``), so a file never runs code. A damaged file, or one holding anything
    else, is a ``ValueError`` naming it; a missing one is ``FileNotFoundError``."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text())
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, UnicodeDecodeError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(f"{path} cannot be read: {reason}") from error
