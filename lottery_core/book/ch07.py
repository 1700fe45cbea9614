"""Chapter 7, rewinding and the learning rate: the claims its prose makes about the default run."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..arms import train_arms
from ..models import build_model
from ..stats import Interval
from .claims import Check, Claims, points
from .paths import plain

claims = Claims("07_rewinding")


def _runs(m: Mapping[str, Any]) -> dict[tuple[str, int], Mapping[str, Any]]:
    return {(r["setting"], r["k"]): r for r in m["runs"]}


@claims("ch07-default-rate", "At the default rate the ticket rewound to θ0 is clearly ahead of its reinitialised copy "
        "at about 21% of the weights, by six to twelve points, and about as accurate as the dense network or a "
        "little better.")
def _default_rate(m: Mapping[str, Any]) -> Check:
    run = _runs(m)[("default", 0)]
    margin, vs_dense = Interval.of(run["margin"]), Interval.of(run["ticket_vs_dense"])
    holds = (0.2 <= run["density"] <= 0.23 and margin.above() and 0.06 <= margin.mean <= 0.12
             and -0.005 < vs_dense.mean < 0.04)
    return Check(holds, f"at {run['density']:.1%}: ticket − reinit {margin.format()}; ticket − dense "
                 f"{vs_dense.format()}")


@claims("ch07-dense-collapses", "The dense network trains badly, 10 to 20 points below its accuracy at the default "
        "rate, and both of its pruned versions do far better than it")
def _dense_collapses(m: Mapping[str, Any]) -> Check:
    runs = _runs(m)
    high, default = runs[("high", 0)], runs[("default", 0)]
    drop = default["dense_acc"] - high["dense_acc"]
    pruned = {k: Interval.of(high[k]) for k in ("ticket_vs_dense", "reinit_vs_dense")}
    holds = 0.10 <= drop <= 0.20 and all(iv.above() and iv.mean > 0.08 for iv in pruned.values())
    return Check(holds, f"dense {points(-drop)} against the default rate; ticket − dense "
                 f"{pruned['ticket_vs_dense'].format()}, reinit − dense {pruned['reinit_vs_dense'].format()}")


@claims("ch07-edge-gone", "but the ticket rewound to θ0 is no longer measurably better than its reinitialised copy "
        "(the interval reaches below zero).")
def _edge_gone(m: Mapping[str, Any]) -> Check:
    margin = Interval.of(_runs(m)[("high", 0)]["margin"])
    return Check(not margin.above(), f"ticket − reinit at the high rate {margin.format()}")


@claims("ch07-rewinding-no-help", "Rewinding to θ100 did not give it back: that ticket is, if anything, behind its "
        "reinitialised copy, by several points on average.")
def _rewinding_no_help(m: Mapping[str, Any]) -> Check:
    k = m["rewind_iteration"]
    margin = Interval.of(_runs(m)[("high", k)]["margin"])
    return Check(k == 100 and not margin.above() and margin.mean < -0.02,
                 f"ticket rewound to θ{k} − reinit {margin.format()}")


@claims("ch07-dead-units", "At θ0 no hidden unit is off. After 100 iterations at the high rate, about nine in ten "
        "units of the second hidden layer are off for every training example, and almost none of the first "
        "layer's.")
def _dead_units(m: Mapping[str, Any]) -> Check:
    runs = _runs(m)
    at_start = all(v == 0 for key in (("default", 0), ("high", 0)) for v in runs[key]["dead_units_at_rewind"].values())
    first, second = runs[("high", m["rewind_iteration"])]["dead_units_at_rewind"].values()
    return Check(at_start and 0.8 <= second <= 1.0 and first < 0.05,
                 f"off at θ{m['rewind_iteration']}, high rate: {first:.0%} (first layer), {second:.0%} (second)")


def rewinding_metrics(*, configs: Mapping[str, Any], seeds: Sequence[int], rounds: int, rewind_iteration: int,
                      frame: Any, margins: Any, vs_dense: Any, dead: Any) -> dict:
    """Chapter 7's metrics file: the two learning rates and their (equal) budgets, k and its share of
    training, and per (setting, k) run: the dense, ticket and reinit accuracies (means over seeds), the
    paired intervals ticket − reinit, ticket − dense and reinit − dense, and the dead units at θk."""
    means = frame.groupby(["setting", "k", "arm"])["early_stop_test_acc"].mean()
    runs = []
    for (setting, k), part in margins.groupby(["setting", "k"], sort=False):
        row = part.iloc[0]
        diffs = vs_dense[(vs_dense["setting"] == setting) & (vs_dense["k"] == k)].set_index("arm")
        runs.append({
            "setting": setting, "k": int(k), "lr": configs[setting].lr, "iterations": configs[setting].iterations,
            "density": row["density"], "dense_acc": means[(setting, k, "dense")],
            "ticket_acc": means[(setting, k, "ticket")], "reinit_acc": means[(setting, k, "reinit")],
            "margin": {c: row[c] for c in ("mean", "low", "high", "n")},
            "ticket_vs_dense": {c: diffs.loc["ticket", c] for c in ("mean", "low", "high", "n")},
            "reinit_vs_dense": {c: diffs.loc["reinit", c] for c in ("mean", "low", "high", "n")},
            "dead_units_at_rewind": dead.loc[(setting, k)].to_dict(),
        })
    return plain({"seeds": list(seeds), "rounds": rounds, "rewind_iteration": rewind_iteration,
                  "learning_rates": {n: {"optimizer": c.optimizer, "lr": c.lr, "iterations": c.iterations}
                                     for n, c in configs.items()},
                  "config": configs["default"].to_dict(), "runs": runs})


def rewinding_table(frame: Any, margins: Any, vs_dense: Any) -> Any:
    """Chapter 7's table: per run, the mean test accuracies of the dense network, the ticket and its
    reinitialised copy, and the paired differences with their 95% intervals (percentage points)."""
    means = frame.groupby(["setting", "k", "arm"])["early_stop_test_acc"].mean()
    rows = []
    for m in margins.to_dict("records"):
        s, k = m["setting"], m["k"]
        d = vs_dense[(vs_dense["setting"] == s) & (vs_dense["k"] == k)].set_index("arm")
        rows.append({"run": rewinding_label(s, k), "dense (%)": f"{100 * means[(s, k, 'dense')]:.1f}",
                     f"ticket at {m['density']:.1%} (%)": f"{100 * means[(s, k, 'ticket')]:.1f}",
                     "reinit (%)": f"{100 * means[(s, k, 'reinit')]:.1f}",
                     "ticket − reinit": Interval.of(m).format(unit=""),
                     "ticket − dense": Interval.of(d.loc["ticket"]).format(unit=""),
                     "reinit − dense": Interval.of(d.loc["reinit"]).format(unit="")})
    return pd.DataFrame(rows).set_index("run")


@torch.no_grad()
def dead_units(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Per ReLU layer of ``model``, the share of units that output zero for every example of ``x``: such a
    unit passes no gradient to its incoming weights (chapter 7, at the rewinding point θk)."""
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out))
             for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    try:
        model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    return {f"hidden {i + 1}": float((out.flatten(2).amax(-1) if out.ndim > 2 else out).amax(0).le(0).float().mean())
            for i, out in enumerate(outputs)}


def dead_units_at_rewind(runs: Mapping[tuple[str, int], object], data) -> pd.DataFrame:
    """:func:`dead_units` of every run's rewind point θk (θ0 for k = 0) on the training inputs, mean over
    the run's seeds: one row per (setting, k) key of ``runs``, one column per hidden layer."""
    rows = {}
    for key, result in runs.items():
        shares = []
        for s in result.seeds:
            model = build_model(result.config.model, data.input_shape, data.num_classes, seed=s).to(data.device)
            model.load_state_dict(result.rewind_state(s))
            shares.append(dead_units(model, data.x_train))
        rows[key] = pd.DataFrame(shares).mean()
    return pd.DataFrame(rows).T.rename_axis(["setting", "k"])


def rewinding_frame(runs: Mapping[tuple[str, int], object], round: int, *, data,
                    progress: bool | str = False) -> pd.DataFrame:
    """Tidy data for chapter 7: for every IMP run in ``runs`` (keyed by (setting, k)), the dense network
    (round 0), the ticket at ``round`` and its random reinitialisation under the ticket's mask, one row
    per setting, k, seed and arm. A run rewound to θ0 that trained ``reinit`` at that round gives its own;
    for the others a ``reinit`` control is trained here from iteration 0 for the run's whole budget, as
    many iterations as the ticket's weights have seen (k dense, then T − k after rewinding)."""
    frames = []
    for (setting, k), result in runs.items():
        long = result.to_long_frame()
        keep = (long["round"] == 0) & (long["arm"] == "ticket")
        keep |= (long["round"] == round) & long["arm"].isin(["ticket", "reinit"])
        part = long[keep].assign(arm=lambda f: np.where(f["round"] == 0, "dense", f["arm"]))
        if result.rewind_iteration > 0 or not (part["arm"] == "reinit").any():
            part = part[part["arm"] != "reinit"]
            trained = train_arms(result, [round], ["reinit"], data=data, start_iteration=0, progress=progress)
            part = pd.concat([part, trained.frame], ignore_index=True)
        frames.append(part.assign(setting=setting, k=k))
    return pd.concat(frames, ignore_index=True)


def rewinding_curves(runs: Mapping[tuple[str, int], object], rounds: int) -> pd.DataFrame:
    """The tickets of every run in ``runs`` (keyed by (setting, k)) at rounds 0 to ``rounds``, tidy, with
    ``arm`` naming the run: for figures of accuracy against density."""
    frames = []
    for (setting, k), result in runs.items():
        long = result.to_long_frame()
        part = long[(long["arm"] == "ticket") & (long["round"] <= rounds)]
        frames.append(part.assign(arm=rewinding_label(setting, k)))
    return pd.concat(frames, ignore_index=True)


def rewinding_label(setting: str, k: int) -> str:
    """``"high rate, rewound to θ100"``."""
    return f"{setting} rate, rewound to θ{k}"
