"""Chapter 2, pruning and masks: the claims its prose makes about one-shot pruning in the default run."""


from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch

from ..stats import Interval, paired_differences, paired_interval
from .claims import Check, Claims
from .paths import plain
from .tables import intervals_as_records

claims = Claims("02_pruning_and_masks")


def _at_rate(m: Mapping[str, Any], key: str, rate: float) -> Interval:
    return Interval.of(next(iv for iv in m[key] if iv["rate"] == rate))


@claims("ch02-spread", "Training spreads the first layer's weights out: their standard deviation grows by more "
        "than half")
def _spread(m: Mapping[str, Any]) -> Check:
    ratio = m["weight_std"]["trained"] / m["weight_std"]["initial"]
    return Check(ratio > 1.5, f"trained / initial standard deviation {ratio:.2f}")


@claims("ch02-a-fifth", "Removing the smallest fifth of each hidden layer costs about a point of test accuracy "
        "at most; removing a random fifth costs 20 to 30 points.")
def _a_fifth(m: Mapping[str, Any]) -> Check:
    i = m["rates"].index(0.2)
    cost = {arm: m["dense_test_acc"] - m["one_shot_test_acc"][arm][i] for arm in ("magnitude", "random")}
    return Check(cost["magnitude"] <= 0.015 and 0.20 <= cost["random"] <= 0.30,
                 f"cost of the smallest fifth {100 * cost['magnitude']:.1f} points, of a random fifth "
                 f"{100 * cost['random']:.1f} points")


@claims("ch02-magnitude-ahead", "Magnitude pruning stays ahead, with an interval well above zero, at every rate "
        "until both end up at chance.")
def _magnitude_ahead(m: Mapping[str, Any]) -> Check:
    chance = 1 / m["num_classes"]
    tested = [(rate, _at_rate(m, "magnitude_minus_random", rate)) for i, rate in enumerate(m["rates"])
              if rate > 0 and m["one_shot_test_acc"]["magnitude"][i] > chance + 0.05]
    low_rate, low = min(tested, key=lambda t: t[1].low)
    return Check(all(iv.above() for _, iv in tested),
                 f"{len(tested)} rates above chance; smallest gap interval {low.format()} at rate {low_rate:.0%}")


@claims("ch02-norm", "the smallest fifth of the weights carry only a tiny share of the squared weight norm "
        "$\\sum w^2$, while a random fifth carries about a fifth of it")
def _norm(m: Mapping[str, Any]) -> Check:
    i = m["rates"].index(0.2)
    share = {arm: m["norm_removed"][arm][i] for arm in ("magnitude", "random")}
    return Check(share["magnitude"] < 0.02 and abs(share["random"] - 0.2) < 0.03,
                 f"share of the squared norm removed: {share['magnitude']:.1%} (smallest), {share['random']:.1%} "
                 "(random)")


@claims("ch02-safe-rate", "Judged on validation accuracy, magnitude pruning stays within about a point of the "
        "dense network while up to roughly a third of the weights are removed")
def _safe_rate(m: Mapping[str, Any]) -> Check:
    return Check(0.2 <= m["safe_rate"] <= 0.4, f"largest such rate {m['safe_rate']:.0%}")


@claims("ch02-deep-fails", "deep pruning without retraining fails: with a tenth of the weights left the network "
        "is wrong on most test signals, and with 2% left it is at chance.")
def _deep_fails(m: Mapping[str, Any]) -> Check:
    acc, densities = m["one_shot_test_acc"]["magnitude"], m["densities"]
    tenth = min(range(len(densities)), key=lambda i: abs(densities[i] - 0.1))
    return Check(acc[tenth] < 0.5 and abs(densities[-1] - 0.02) < 0.005 and acc[-1] < 1 / m["num_classes"] + 0.03,
                 f"test accuracy {acc[tenth]:.1%} at {densities[tenth]:.1%} of the weights, {acc[-1]:.1%} at "
                 f"{densities[-1]:.1%}")


@claims("ch02-global", "Global pruning keeps almost exactly the layer-wise share of each hidden layer")
def _global_shares(m: Mapping[str, Any]) -> Check:
    hidden = [k for k in m["layer_sizes"] if k != m["output_layer"]]
    gaps = [abs(g[k] - w[k]) for g, w in zip(m["layer_densities"]["global"], m["layer_densities"]["magnitude"])
            for k in hidden]
    return Check(max(gaps) <= 0.02, f"largest difference in a hidden layer's share {100 * max(gaps):.1f} points")


@claims("ch02-global-accuracy", "With the default settings the accuracy differences between the two stay within "
        "two points at every density, and most intervals include zero.")
def _global_accuracy(m: Mapping[str, Any]) -> Check:
    differences = [Interval.of(iv) for iv in m["global_minus_layerwise"][1:]]
    largest = max(abs(iv.mean) for iv in differences)
    including = sum(iv.includes(0) for iv in differences)
    return Check(largest <= 0.02 and including > len(differences) / 2,
                 f"largest |global − layer-wise| {100 * largest:.1f} points; {including} of {len(differences)} "
                 "intervals include zero")


@claims("ch02-adjacency", "With the default settings, the magnitude masks keep neighbouring inputs together "
        "clearly more often than random masks of the same size, for every seed")
def _adjacency(m: Mapping[str, Any]) -> Check:
    adjacency = m["adjacency"]
    every = all(row["magnitude"] > row["random"] for row in adjacency["per_seed"])
    return Check(Interval.of(adjacency["difference"]).above() and every,
                 f"magnitude − random {Interval.of(adjacency['difference']).format(unit=' points')}; "
                 f"higher in {sum(r['magnitude'] > r['random'] for r in adjacency['per_seed'])} of "
                 f"{len(adjacency['per_seed'])} seeds")


def one_shot_table(sweep: Any) -> Any:
    """Per pruning rate of a :func:`~lottery_core.one_shot_sweep` (means over seeds and draws): weights
    remaining, validation and test accuracy of each arm, and the share of Σw² each arm removes."""
    means = sweep.groupby(["rate", "arm"])[["density", "val_acc", "test_acc", "norm_removed"]].mean().unstack("arm")
    table = pd.DataFrame({"weights remaining": means["density"]["magnitude"]})
    for arm in [a for a in ("magnitude", "random", "global") if a in means["test_acc"]]:
        table[f"test accuracy, {arm}"] = means["test_acc"][arm]
    for arm in [a for a in ("magnitude", "random") if a in means["norm_removed"]]:
        table[f"Σw² removed, {arm}"] = means["norm_removed"][arm]
    return table.rename_axis("pruning rate")


def pruning_metrics(sweep: Any, adjacency: Any, *, show_rate: float, num_classes: int) -> dict:
    """The numbers chapter 2 records from a :func:`~lottery_core.one_shot_sweep` (with rate 0, the dense
    networks) and a first-layer adjacency table (one row per seed, columns ``magnitude`` and ``random``).
    Comparisons are paired by seed with 95% t intervals; the "safe" rate is chosen on validation accuracy."""
    def compare(arm: str, baseline: str, metric: str = "test_acc") -> Any:
        return paired_differences(sweep, arm, baseline, metric, by="rate", dense_arm="magnitude")

    table = one_shot_table(sweep)
    rates = [float(r) for r in table.index]
    arms = [a for a in ("magnitude", "random", "global") if a in set(sweep["arm"])]
    layers = [c for c in sweep.columns if c.endswith("weight")]
    per_seed = sweep.groupby(["arm", "seed", "rate"])["test_acc"].mean()
    return plain({
        "rates": rates,
        "seeds": sorted(int(s) for s in sweep["seed"].unique()),
        "num_classes": num_classes,
        "densities": table["weights remaining"].tolist(),
        "dense_test_acc": float(table["test accuracy, magnitude"].iloc[0]),
        "dense_test_acc_per_seed": {str(s): float(per_seed[("magnitude", s, rates[0])])
                                    for s in sweep["seed"].unique()},
        "one_shot_test_acc": {a: table[f"test accuracy, {a}"].tolist() for a in arms},
        "one_shot_test_acc_per_seed": {a: {str(s): per_seed[a][s].tolist() for s in sweep["seed"].unique()}
                                       for a in arms},
        "layer_densities": {a: sweep[sweep["arm"] == a].groupby("rate")[layers].mean().to_dict("records")
                            for a in arms},
        "norm_removed": {a: table[f"Σw² removed, {a}"].tolist() for a in ("magnitude", "random")},
        "magnitude_minus_random": intervals_as_records(compare("magnitude", "random"), by="rate"),
        "magnitude_minus_dense": intervals_as_records(compare("magnitude", "dense"), by="rate"),
        "magnitude_minus_dense_val": intervals_as_records(compare("magnitude", "dense", "val_acc"), by="rate"),
        "global_minus_layerwise": intervals_as_records(compare("global", "magnitude"), by="rate"),
        "safe_rate": last_within(compare("magnitude", "dense", "val_acc"), 0.01, by="rate"),
        "norm_rate": min(rates[1:], key=lambda r: abs(r - 0.2)),
        "global_rate": min(rates[1:], key=lambda r: abs(r - 0.9)),
        "show_rate": show_rate,
        "adjacency": {"magnitude": float(adjacency["magnitude"].mean()), "random": float(adjacency["random"].mean()),
                      "difference": paired_interval(adjacency["magnitude"], adjacency["random"]),
                      "per_seed": adjacency.reset_index().to_dict("records")},
    })


def mask_adjacency(mask: torch.Tensor) -> float:
    """Of the kept connections of a fully-connected layer (rows: output units, columns: inputs in order),
    the share whose neighbour to the right (the next input of the same unit) is kept too. A random mask
    of density d gives about d; spatially local masks give more (Greydanus & Kobak 2024, MNIST-1D's
    lottery-ticket experiment)."""
    m = mask.bool().flatten(1).cpu()
    if m.shape[1] < 2:
        raise ValueError("need at least two inputs per unit")
    left = m[:, :-1]
    kept = int(left.sum())
    return float((left & m[:, 1:]).sum()) / kept if kept else math.nan


def last_within(differences: pd.DataFrame, tolerance: float, *, by: str = "round") -> float | int | None:
    """The largest ``by`` value up to which every mean difference (``paired_differences`` output, e.g.
    pruned − dense validation accuracy) stays above ``-tolerance``; ``None`` if the first one does not."""
    last = None
    for _, row in differences.sort_values(by).iterrows():
        if row["mean"] < -tolerance:
            break
        last = row[by]
    return last.item() if hasattr(last, "item") else last
