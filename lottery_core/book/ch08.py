"""Chapter 8, stability: the error barrier against the rewind iteration k, its summary over seeds, the figure,
and the claims the chapter's prose makes about the default run.

Barriers are in fractions of the test set (0.02 is the 2% threshold of Frankle et al. 2020); every interval
is a 95% Student-t interval over seeds, paired by seed where two arms are compared (same θ0, same θk, same
data orders of the two copies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..stability import STABLE_THRESHOLD
from ..stats import Interval, paired_interval
from .claims import Check, Claims

claims = Claims("08_stability")


def summary(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per (arm, k): mean density, the barrier's mean and 95% t interval over seeds, and the mean test
    accuracy of the two trained copies. ``curves`` holds :func:`~lottery_core.instability_curve` rows plus an
    ``arm`` column."""
    rows = []
    for (arm, k), g in curves.groupby(["arm", "k"], sort=False):
        iv = paired_interval(g["barrier"].to_numpy(float))
        rows.append({"arm": arm, "k": int(k), "density": g["density"].mean(), "barrier": iv["mean"],
                     "low": iv["low"], "high": iv["high"], "n": iv["n"],
                     "copy_acc": (g["acc_a"].mean() + g["acc_b"].mean()) / 2})
    return pd.DataFrame(rows)


def table(summary_frame: pd.DataFrame) -> pd.DataFrame:
    """The summary as the chapter shows it: barrier (percentage points, mean [95% t]) per arm and k."""
    cells = {(r.arm, r.k): f"{100 * r.barrier:.1f} [{100 * r.low:.1f}, {100 * r.high:.1f}]"
             for r in summary_frame.itertuples()}
    out = pd.Series(cells).unstack()
    out.index.name, out.columns.name = "arm", "k (iterations)"
    return out


def figure(summary_frame: pd.DataFrame, title: str, ax: plt.Axes | None = None) -> plt.Axes:
    """The barrier against k (symmetric-log x axis, so k = 0 shows), one line per arm with its 95% t band, and
    the 2% threshold."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for arm, g in summary_frame.groupby("arm", sort=False):
        ax.plot(g["k"], 100 * g["barrier"], marker="o", label=arm)
        ax.fill_between(g["k"], 100 * g["low"], 100 * g["high"], alpha=0.2)
    ax.axhline(100 * STABLE_THRESHOLD, color="grey", linestyle="--", label="2% threshold (Frankle et al. 2020)")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(left=-2)  # k >= 0: no negative half of the symmetric-log axis
    ax.set(xlabel="rewind iteration k (iterations, symmetric-log scale)",
           ylabel="test error barrier (percentage points)", title=title)
    ax.legend(title="mean and 95% t interval over seeds", fontsize="small")
    return ax


def imp_accuracy(frame: pd.DataFrame, rounds: Sequence[int]) -> dict[str, Any]:
    """IMP's early-stopping test accuracy at ``rounds`` against the dense network (round 0), paired by seed."""
    acc = frame.pivot_table(index="seed", columns="round", values="early_stop_test_acc")
    density = frame.groupby("round")["density"].mean()
    return {"dense": float(acc[0].mean()),
            "rounds": [{"round": int(r), "density": float(density[r]), "accuracy": float(acc[r].mean()),
                        **paired_interval(acc[r].to_numpy(float), acc[0].to_numpy(float))} for r in rounds]}


def accuracy_table(imp: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`imp_accuracy` as a table: each ticket's density, its test accuracy, and ticket − dense."""
    rows = [{"round": r["round"], "weights remaining": f"{r['density']:.1%}", "ticket": f"{r['accuracy']:.1%}",
             "ticket − dense [95% t interval]": Interval.of(r).format()} for r in imp["rounds"]]
    return pd.DataFrame(rows).set_index("round").rename_axis(f"IMP (dense network {imp['dense']:.1%})")


def rewound_accuracy(frames: Mapping[int, pd.DataFrame], rounds: Sequence[int]) -> list[dict[str, Any]]:
    """IMP with rewinding to θk (Frankle et al. 2019; 2020, Section 5): for each k of ``frames`` (k -> that
    run's :meth:`~lottery_core.ImpResult.to_frame`, k = 0 included) and each of ``rounds``, the ticket's
    early-stopping test accuracy with its 95% t interval over seeds, ticket − dense, and ticket − the ticket
    that IMP rewound to θ0 finds at the same round, both paired by seed."""
    if 0 not in frames:
        raise ValueError("rewound_accuracy compares with IMP rewound to θ0: frames needs k = 0")
    acc = {k: f.pivot_table(index="seed", columns="round", values="early_stop_test_acc") for k, f in frames.items()}
    density = frames[0].groupby("round")["density"].mean()
    rows = []
    for k in sorted(frames):
        for r in rounds:
            a = acc[k][r].to_numpy(float)
            row = {"k": int(k), "round": int(r), "density": float(density[r]), "accuracy": paired_interval(a),
                   "vs_dense": paired_interval(a, acc[k][0].to_numpy(float))}
            if k != 0:
                row["vs_theta0"] = paired_interval(a, acc[0][r].to_numpy(float))
            rows.append(row)
    return rows


def rewound_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`rewound_accuracy` as a table: one row per ticket (density) and k, with its accuracy and the two
    paired differences (percentage points, mean [95% t])."""
    table = pd.DataFrame([{"weights remaining": f"{r['density']:.1%}", "k": r["k"],
                           "ticket accuracy (%)": Interval.of(r["accuracy"]).format(unit="", signed=False),
                           "ticket − dense": Interval.of(r["vs_dense"]).format(),
                           "ticket − IMP rewound to θ0": Interval.of(r["vs_theta0"]).format() if "vs_theta0" in r
                           else "(itself)"} for r in rows])
    return table.set_index(["weights remaining", "k"]).rename_axis(["weights remaining", "IMP rewound to θk, k ="])


def rewound_figure(rows: Sequence[Mapping[str, Any]], dense: float, ax: plt.Axes | None = None) -> plt.Axes:
    """The test accuracy of IMP's tickets against the rewind point k (same symmetric-log axis as
    :func:`figure`), one line per density with its 95% t band, and the dense network's mean accuracy."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = pd.DataFrame([{"density": r["density"], "k": r["k"], **r["accuracy"]} for r in rows])
    for density, g in frame.groupby("density", sort=False):
        g = g.sort_values("k")
        ax.plot(g["k"], 100 * g["mean"], marker="o", label=f"IMP ticket, {density:.1%} of weights")
        ax.fill_between(g["k"], 100 * g["low"], 100 * g["high"], alpha=0.2)
    ax.axhline(100 * dense, color="black", linestyle=":", label="dense network (mean)")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(left=-2)
    ax.set(xlabel="IMP rewinds to θk: k (iterations, symmetric-log scale)", ylabel="test accuracy (%)",
           title="accuracy of the tickets IMP finds when it rewinds to θk")
    ax.legend(title="mean and 95% t interval over seeds", fontsize="small", loc="center left")
    return ax


def barrier_drop(curves: pd.DataFrame, arm: str, k_from: int, k_to: int) -> dict[str, float]:
    """The barrier at ``k_from`` minus the barrier at ``k_to`` for ``arm``, paired by seed."""
    g = curves[curves["arm"] == arm].pivot_table(index="seed", columns="k", values="barrier")
    return paired_interval(g[k_from].to_numpy(float), g[k_to].to_numpy(float))


def chapter_metrics(*, config, contrast_config, seeds: Sequence[int], curves: pd.DataFrame,
                    contrast: pd.DataFrame, imp: Mapping[str, Any],
                    rewound: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Everything the claims read, as plain JSON."""
    ks = sorted(int(k) for k in curves["k"].unique())
    k_late = min((k for k in ks if k >= 300), default=ks[-1])
    return {"seeds": list(seeds), "optimizer": config.optimizer, "lr": config.lr, "iterations": config.iterations,
            "contrast_optimizer": contrast_config.optimizer, "contrast_lr": contrast_config.lr,
            "rewind_iterations": ks, "k_late": k_late, "threshold": STABLE_THRESHOLD,
            "curve": summary(curves).to_dict("records"), "contrast": summary(contrast).to_dict("records"),
            "dense_drop": barrier_drop(curves, "dense", ks[0], k_late), "imp": dict(imp),
            "rewound": [dict(r) for r in rewound]}


def _rows(m: Mapping[str, Any], key: str = "curve") -> list[Mapping[str, Any]]:
    return m[key]


def _iv(row: Mapping[str, Any]) -> Interval:
    return Interval(row["barrier"], row["low"], row["high"], row["n"])


def _dense(m: Mapping[str, Any], key: str = "curve") -> dict[int, Mapping[str, Any]]:
    return {r["k"]: r for r in _rows(m, key) if r["arm"] == "dense"}


@claims("ch08-dense-unstable", "Trained with SGD at this large rate, the dense network is unstable at "
        "initialisation: at k = 0 its barrier is far above the 2% threshold, the whole interval above five points.")
def _dense_unstable(m: Mapping[str, Any]) -> Check:
    first = _dense(m)[m["rewind_iterations"][0]]
    return Check(first["k"] == 0 and _iv(first).above(0.05), f"k = 0: {_iv(first).format()}")


@claims("ch08-dense-stabilises", "A few hundred iterations of training make it stable: from k = 300 on, its mean "
        "barrier is below the 2% threshold, and the paired drop from k = 0 to k = 300 is more than five points "
        "(interval above five points).")
def _dense_stabilises(m: Mapping[str, Any]) -> Check:
    late = {k: r for k, r in _dense(m).items() if k >= 300}
    drop = Interval.of(m["dense_drop"])
    holds = bool(late) and m["k_late"] == 300 and all(r["barrier"] < m["threshold"] for r in late.values()) \
        and drop.above(0.05)
    means = ", ".join(f"k = {k}: {_iv(r).format()}" for k, r in sorted(late.items()))
    return Check(holds, f"{means}; drop from k = 0: {drop.format()}")


@claims("ch08-tickets-stable", "The tickets are stable at every k, even at k = 0 where the dense network is "
        "not: at both densities and every rewind point their mean barrier is below the 2% threshold.")
def _tickets_stable(m: Mapping[str, Any]) -> Check:
    tickets = [r for r in _rows(m) if r["arm"] != "dense"]
    worst = max(tickets, key=lambda r: r["barrier"], default=None)
    if worst is None:
        return Check(False, "no ticket in this run")
    return Check(worst["barrier"] < m["threshold"],
                 f"{len(tickets)} (density, k) pairs; highest {_iv(worst).format()} ({worst['arm']}, k = {worst['k']})")


@claims("ch08-ticket-accuracy", "At about a fifth of the weights the ticket is also more accurate than the dense "
        "network, with a paired interval above zero.")
def _ticket_accuracy(m: Mapping[str, Any]) -> Check:
    fifth = min(m["imp"]["rounds"], key=lambda r: abs(r["density"] - 0.21))
    iv = Interval.of(fifth)
    return Check(abs(fifth["density"] - 0.21) < 0.03 and iv.above(),
                 f"round {fifth['round']} ({fifth['density']:.1%}): ticket − dense {iv.format()}")


@claims("ch08-adam-contrast", "With the book's default Adam setting the same dense network is much closer to stable "
        "at initialisation: its barrier at k = 0 is a few points at most, well below the SGD setting's (the two "
        "intervals do not overlap).")
def _adam_contrast(m: Mapping[str, Any]) -> Check:
    adam, sgd = _dense(m, "contrast").get(0), _dense(m).get(0)
    if adam is None or sgd is None:
        return Check(False, "k = 0 is not in this run")
    holds = adam["barrier"] < 0.05 and adam["high"] < sgd["low"]
    return Check(holds, f"k = 0: Adam {_iv(adam).format()}; SGD {_iv(sgd).format()}")


def _later(m: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in m.get("rewound", []) if r["k"] > 0]


@claims("ch08-rewound-imp", "IMP that rewinds to θk finds tickets as good: rewound to k = 1,000 iterations, its "
        "tickets at both densities are more accurate than the dense network as well, each paired interval above zero.")
def _rewound_imp(m: Mapping[str, Any]) -> Check:
    rows = _later(m)
    holds = sorted({r["k"] for r in rows}) == [1000] and len({r["round"] for r in rows}) == 2 \
        and all(Interval.of(r["vs_dense"]).above() for r in rows)
    return Check(holds, "; ".join(f"k = {r['k']}, {r['density']:.1%}: {Interval.of(r['vs_dense']).format()}"
                                  for r in rows) or "no IMP run rewound to a later k")


@claims("ch08-rewinding-no-gain", "And the later rewind point is not clearly better than θ0: at both densities, "
        "IMP's ticket differs from the one IMP finds with rewinding to θ0 by less than three points on average "
        "(paired by seed; the table above gives each interval).")
def _rewinding_no_gain(m: Mapping[str, Any]) -> Check:
    rows = _later(m)
    holds = len(rows) == 2 and all(abs(r["vs_theta0"]["mean"]) < 0.03 for r in rows)
    return Check(holds, "; ".join(f"k = {r['k']}, {r['density']:.1%}: {Interval.of(r['vs_theta0']).format()}"
                                  for r in rows) or "no IMP run rewound to a later k")
