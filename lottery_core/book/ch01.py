"""Chapter 1, the dense baseline: the claims its prose makes about the default run."""


from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch

from ..masks import prunable_parameters
from ..scale import xavier_std
from .claims import Check, Claims, points

claims = Claims("01_dense_baseline")


@claims("ch01-splits", "The book's preset therefore generates 12,500 signals with the same generator: a fifth "
        "for testing, and of the rest an eighth held out for validation.")
def _splits(m: Mapping[str, Any]) -> Check:
    s = m["splits"]
    return Check(s == {"train": 8750, "val": 1250, "test": 2500},
                 f"{s['train']:,} training, {s['val']:,} validation, {s['test']:,} test signals")


@claims("ch01-weights", "so the network has about 43,000 prunable weights instead of the paper's 266,000.")
def _weights(m: Mapping[str, Any]) -> Check:
    total = m["num_weights_total"]
    return Check(abs(total / 43_000 - 1) < 0.01, f"{total:,} prunable weights")


@claims("ch01-glorot", "The measured standard deviations agree with Glorot's σ to within sampling noise")
def _glorot(m: Mapping[str, Any]) -> Check:
    # The sample standard deviation of n normal draws has a relative standard error of about 1/sqrt(2n).
    errors = {k: abs(v["measured"] / v["xavier"] - 1) * math.sqrt(2 * v["fan_in"] * v["fan_out"])
              for k, v in m["init_std"].items()}
    return Check(all(e < 4 for e in errors.values()),
                 f"largest deviation {max(errors.values()):.1f} standard errors (4 allowed)")


@claims("ch01-late-minimum", "With the default settings the validation loss reaches its minimum late, in the "
        "second half of training, and the network classifies about three quarters of the MNIST-1D test signals "
        "correctly there.")
def _late_minimum(m: Mapping[str, Any]) -> Check:
    dense = m["dense"]
    it, acc = dense["early_stop_iteration"], dense["early_stop_test_acc"]
    return Check(it >= m["iterations"] / 2 and 0.70 <= acc <= 0.80,
                 f"minimum at iteration {it:,} of {m['iterations']:,}; test accuracy there {acc:.1%}")


@claims("ch01-end-of-training", "Its test accuracy at the end of training is within about a point of the "
        "early-stopping value, and its validation loss ends at most a few percent above its minimum")
def _end_of_training(m: Mapping[str, Any]) -> Check:
    dense = m["dense"]
    gap = dense["final_test_acc"] - dense["early_stop_test_acc"]
    rise = dense["final_val_loss"] / dense["early_stop_val_loss"] - 1
    return Check(abs(gap) <= 0.015 and 0 <= rise < 0.10,
                 f"end minus early stop {points(gap)}; validation loss {rise:+.1%} from its minimum to the end")


def split_table(data: Any) -> Any:
    """The dataset's three splits: number of examples and what each is used for (the paper's protocol:
    early stopping looks at the validation split only; the test split only reports)."""
    uses = {"train": "training (minibatches)", "val": "early stopping and every choice the book makes",
            "test": "reporting only"}
    sizes = {s: len(getattr(data, f"y_{s}")) for s in uses}
    total = sum(sizes.values())
    return pd.DataFrame({"examples": sizes, "share": {s: f"{n / total:.0%}" for s, n in sizes.items()},
                         "used for": uses}).rename(index={"train": "training", "val": "validation"})


def init_std_table(model: torch.nn.Module) -> pd.DataFrame:
    """Per prunable layer: shape, Glorot fans, number of weights, Glorot's σ and the standard deviation
    of the weights the model actually holds, and their ratio (Glorot & Bengio 2010)."""
    rows = []
    for key, w in prunable_parameters(model).items():
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
        sigma = xavier_std(fan_in, fan_out)
        rows.append({"layer": key, "shape": tuple(w.shape), "fan_in": fan_in, "fan_out": fan_out,
                     "weights": w.numel(), "xavier_std": sigma, "measured_std": w.detach().std().item(),
                     "measured / xavier": w.detach().std().item() / sigma})
    return pd.DataFrame(rows).set_index("layer")
