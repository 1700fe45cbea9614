"""Chapter 3, winning tickets: the pooled comparisons and budget table it shows, and the claims its prose
makes about the default run.

One round's ticket − dense interval is noisy with five seeds, and the chapter makes fifteen such
comparisons. Where the prose speaks of a stretch of densities it therefore rests on the difference
averaged over that stretch's rounds, seed by seed (:func:`pooled`), over rounds fixed in advance: the
three rounds around the paper's 21.1%, and the rounds between two thirds and a third of the weights.
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..masks import Mask
from ..models import build_model
from ..pruning import layer_rates_for
from ..stats import Interval, paired_differences, paired_interval
from .claims import Check, Claims, points
from .paths import plain
from .tables import (
    RECORD_COLUMNS,
    best_round,
    closest_round,
    count_verdicts,
    first_of_last_run,
    intervals_as_records,
    per_round_means,
    trained_rows,
)

claims = Claims("03_winning_tickets")


def pooled(long: pd.DataFrame, rounds: Sequence[int], metric: str = "early_stop_test_acc",
           arm: str = "ticket") -> dict[str, float]:
    """``arm`` minus the dense network (round 0's ticket), ``metric`` averaged over ``rounds`` per seed, with
    the paired 95% t interval over seeds."""
    a = long[(long["arm"] == arm) & long["round"].isin(list(rounds))].groupby("seed")[metric].mean()
    dense = long[(long["arm"] == "ticket") & (long["round"] == 0)].set_index("seed")[metric]
    return paired_interval(a.to_numpy(float), dense.loc[a.index].to_numpy(float))


def stretch_metrics(long: pd.DataFrame, round_21: int, iterations: int) -> dict[str, Any]:
    """The pooled comparisons and the budget table's numbers that chapter 3's claims rest on."""
    density = long[long["arm"] == "ticket"].groupby("round")["density"].mean()
    lead = [r for r in (round_21 - 1, round_21, round_21 + 1) if r in density.index]
    moderate = [int(r) for r, d in density.items() if 0.3 <= d <= 0.7]
    return {"lead_rounds": lead, "moderate_rounds": moderate,
            "lead": pooled(long, lead), "lead_final": pooled(long, lead, "final_test_acc"),
            "moderate_iteration": pooled(long, moderate, "early_stop_iteration"),
            "budget": budget_table(long, iterations).reset_index().to_dict("records")}


def budget_table(long: pd.DataFrame, iterations: int) -> pd.DataFrame:
    """Per round: the tickets' earliest and mean early-stopping iteration, and how many seeds reached their
    minimum validation loss only at the last evaluation, where the budget and not the network decides."""
    tickets = long[long["arm"] == "ticket"]
    table = tickets.groupby("round").agg(density=("density", "mean"),
                                         earliest=("early_stop_iteration", "min"),
                                         mean=("early_stop_iteration", "mean"),
                                         at_last=("early_stop_iteration", lambda s: int((s >= iterations).sum())),
                                         seeds=("seed", "nunique"))
    return table


def _iv(record: Mapping[str, float]) -> Interval:
    return Interval.of(record)


def _gaps(m: Mapping[str, Any], key: str = "ticket_minus_dense") -> list[Interval]:
    return [_iv(iv) for iv in m[key][1:]]


def _density(m: Mapping[str, Any], key: str = "ticket_minus_dense") -> list[float]:
    return [iv["density"] for iv in m[key][1:]]


@claims("ch03-as-accurate", "From 80% of the weights down to about a seventh, the tickets are about as accurate "
        "as the dense network or better: no mean difference is more than about a point below zero")
def _as_accurate(m: Mapping[str, Any]) -> Check:
    kept = [(d, iv) for d, iv in zip(_density(m), _gaps(m)) if d >= 0.135]
    d, worst = min(kept, key=lambda t: t[1].mean)
    return Check(worst.mean > -0.015, f"{len(kept)} rounds from 80% to {kept[-1][0]:.1%}; lowest {worst.format()} "
                 f"at {d:.1%}")


@claims("ch03-lead", "Over the three rounds around the paper's 21.1% (about a quarter to a sixth of the weights), "
        "the tickets are more accurate than the dense network, by about a point or two, with an interval above "
        "zero.")
def _lead(m: Mapping[str, Any]) -> Check:
    lead = _iv(m["stretch"]["lead"])
    return Check(lead.above() and 0.005 <= lead.mean <= 0.03, f"rounds {m['stretch']['lead_rounds']}: "
                 f"{lead.format()}")


@claims("ch03-best", "The round chosen as best on validation accuracy lies between a third and a sixth of the "
        "weights.")
def _best(m: Mapping[str, Any]) -> Check:
    return Check(0.15 <= m["best_density"] <= 0.35, f"round {m['best_round']}, {m['best_density']:.1%} of the weights")


@claims("ch03-behind", "Below about a tenth of the weights the tickets fall clearly behind the dense network, and "
        "at the sparsest round, with about 4% of the weights left, they are about ten points behind or more")
def _behind(m: Mapping[str, Any]) -> Check:
    last = m["ticket_minus_dense"][-1]
    if m["below_dense_from"] is None:
        return Check(False, f"not below the dense network at the last round: {_iv(last).format()}")
    first = next(iv for iv in m["ticket_minus_dense"] if iv["round"] == m["below_dense_from"])
    holds = 0.05 <= first["density"] <= 0.12 and abs(last["density"] - 0.04) < 0.005 and last["mean"] < -0.08
    return Check(holds, f"below the dense network at every round from {first['density']:.1%}; at "
                 f"{last['density']:.1%}: {_iv(last).format()}")


@claims("ch03-earlier", "The moderately pruned tickets, with two thirds to a third of the weights, reach their "
        "minimum validation loss several hundred iterations earlier than the dense network (averaged over those "
        "rounds, with an interval below zero).")
def _earlier(m: Mapping[str, Any]) -> Check:
    iv = _iv(m["stretch"]["moderate_iteration"])
    return Check(iv.below() and iv.mean <= -250, f"rounds {m['stretch']['moderate_rounds']}: "
                 f"{iv.format(scale=1, unit=' iterations', digits=0)}")


@claims("ch03-budget", "From about 7% of the weights down, every ticket reaches its minimum validation loss in the "
        "last tenth of training, and many at the very last evaluation")
def _budget(m: Mapping[str, Any]) -> Check:
    sparse = [row for row in m["stretch"]["budget"] if row["density"] <= 0.075]
    earliest = min(row["earliest"] for row in sparse)
    at_last, total = sum(row["at_last"] for row in sparse), sum(row["seeds"] for row in sparse)
    return Check(earliest >= 0.9 * m["iterations"] and at_last >= total / 4,
                 f"{len(sparse)} rounds: earliest minimum at iteration {earliest:,.0f} of {m['iterations']:,}; "
                 f"{at_last} of {total} tickets at the last evaluation")


@claims("ch03-one-shot", "When half the weights remain, the two ways of pruning give tickets within about two "
        "points of each other, but iterative pruning pulls ahead as the networks get sparser: by a point or two at "
        "a fifth of the weights, where the one-shot ticket is within about a point of the dense network, and by "
        "several points at about 7%.")
def _one_shot(m: Mapping[str, Any]) -> Check:
    def near(key: str, d: float) -> Interval:
        return _iv(min(m["one_shot"][key], key=lambda iv: abs(iv["density"] - d)))

    half, fifth, seventh = (near("iterative_minus_one_shot", d) for d in (0.5, 0.21, 0.07))
    vs_dense = near("one_shot_minus_dense", 0.21)
    inner = half.at(0.90)
    holds = (-0.025 < inner.low and inner.high < 0.025 and 0.005 <= fifth.mean <= 0.03
             and abs(vs_dense.mean) <= 0.01 and seventh.above() and seventh.mean >= 0.04)
    return Check(holds, f"iterative − one-shot: {half.format()} at half, {fifth.format()} at a fifth, "
                 f"{seventh.format()} at 7%; one-shot − dense at a fifth {vs_dense.format()}")


@claims("ch03-overfitting", "With the default settings its training loss ends at about a third of its validation "
        "loss, and in nearly every seed the validation loss passes its minimum before the end of training and "
        "rises again.")
def _overfitting(m: Mapping[str, Any]) -> Check:
    seeds = m["dense_overfitting"]
    ratios = [s["train_over_val_loss"] for s in seeds]
    rising = sum(s["early_stop_iteration"] < m["iterations"] and s["val_loss_rise"] > 0 for s in seeds)
    return Check(all(0.2 <= r <= 0.4 for r in ratios) and rising >= 0.8 * len(seeds),
                 f"final training / validation loss {min(ratios):.2f} to {max(ratios):.2f}; minimum before the end "
                 f"in {rising} of {len(seeds)} seeds")


@claims("ch03-end-of-training", "Measured at the end of training instead, the tickets around a fifth of the "
        "weights are still ahead of the dense network, by about a point, with an interval above zero")
def _end_of_training(m: Mapping[str, Any]) -> Check:
    final = _iv(m["stretch"]["lead_final"])
    return Check(final.above() and 0.003 <= final.mean <= 0.025,
                 f"rounds {m['stretch']['lead_rounds']} at the end of training: {final.format()}; at early "
                 f"stopping {points(m['stretch']['lead']['mean'])}")


def stretch_table(stretch: Mapping[str, Any], density: Mapping[int, float]) -> pd.DataFrame:
    """The pooled comparisons as a table: what is compared, over which rounds, mean and 95% interval."""
    def rounds(key: str) -> str:
        chosen = stretch[key]
        return f"rounds {chosen[0]}–{chosen[-1]} ({density[chosen[0]]:.1%} to {density[chosen[-1]]:.1%})"

    rows = [("ticket − dense, test accuracy at early stopping", rounds("lead_rounds"),
             _iv(stretch["lead"]).format()),
            ("ticket − dense, test accuracy at the end of training", rounds("lead_rounds"),
             _iv(stretch["lead_final"]).format()),
            ("ticket − dense, early-stopping iteration", rounds("moderate_rounds"),
             _iv(stretch["moderate_iteration"]).format(scale=1, unit=" iterations", digits=0))]
    return pd.DataFrame(rows, columns=["averaged over seeds and rounds", "rounds", "mean [95% t interval]"]
                        ).set_index("averaged over seeds and rounds")


PAPER_LENET_DENSITIES = {3: 0.513, 7: 0.211, 9: 0.135, 15: 0.036, 16: 0.029}


def schedule_table(result: Any) -> Any:
    """Per round of an IMP run: the density of the first seed's mask overall and per layer, the same
    schedule applied to the paper's 784-input network, and the densities the paper reports."""
    config = result.config
    paper = build_model(config.model, (784,), 10)
    rates = layer_rates_for(paper, config.prune_rate, config.output_prune_rate, config.conv_prune_rate)
    paper_schedule = density_schedule(Mask.ones_like(paper).sizes(), rates, result.num_rounds - 1)
    rows = []
    for r in range(result.num_rounds):
        mask = result.mask(r)
        sizes = mask.sizes()
        row = {"round": r, "P_m, this run": mask.density()}
        row |= {f"{k} ({sizes[k]:,} weights)": d for k, d in mask.layer_densities().items()}
        row |= {"P_m, 784-input network": paper_schedule[r], "P_m, paper": PAPER_LENET_DENSITIES.get(r)}
        rows.append(row)
    return pd.DataFrame(rows).set_index("round")


def _dense_overfitting(result: Any) -> list[dict]:
    """Per seed, from the dense network's learning curve (round 0): where the validation loss is lowest,
    how much it rises from there to the end, and the final training loss over the final validation loss."""
    out = []
    for s in result.seeds:
        h = result.history(0, "ticket", s)
        out.append({"seed": s, "early_stop_iteration": h.early_stop_iteration,
                    "val_loss_rise": h.final.val_loss / h.early_stop.val_loss - 1,
                    "train_over_val_loss": h.final.train_loss / h.final.val_loss})
    return out


def ticket_metrics(result: Any, one_shot: Any | None = None, *, target_density: float = 0.211) -> dict:
    """The numbers chapter 3 records from an IMP run (and, optionally, one-shot tickets from
    :func:`~lottery_core.train_one_shot`): every ticket − dense difference paired by seed with its 95% t
    interval, the best round chosen on validation accuracy, and the dense networks' overfitting."""
    long = trained_rows(result)
    tickets = long[long["arm"] == "ticket"]
    dense = tickets[tickets["round"] == 0]

    def vs_dense(metric: str) -> list[dict]:
        return intervals_as_records(paired_differences(long, "ticket", "dense", metric))

    r21, best = closest_round(long, target_density), best_round(long)
    test = vs_dense("early_stop_test_acc")
    at = {iv["round"]: iv for iv in test}
    means = tickets.groupby("round")[["density", "early_stop_test_acc", "early_stop_iteration",
                                      "final_test_acc"]].mean()
    metrics = {
        "config": result.config.to_dict(), "seeds": list(result.seeds), "rounds": result.num_rounds - 1,
        "iterations": result.config.iterations, "eval_every": result.config.eval_every,
        "per_round": per_round_means(long, ["ticket", *result.controls]),
        "records": long.reindex(columns=RECORD_COLUMNS).to_dict("records"),
        "dense_acc": float(dense["early_stop_test_acc"].mean()),
        "dense_iteration": float(dense["early_stop_iteration"].mean()),
        "dense_final_acc": float(dense["final_test_acc"].mean()),
        "dense_overfitting": _dense_overfitting(result),
        "ticket_minus_dense": test,
        "ticket_minus_dense_val": vs_dense("early_stop_val_acc"),
        "ticket_minus_dense_final": vs_dense("final_test_acc"),
        "ticket_minus_dense_iteration": vs_dense("early_stop_iteration"),
        "verdicts": count_verdicts(test[1:]),
        "below_dense_from": first_of_last_run(test[1:], "below"),
        "round_21": r21, "density_21": float(means.loc[r21, "density"]),
        "ticket_acc_21": float(means.loc[r21, "early_stop_test_acc"]),
        "ticket_iteration_21": float(means.loc[r21, "early_stop_iteration"]),
        "ticket_final_acc_21": float(means.loc[r21, "final_test_acc"]),
        "ticket_minus_dense_21": at[r21]["mean"],
        "best_round": best, "best_density": float(means.loc[best, "density"]),
        "best_acc": float(means.loc[best, "early_stop_test_acc"]), "best_minus_dense": at[best],
    }
    if one_shot is not None and len(one_shot):
        metrics["one_shot"] = _one_shot_metrics(long, one_shot)
    return plain(metrics)


def _one_shot_metrics(long: Any, one_shot: Any) -> dict:
    """One-shot tickets beside the iterative ones: their records, iterative − one-shot and one-shot − dense."""
    both = pd.concat([long, one_shot], ignore_index=True)
    return {
        "rounds": sorted(int(r) for r in one_shot["round"].unique()),
        "records": one_shot.reindex(columns=RECORD_COLUMNS).to_dict("records"),
        "iterative_minus_one_shot": intervals_as_records(paired_differences(both, "ticket", "one_shot")),
        "one_shot_minus_dense": intervals_as_records(paired_differences(both, "one_shot", "dense")),
    }


def density_schedule(sizes: Mapping[str, int], rates: Mapping[str, float], rounds: int) -> list[float]:
    """Overall density after 0..``rounds`` rounds when every layer loses ``round(rate x survivors)``
    each round (layer sizes and rates keyed alike), as iterative magnitude pruning does."""
    counts, out = dict(sizes), []
    for _ in range(rounds + 1):
        out.append(sum(counts.values()) / sum(sizes.values()))
        counts = {k: c - round(rates[k] * c) for k, c in counts.items()}
    return out
