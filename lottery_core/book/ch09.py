"""Chapter 9, what makes a ticket: supermasks and the masks of Zhou, Lan, Liu & Yosinski (NeurIPS 2019,
"Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask"), the ticket's signs, and pruning at
initialisation (SNIP, GraSP, SynFlow, magnitude at θ0) under the layer-wise shuffle of Frankle, Dziugaite, Roy &
Carbin (ICLR 2021, "Pruning Neural Networks at Initialization: Why Are We Missing the Mark?"); the chapter's
metrics, tables, figure and claim checks.

Accuracies are fractions of the test set; every interval is a 95% Student-t interval over seeds, paired by seed
where two arms are compared (same θ0, same minibatch order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..arms import Arm, arm_seed, train_together
from ..data import Dataset
from ..masks import Mask
from ..pruning import random_prune
from ..results import ImpResult, metrics
from ..saliency import mask_from_scores, prune_at_init, trained_scores
from ..starts import arm_init, arm_label
from ..stats import Interval, gap_closed, paired_interval
from .claims import Check, Claims
from .oneshot import masked_accuracy
from .plots import density_tick_values

claims = Claims("09_what_makes_a_ticket")

CRITERIA = ("large_final", "magnitude_increase")  # Zhou et al.'s mask criteria, from θ0 and the dense θT
SUPERMASKS = ("imp", *CRITERIA, "random")  # the masks whose untrained accuracy the chapter measures
SIGN_ARMS = ("sign_constant", "sign_shuffle", "ticket_random_signs")  # starts under the ticket's mask
PAI_METHODS = ("snip", "grasp", "synflow", "magnitude")  # pruning at initialisation, global scope
SHUFFLED = "_shuffled"  # suffix of a mask shuffled within each layer (random_prune: same per-layer counts)
REINIT = "_reinit"  # suffix of a mask trained from fresh weights (the network's own initialiser) instead of θ0
LABELS = {"imp": "IMP ticket's mask", "large_final": "large_final (|θT|)", "random": "random mask, same layer sizes",
          "magnitude_increase": "magnitude_increase (|θT| − |θ0|)", "snip": "SNIP", "grasp": "GraSP",
          "synflow": "SynFlow", "magnitude": "magnitude at θ0", "random_prune": "IMP ticket's mask, shuffled"}


def label(name: str) -> str:
    """A table and figure label for a mask, a method (``snip``, ``snip_shuffled``, ``snip_reinit``) or a named
    start."""
    for suffix, words in ((SHUFFLED, "shuffled"), (REINIT, "reinitialised")):
        if name.endswith(suffix) and name[: -len(suffix)] in LABELS:
            return f"{LABELS[name[: -len(suffix)]]}, {words}"
    return LABELS.get(name) or arm_label(name)


def zhou_masks(result: ImpResult, data: Dataset, round: int, seed: int) -> dict[str, Mask]:
    """IMP's mask at ``round``, Zhou et al.'s ``large_final`` and ``magnitude_increase`` masks one-shot from the
    dense run's θ0 and θT at that mask's per-layer densities, and a random mask with its per-layer counts."""
    ticket = result.mask(round, seed)
    model, theta0, final = result.network(data, seed), result.initial_state(seed), result.trained_state(0, seed)
    layers = ticket.layer_densities()
    masks = {"imp": ticket}
    for criterion in CRITERIA:
        masks[criterion] = mask_from_scores(trained_scores(criterion, model, theta0, final), layers, scope="layerwise")
    masks["random"] = random_prune(ticket, seed=arm_seed("random", seed, round))
    return masks


def supermask_frame(result: ImpResult, data: Dataset, rounds: Sequence[int]) -> pd.DataFrame:
    """Zhou et al.'s supermask test: validation and test accuracy of θ0 ⊙ m with no training, for every mask of
    :func:`zhou_masks`, every round in ``rounds`` and every seed. θ0 is used as drawn: no sign or scale change."""
    rows = []
    for r in rounds:
        for s in result.seeds:
            scratch = result.network(data, s)
            for name, mask in zhou_masks(result, data, r, s).items():
                acc = masked_accuracy(scratch, result.initial_state(s), mask, data)
                rows.append({"round": int(r), "seed": s, "arm": name, "density": mask.density(), **acc})
    return pd.DataFrame(rows)


def pai_masks(result: ImpResult, data: Dataset, seed: int, density: float, methods: Sequence[str],
              batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Mask]:
    """Each pruning-at-initialisation method's mask of the seed's θ0 at ``density``, global scope as the papers
    (SNIP of Lee et al. 2019, GraSP of Wang et al. 2020, SynFlow of Tanaka et al. 2020, |θ0|); SNIP and GraSP
    score ``batch``."""
    model = result.network(data, seed, result.initial_state(seed))
    return {m: prune_at_init(m, model, density, batch=batch, input_shape=data.input_shape) for m in methods}


def chapter_arms(result: ImpResult, data: Dataset, round: int, sign_arms: Sequence[str], methods: Sequence[str],
                 batch: tuple[torch.Tensor, torch.Tensor]) -> list[Arm]:
    """Every network the chapter trains from θ0, per seed: the named sign starts under the ticket's mask at
    ``round`` (:func:`~lottery_core.arm_init`, as ``train_arms`` draws them), and each pruning-at-initialisation
    mask at the ticket's density with Frankle et al. (2021)'s two sanity checks: the mask shuffled within each
    layer (from θ0), and the mask itself from fresh weights (``reinit``, as ``arm_init`` draws it)."""
    arms = []
    for s in result.seeds:
        ticket = result.mask(round, s)
        for name in sign_arms:
            state, mask = arm_init(name, result.network(data, s), result.rewind_state(s), ticket,
                                   seed=arm_seed(name, s, round), init=result.recipe.reinit_draw())
            arms.append(Arm(s, name, state, mask))
        for method, mask in pai_masks(result, data, s, ticket.density(), methods, batch).items():
            shuffled = random_prune(mask, seed=arm_seed(method + SHUFFLED, s, round))
            fresh, _ = arm_init("reinit", result.network(data, s), result.initial_state(s), mask,
                                seed=arm_seed(method + REINIT, s, round), init=result.recipe.reinit_draw())
            arms += [Arm(s, method, result.initial_state(s), mask),
                     Arm(s, method + SHUFFLED, result.initial_state(s), shuffled), Arm(s, method + REINIT, fresh, mask)]
    return arms


def train_frame(result: ImpResult, data: Dataset, round: int, arms: Sequence[Arm]) -> pd.DataFrame:
    """Train ``arms`` together in one batched call (the run's schedule, each seed's data order) and return one
    row per network, beside the ticket and the controls chapter 3's run trained at ``round``."""
    shared = result.to_long_frame()
    if not {"reinit", "random_prune"} <= set(shared.loc[shared["round"] == round, "arm"]):
        raise ValueError(f"round {round} has no reinit and random_prune controls in this run: pick one of its "
                         "control_rounds")
    _, histories = train_together(result, data, arms, 0)
    trained = pd.DataFrame([{"round": int(round), "seed": a.seed, "arm": a.name, "density": a.mask.density(),
                             **metrics(h)} for a, h in zip(arms, histories)])
    return pd.concat([shared[shared["round"] == round], trained], ignore_index=True)


def layer_densities(result: ImpResult, round: int, arms: Sequence[Arm], methods: Sequence[str]) -> pd.DataFrame:
    """Mean per-layer density (percent) over seeds of IMP's mask at ``round`` and of each method's mask among
    ``arms``: the layer sizes each one chooses."""
    rows = [{"mask": label("imp"), **result.mask(round, s).layer_densities()} for s in result.seeds]
    rows += [{"mask": label(a.name), **a.mask.layer_densities()} for a in arms if a.name in methods]
    frame = pd.DataFrame(rows).groupby("mask", sort=False).mean()
    return (100 * frame).round(1)


def _pair(frame: pd.DataFrame, a: str, b: str, metric: str = "early_stop_test_acc") -> dict[str, float]:
    """``a − b`` per seed, its mean and 95% t interval."""
    wide = frame.pivot_table(index="seed", columns="arm", values=metric)
    return paired_interval(wide[a].to_numpy(float), wide[b].to_numpy(float))


def _loss_gap(frame: pd.DataFrame, method: str, imp_check: str, suffix: str) -> dict[str, float]:
    """(IMP ticket − ``imp_check``) − (method − method + ``suffix``), paired by seed: how much more a sanity check
    (the layer-wise shuffle, or reinitialisation) costs IMP than the method."""
    wide = frame.pivot_table(index="seed", columns="arm", values="early_stop_test_acc")
    imp_loss = wide["ticket"] - wide[imp_check]
    return paired_interval(imp_loss.to_numpy(float), (wide[method] - wide[method + suffix]).to_numpy(float))


def supermask_summary(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per round and mask: mean density, the untrained test accuracy's mean and 95% t interval, and the mask's
    lead over the random mask of the same layer sizes, paired by seed."""
    rows = []
    for (r, arm), g in frame.groupby(["round", "arm"], sort=False):
        pair = _pair(frame[frame["round"] == r], arm, "random", "test_acc") if arm != "random" else None
        rows.append({"round": int(r), "arm": arm, "density": float(g["density"].mean()),
                     "accuracy": paired_interval(g["test_acc"].to_numpy(float)), "vs_random": pair})
    return rows


def signs_summary(frame: pd.DataFrame, arms: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per sign arm and reinit: accuracy, the paired difference to the ticket, and the share of the ticket's lead
    over reinit it keeps (:func:`~lottery_core.gap_closed`, pooled bootstrap interval)."""
    out = {}
    for arm in [*arms, "reinit"]:
        acc = paired_interval(frame.loc[frame["arm"] == arm, "early_stop_test_acc"].to_numpy(float))
        out[arm] = {"accuracy": acc, "vs_ticket": _pair(frame, arm, "ticket"),
                    "kept": gap_closed(frame, arm) if arm != "reinit" else None}
    return out


def pai_summary(frame: pd.DataFrame, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per mask (IMP's ticket and each method): its accuracy, its shuffle's and its reinitialisation's, mask −
    shuffle, mask − reinit, and for the methods ticket − method and the gaps between IMP's loss under each sanity
    check and the method's, all paired by seed."""
    acc = lambda arm: paired_interval(frame.loc[frame["arm"] == arm, "early_stop_test_acc"].to_numpy(float))  # noqa: E731
    out = {"imp": {"accuracy": acc("ticket"), "shuffled": acc("random_prune"), "reinit": acc("reinit"),
                   "vs_shuffled": _pair(frame, "ticket", "random_prune"),
                   "vs_reinit": _pair(frame, "ticket", "reinit")}}
    for m in methods:
        out[m] = {"accuracy": acc(m), "shuffled": acc(m + SHUFFLED), "reinit": acc(m + REINIT),
                  "vs_shuffled": _pair(frame, m, m + SHUFFLED), "vs_reinit": _pair(frame, m, m + REINIT),
                  "ticket_minus": _pair(frame, "ticket", m),
                  "shuffle_gap": _loss_gap(frame, m, "random_prune", SHUFFLED),
                  "reinit_gap": _loss_gap(frame, m, "reinit", REINIT)}
    return out


def _cell(iv: Mapping[str, float] | None, signed: bool = False) -> str:
    return "—" if iv is None else Interval.of(iv).format(unit="" if not signed else " points", signed=signed)


def supermask_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`supermask_summary` as the chapter shows it: untrained test accuracy (%) per mask and density."""
    cells = {(f"{100 * r['density']:.1f}%", label(r["arm"])): _cell(r["accuracy"]) for r in rows}
    out = pd.Series(cells).unstack().reindex(columns=[label(a) for a in SUPERMASKS])
    out.index.name, out.columns.name = "weights remaining", "untrained θ0 ⊙ mask, test accuracy (%)"
    return out.sort_index(key=lambda i: -i.str.rstrip("%").astype(float))


def signs_table(summary: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`signs_summary` as a table: accuracy, arm − ticket, and the share of the ticket's lead kept."""
    rows = [{"start": label(a), "test accuracy (%)": _cell(v["accuracy"]), "arm − ticket": _cell(v["vs_ticket"], True),
             "lead over reinit kept": "—" if v["kept"] is None else Interval.of(v["kept"]).format(unit="%", digits=0,
                                                                                                   signed=False)}
            for a, v in summary.items()]
    return pd.DataFrame(rows).set_index("start")


def pai_table(summary: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`pai_summary` as a table: each mask, its shuffle, its reinitialisation, and the paired differences."""
    rows = [{"mask": label(m), "mask (%)": _cell(v["accuracy"]), "shuffled (%)": _cell(v["shuffled"]),
             "reinitialised (%)": _cell(v["reinit"]), "mask − shuffled": _cell(v["vs_shuffled"], True),
             "mask − reinitialised": _cell(v["vs_reinit"], True), "ticket − mask": _cell(v.get("ticket_minus"), True)}
            for m, v in summary.items()]
    return pd.DataFrame(rows).set_index("mask")


def supermask_figure(rows: Sequence[Mapping[str, Any]]) -> plt.Axes:
    """Untrained test accuracy of θ0 ⊙ mask against the percent of weights remaining, one line per mask with its
    95% t band over seeds, and chance (10 classes)."""
    _, ax = plt.subplots(figsize=(8, 4.5))
    frame = pd.DataFrame([{**r, **{k: r["accuracy"][k] for k in ("mean", "low", "high")}} for r in rows])
    for arm, g in frame.groupby("arm", sort=False):
        g = g.sort_values("density")
        ax.plot(100 * g["density"], 100 * g["mean"], marker="o", label=label(arm))
        ax.fill_between(100 * g["density"], 100 * g["low"], 100 * g["high"], alpha=0.2)
    ax.axhline(10, color="0.4", ls="--", lw=1, label="chance (10 classes)")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xticks(density_tick_values(list(100 * frame["density"])))
    ax.get_xaxis().set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.minorticks_off()
    ax.set(xlabel="percent of weights remaining (log scale)", ylabel="test accuracy without training (%)",
           title="Supermasks on MNIST-1D: θ0 ⊙ mask, no training")
    ax.legend(fontsize=8, title="mean and 95% t interval over seeds", title_fontsize=8)
    return ax


def pai_figure(summary: Mapping[str, Mapping[str, Any]]) -> plt.Axes:
    """Each mask's early-stop test accuracy trained from θ0, the same mask shuffled within each layer, and the mask
    trained from fresh weights, with 95% t intervals over seeds: the sanity checks of Frankle et al. (2021)."""
    _, ax = plt.subplots(figsize=(8, 0.8 + 0.7 * len(summary)))
    checks = (("accuracy", -0.18, "C0", "mask, from θ0"), ("shuffled", 0.0, "C1", "shuffled in layers"),
              ("reinit", 0.18, "C2", "reinitialised"))
    for key, dy, colour, name in checks:
        ivs = [v[key] for v in summary.values()]
        mean = np.array([100 * iv["mean"] for iv in ivs])
        err = np.array([[100 * (iv["mean"] - iv["low"]), 100 * (iv["high"] - iv["mean"])] for iv in ivs]).T
        ax.errorbar(mean, np.arange(len(ivs)) + dy, xerr=np.nan_to_num(err), fmt="o", color=colour, capsize=3,
                    label=name)
    ax.set_yticks(range(len(summary)), [label("imp" if m == "imp" else m) for m in summary])
    ax.invert_yaxis()
    ax.set(xlabel="test accuracy at early stopping, trained from θ0 (%)", title="Masks at the ticket's density")
    ax.legend(fontsize=8, title="mean and 95% t interval over seeds", title_fontsize=8)
    return ax


def chapter_metrics(*, config, seeds: Sequence[int], ticket_round: int, frame: pd.DataFrame,
                    supermask: Sequence[Mapping[str, Any]], signs: Mapping[str, Any], pai: Mapping[str, Any],
                    densities: pd.DataFrame, seconds: float) -> dict[str, Any]:
    """Everything the claims read, as plain JSON."""
    ticket = frame[frame["arm"] == "ticket"]
    return {"seeds": list(seeds), "iterations": config.iterations, "ticket_round": int(ticket_round),
            "density": float(ticket["density"].mean()), "methods": [m for m in pai if m != "imp"],
            "supermask": list(supermask), "signs": dict(signs), "pai": dict(pai),
            "layer_densities": densities.to_dict("index"), "train_seconds": float(seconds)}


def _iv(record: Mapping[str, float]) -> Interval:
    return Interval.of(record)


def _nearest(rows: Sequence[Mapping[str, Any]], arm: str, density: float) -> Mapping[str, Any]:
    return min((r for r in rows if r["arm"] == arm), key=lambda r: abs(r["density"] - density))


@claims("ch09-supermask-imp", "At about a fifth and at about a fourteenth of the weights, IMP's mask applied to the "
        "untrained θ0 classifies far better than a random mask with the same layer sizes: at both densities the "
        "paired interval of the difference lies above five points.")
def _supermask_imp(m: Mapping[str, Any]) -> Check:
    rows = [_nearest(m["supermask"], "imp", d) for d in (0.21, 0.074)]
    holds = all(abs(r["density"] - d) < 0.02 for r, d in zip(rows, (0.21, 0.074))) and all(
        _iv(r["vs_random"]).above(0.05) for r in rows)
    return Check(holds, "; ".join(f"{r['density']:.1%}: IMP − random {_iv(r['vs_random']).format()}" for r in rows))


@claims("ch09-supermask-criteria", "At about a fifth of the weights, both one-shot criteria of Zhou et al. give "
        "supermasks too: each beats the random mask, its paired interval above zero.")
def _supermask_criteria(m: Mapping[str, Any]) -> Check:
    rows = [_nearest(m["supermask"], c, 0.21) for c in CRITERIA]
    holds = all(abs(r["density"] - 0.21) < 0.03 and _iv(r["vs_random"]).above(0.0) for r in rows)
    return Check(holds, "; ".join(f"{r['arm']} at {r['density']:.1%}: − random {_iv(r['vs_random']).format()}"
                                  for r in rows))


@claims("ch09-random-signs", "Random signs on the ticket's magnitudes lose most of the ticket's lead over random "
        "reinitialisation: the share they keep has its interval below one third.")
def _random_signs(m: Mapping[str, Any]) -> Check:
    kept = _iv(m["signs"]["ticket_random_signs"]["kept"])
    return Check(kept.high < 1 / 3, f"share kept {kept.format(unit='%', digits=0, signed=False)}")


@claims("ch09-layer-sizes", "Every pruning-at-initialisation method keeps a larger share of the first and of the "
        "output layer than IMP's ticket, and a smaller share of the middle layer.")
def _layer_sizes(m: Mapping[str, Any]) -> Check:
    layers = m["layer_densities"]
    imp = layers[label("imp")]
    first, middle, last = list(imp)
    worst = {m_: (layers[label(m_)][first] - imp[first], imp[middle] - layers[label(m_)][middle],
                  layers[label(m_)][last] - imp[last]) for m_ in m["methods"]}
    holds = bool(worst) and all(min(v) > 0 for v in worst.values())
    return Check(holds, f"IMP {', '.join(f'{v:.1f}%' for v in imp.values())}; " + "; ".join(
        f"{k} {', '.join(f'{v:.1f}%' for v in layers[label(k)].values())}" for k in m["methods"]))


@claims("ch09-ticket-beats-pai", "Trained from θ0, IMP's ticket is more accurate than every pruning-at-initialisation "
        "mask at its density, each paired interval above five points.")
def _ticket_beats_pai(m: Mapping[str, Any]) -> Check:
    ivs = {k: _iv(m["pai"][k]["ticket_minus"]) for k in m["methods"]}
    return Check(bool(ivs) and all(iv.above(0.05) for iv in ivs.values()),
                 "; ".join(f"ticket − {k} {iv.format()}" for k, iv in ivs.items()))


@claims("ch09-shuffle", "The shuffle costs IMP's ticket more than ten points (interval above ten points), and each "
        "pruning-at-initialisation mask at most a few: every interval of mask − shuffled ends below eight points.")
def _shuffle(m: Mapping[str, Any]) -> Check:
    return _sanity_check(m, "vs_shuffled")


def _sanity_check(m: Mapping[str, Any], key: str, gap: str | None = None) -> Check:
    """A sanity check (``vs_shuffled`` or ``vs_reinit``) costs IMP's ticket more than ten points (interval) and every
    method less than eight (upper bound); with ``gap``, each method's loss gap to IMP's is above five points."""
    imp = _iv(m["pai"]["imp"][key])
    ivs = {k: _iv(m["pai"][k][key]) for k in m["methods"]}
    gaps = {k: _iv(m["pai"][k][gap]) for k in m["methods"]} if gap else {}
    holds = imp.above(0.10) and bool(ivs) and all(iv.high < 0.08 for iv in ivs.values()) \
        and all(g.above(0.05) for g in gaps.values())
    return Check(holds, f"IMP {imp.format()}; " + "; ".join(
        f"{k} {iv.format()}" + (f" (gap {gaps[k].format()})" if gaps else "") for k, iv in ivs.items()))


@claims("ch09-shuffle-gap", "So IMP's ticket loses more under the shuffle than any pruning-at-initialisation mask: "
        "for every method the paired interval of the difference between the two losses lies above five points.")
def _shuffle_gap(m: Mapping[str, Any]) -> Check:
    ivs = {k: _iv(m["pai"][k]["shuffle_gap"]) for k in m["methods"]}
    return Check(bool(ivs) and all(iv.above(0.05) for iv in ivs.values()),
                 "; ".join(f"{k} {iv.format()}" for k, iv in ivs.items()))


@claims("ch09-reinit", "Reinitialisation, the second check, tells the same story: it costs IMP's ticket more than ten "
        "points (interval above ten points) and each pruning-at-initialisation mask at most a few (every interval of "
        "mask − reinitialised ends below eight points); for every method the paired interval of the difference "
        "between the two losses lies above five points.")
def _reinit(m: Mapping[str, Any]) -> Check:
    return _sanity_check(m, "vs_reinit", "reinit_gap")
