"""What a chapter leaves behind: its output folder, its metrics file and its "what this run shows" block.

A chapter runs alone in any folder (Jupyter, Colab, papermill, the book build): caches and metrics go
under ``$LOTTERY_CACHE`` when it is set, otherwise under ``lottery_output/`` in the working folder.
The book build sets ``$LOTTERY_CACHE`` so that every chapter shares one IMP cache and the claims
tests read one set of metrics.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis import paired_differences

DEFAULT_OUTPUT = "lottery_output"


def output_dir() -> Path:
    """``$LOTTERY_CACHE`` when set, otherwise ``./lottery_output`` (absolute)."""
    return Path(os.environ.get("LOTTERY_CACHE") or DEFAULT_OUTPUT).resolve()


def cache_dir() -> Path:
    """Where IMP runs are checkpointed (``run_imp(..., cache_dir=lc.cache_dir())``)."""
    return output_dir() / "runs"


def metrics_path(chapter: str) -> Path:
    """Where chapter ``chapter`` (a notebook name such as ``"03_winning_tickets"``) writes its metrics."""
    return output_dir() / "metrics" / f"{chapter}.json"


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: tensors and numpy scalars become numbers, NaN becomes ``None``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):
        value = value.tolist()
        if isinstance(value, list):
            return plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: str | os.PathLike | None, metrics: Mapping[str, Any]) -> dict:
    """Write a chapter's key numbers as JSON to ``path`` (folders created; NaN becomes null) and
    return them as plain Python. ``path=None`` writes nothing."""
    values = plain(metrics)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(values, indent=2, sort_keys=True))
        tmp.replace(path)
    return values


def read_metrics(metrics_dir: str | os.PathLike, chapters: Sequence[str]) -> dict[str, dict]:
    """Read the metrics JSON that each chapter in ``chapters`` (notebook names such as
    ``"03_winning_tickets"``) wrote to ``<metrics_dir>/<chapter>.json``; returns chapter -> metrics.

    A page that summarises other chapters (the conclusion) calls this first. If any file is missing it
    raises ``FileNotFoundError`` naming exactly the missing chapters, so the reader knows which
    notebooks to run first; a file that is not valid JSON raises ``ValueError`` naming it."""
    folder = Path(metrics_dir)
    missing = [c for c in chapters if not (folder / f"{c}.json").is_file()]
    if missing:
        which = "that chapter" if len(missing) == 1 else "those chapters"
        notebooks = ", ".join(f"book/{c}.ipynb" for c in missing)
        raise FileNotFoundError(
            f"no metrics for chapter(s) {', '.join(missing)} in {folder}. Run {which} first ({notebooks}; each "
            "writes its metrics_path in its last cell), or build the whole book, which runs every chapter before "
            "this page."
        )
    metrics = {}
    for chapter in chapters:
        path = folder / f"{chapter}.json"
        try:
            metrics[chapter] = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} (metrics of chapter {chapter}) is not valid JSON: {error}; run that chapter "
                             "again") from error
    return metrics


RECORDS = Path(__file__).resolve().parent / "records"


def load_recorded(name: str) -> tuple[pd.DataFrame, dict]:
    """A recorded run shipped with the library: its tidy records (one row per seed, round and arm) and its
    provenance (date, device, commit, command that reran it). ``name`` is a folder of ``lottery_core/records``."""
    folder = RECORDS / name
    if not (folder / "records.csv").is_file():
        known = ", ".join(sorted(p.name for p in RECORDS.iterdir() if p.is_dir()))
        raise ValueError(f"no recorded run {name!r}; recorded runs: {known}")
    return pd.read_csv(folder / "records.csv"), json.loads((folder / "provenance.json").read_text())


def recorded_difference_table(records: pd.DataFrame, rounds: Sequence[int],
                              metric: str = "early_stop_test_acc") -> pd.DataFrame:
    """The ticket against the dense network and each control at ``rounds``: mean paired difference in
    percentage points with its 95% t interval, one row per round (for a recorded IMP run's tidy records)."""
    columns = {}
    for against in ["dense", *sorted(set(records["arm"]) - {"ticket"})]:
        diff = paired_differences(records, "ticket", against, metric).set_index("round").loc[list(rounds)]
        columns[f"ticket − {against} (pp)"] = [f"{100 * m:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
                                              for m, lo, hi in zip(diff["mean"], diff["low"], diff["high"])]
        columns["% of weights"] = (100 * diff["density"]).round(1).to_numpy()
    table = pd.DataFrame(columns, index=pd.Index(list(rounds), name="round"))
    return table[["% of weights", *[c for c in table.columns if c != "% of weights"]]]


# --- Intervals in words and tables (chapters 1 to 4) --------------------------------------------------------------

def verdict(interval: Mapping[str, float], *, above: str = "above", below: str = "below",
            same: str = "indistinguishable from") -> str:
    """The word a paired 95% interval allows: ``above`` when its lower bound is above zero, ``below`` when
    its upper bound is below zero, otherwise ``same`` (the interval includes zero, or is undefined)."""
    low, high = interval.get("low"), interval.get("high")
    if low is not None and math.isfinite(low) and low > 0:
        return above
    if high is not None and math.isfinite(high) and high < 0:
        return below
    return same


def format_interval(interval: Mapping[str, float], *, scale: float = 100.0, unit: str = " pp", digits: int = 1,
                    signed: bool = True) -> str:
    """``"+1.2 pp (95% CI +0.4 to +2.0)"``; the interval is left out when it is undefined (one seed)."""
    sign = "+" if signed else ""

    def number(v: float) -> str:
        return f"{scale * v:{sign}.{digits}f}"

    text = f"{number(interval['mean'])}{unit}"
    low, high = interval.get("low"), interval.get("high")
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        text += f" (95% CI {number(low)} to {number(high)})"
    return text


def interval_table(columns: Mapping[str, Any], *, by: str = "round", scale: float = 100.0, digits: int = 1):
    """One row per ``by`` value (with its percent of weights remaining) and one column per comparison:
    ``"+1.2 [+0.4, +2.0]"`` (mean and 95% interval over seeds). ``columns`` maps a column title to the
    output of :func:`~lottery_core.analysis.paired_differences`."""
    import pandas as pd

    out = None
    for title, frame in columns.items():
        text = frame.apply(lambda r: (f"{scale * r['mean']:+.{digits}f} [{scale * r['low']:+.{digits}f}, "
                                      f"{scale * r['high']:+.{digits}f}]") if math.isfinite(r["low"])
                           else f"{scale * r['mean']:+.{digits}f}", axis=1)
        part = pd.DataFrame({by: frame[by], "weights remaining": frame["density"].map(lambda d: f"{d:.1%}"),
                             title: text})
        out = part if out is None else out.merge(part, on=[by, "weights remaining"], how="outer")
    return out.sort_values(by).set_index(by)


def intervals_as_records(frame: Any, by: str = "round") -> list[dict]:
    """A :func:`~lottery_core.analysis.paired_differences` table as JSON-ready records for a metrics file."""
    return [plain({by: row[by], "density": row["density"], "mean": row["mean"], "low": row["low"],
                   "high": row["high"], "n": int(row["n"])}) for row in frame.to_dict("records")]


def count_verdicts(intervals: Sequence[Mapping[str, float]]) -> dict[str, int]:
    """How many intervals lie above zero, below zero, or include it: ``{"above", "below", "same"}``."""
    words = [verdict(iv, above="above", below="below", same="same") for iv in intervals]
    return {w: words.count(w) for w in ("above", "below", "same")}


def split_table(data: Any) -> Any:
    """The dataset's three splits: number of examples and what each is used for (the paper's protocol:
    early stopping looks at the validation split only; the test split only reports)."""
    import pandas as pd

    uses = {"train": "training (minibatches)", "val": "early stopping and every choice the book makes",
            "test": "reporting only"}
    sizes = {s: len(getattr(data, f"y_{s}")) for s in uses}
    total = sum(sizes.values())
    return pd.DataFrame({"examples": sizes, "share": {s: f"{n / total:.0%}" for s, n in sizes.items()},
                         "used for": uses}).rename(index={"train": "training", "val": "validation"})


def one_shot_table(sweep: Any) -> Any:
    """Per pruning rate of a :func:`~lottery_core.one_shot_sweep` (means over seeds and draws): weights
    remaining, validation and test accuracy of each arm, and the share of Σw² each arm removes."""
    import pandas as pd

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
    from .analysis import last_within, paired_differences, paired_interval

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


# Frankle & Carbin (2019): percent of weights remaining P_m of LeNet-300-100 on MNIST after n rounds.
PAPER_LENET_DENSITIES = {3: 0.513, 7: 0.211, 9: 0.135, 15: 0.036, 16: 0.029}


def schedule_table(result: Any) -> Any:
    """Per round of an IMP run: the density of the first seed's mask overall and per layer, the same
    schedule applied to the paper's 784-input network, and the densities the paper reports."""
    import pandas as pd

    from .analysis import density_schedule
    from .masks import Mask
    from .models import build_model
    from .pruning import layer_rates_for

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


def _per_round_means(long: Any, arms: Sequence[str]) -> list[dict]:
    means = long.groupby(["round", "arm"])[["density", "early_stop_test_acc", "early_stop_iteration"]].mean()
    out = []
    for r in sorted(long["round"].unique()):
        entry = {"round": int(r), "density": float(means.loc[(r, "ticket"), "density"])}
        for arm in arms:
            have = (r, arm) in means.index
            entry[f"{arm}_acc"] = float(means.loc[(r, arm), "early_stop_test_acc"]) if have else None
            entry[f"{arm}_iteration"] = float(means.loc[(r, arm), "early_stop_iteration"]) if have else None
        out.append(entry)
    return out


def _first_of_last_run(intervals: Sequence[Mapping[str, Any]], word: str, key: str = "round") -> Any:
    """The first ``key`` of the final run of intervals whose verdict is ``word`` ("above"/"below")."""
    first = None
    for iv in reversed(list(intervals)):
        if verdict(iv, above="above", below="below", same="same") != word:
            break
        first = iv[key]
    return first


RECORD_COLUMNS = ["round", "seed", "arm", "density", "early_stop_test_acc", "early_stop_val_acc",
                  "early_stop_iteration", "final_test_acc"]


def _trained_rows(result: Any) -> Any:
    """``result.to_long_frame()`` without round 0's control rows (copies of the dense network's numbers)."""
    long = result.to_long_frame()
    return long[(long["arm"] == "ticket") | (long["round"] > 0)].reset_index(drop=True)


def ticket_metrics(result: Any, one_shot: Any | None = None, *, target_density: float = 0.211) -> dict:
    """The numbers chapter 3 records from an IMP run (and, optionally, one-shot tickets from
    :func:`~lottery_core.train_one_shot`): every ticket − dense difference paired by seed with its 95% t
    interval, the best round chosen on validation accuracy, and the dense networks' overfitting."""
    from .analysis import best_round, closest_round, paired_differences

    long = _trained_rows(result)
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
        "per_round": _per_round_means(long, ["ticket", *result.controls]),
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
        "below_dense_from": _first_of_last_run(test[1:], "below"),
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
    import pandas as pd

    from .analysis import paired_differences

    both = pd.concat([long, one_shot], ignore_index=True)
    return {
        "rounds": sorted(int(r) for r in one_shot["round"].unique()),
        "records": one_shot.reindex(columns=RECORD_COLUMNS).to_dict("records"),
        "iterative_minus_one_shot": intervals_as_records(paired_differences(both, "ticket", "one_shot")),
        "one_shot_minus_dense": intervals_as_records(paired_differences(both, "one_shot", "dense")),
    }


def _at(intervals: Sequence[Mapping[str, Any]], value: Any, key: str = "round") -> Mapping[str, Any]:
    """The interval record whose ``key`` is ``value``."""
    return next(iv for iv in intervals if iv[key] == value)


CONTROL_COMPARISONS = {  # metrics key -> (arm, baseline, metric) for chapter 4
    "ticket_minus_reinit": ("ticket", "reinit", "early_stop_test_acc"),
    "ticket_minus_random_prune": ("ticket", "random_prune", "early_stop_test_acc"),
    "reinit_minus_random_prune": ("reinit", "random_prune", "early_stop_test_acc"),
    "reinit_minus_dense": ("reinit", "dense", "early_stop_test_acc"),
    "random_prune_minus_dense": ("random_prune", "dense", "early_stop_test_acc"),
    "ticket_minus_reinit_val": ("ticket", "reinit", "early_stop_val_acc"),
    "ticket_minus_reinit_final": ("ticket", "reinit", "final_test_acc"),
    "reinit_minus_ticket_iteration": ("reinit", "ticket", "early_stop_iteration"),
}


def control_metrics(result: Any, *, target_density: float = 0.211) -> dict:
    """The numbers chapter 4 records: the ticket against its random-reinitialisation and random-pruning
    controls at every round where they trained, each difference paired by seed with its 95% t interval;
    the round of the largest ticket − reinit gap is chosen on validation accuracy."""
    from .analysis import best_round, closest_round, paired_differences

    long = _trained_rows(result)
    with_controls = long[long["round"].isin(long.loc[long["arm"] == "reinit", "round"]) | (long["round"] == 0)]
    stats = long.groupby(["round", "arm"])[["early_stop_test_acc", "early_stop_iteration"]].agg(["mean", "std"])
    per_round = _per_round_means(long, ["ticket", "reinit", "random_prune"])
    for entry in per_round:
        for arm in ("ticket", "reinit", "random_prune"):
            have = (entry["round"], arm) in stats.index
            row = stats.loc[(entry["round"], arm)] if have else None
            entry[f"{arm}_acc_sd"] = float(row[("early_stop_test_acc", "std")]) if have else None
            entry[f"{arm}_iteration_sd"] = float(row[("early_stop_iteration", "std")]) if have else None
    m: dict[str, Any] = {
        "seeds": list(result.seeds), "rounds": result.num_rounds - 1,
        "control_rounds": sorted(int(r) for r in with_controls["round"].unique() if r > 0),
        "iterations": result.config.iterations, "per_round": per_round,
        "records": long.reindex(columns=RECORD_COLUMNS).to_dict("records"),
        "dense_acc": float(long[(long["arm"] == "ticket") & (long["round"] == 0)]["early_stop_test_acc"].mean()),
    }
    for key, (arm, baseline, metric) in CONTROL_COMPARISONS.items():
        m[key] = [iv for iv in intervals_as_records(paired_differences(with_controls, arm, baseline, metric))
                  if iv["round"] > 0]
    r21 = closest_round(with_controls[with_controls["round"] > 0], target_density)
    at21 = with_controls[with_controls["round"] == r21].pivot_table(index="seed", columns="arm",
                                                                    values="early_stop_test_acc")
    gap = best_round(with_controls, "ticket", baseline="reinit", metric="early_stop_val_acc")
    m |= {
        "round_21": r21, "density_21": float(long.loc[long["round"] == r21, "density"].mean()),
        **{f"{arm}_acc_21": float(at21[arm].mean()) for arm in ("ticket", "reinit", "random_prune")},
        "ticket_minus_reinit_21": float((at21["ticket"] - at21["reinit"]).mean()),
        "ticket_minus_random_prune_21": float((at21["ticket"] - at21["random_prune"]).mean()),
        "seed_margins_21": (at21["ticket"] - at21["reinit"]).tolist(),
        "ticket_minus_reinit_final_21": _at(m["ticket_minus_reinit_final"], r21)["mean"],
        "largest_gap_round": gap, "largest_gap": _at(m["ticket_minus_reinit"], gap),
        "verdicts": {k: count_verdicts(m[k]) for k in ("ticket_minus_reinit", "ticket_minus_random_prune",
                                                        "reinit_minus_random_prune")},
        "reinit_below_dense_from": _first_of_last_run(m["reinit_minus_dense"], "below"),
        "random_prune_below_dense_from": _first_of_last_run(m["random_prune_minus_dense"], "below"),
    }
    return plain(m)


def control_table(m: Mapping[str, Any]) -> Any:
    """Chapter 4's per-density table from its metrics: test accuracy at early stopping (%) and the
    early-stopping iteration of the ticket and both controls, mean ± sd over seeds, at the rounds
    where the controls trained (and round 0, the dense network)."""
    import pandas as pd

    names = {"ticket": "ticket", "reinit": "random reinit", "random_prune": "random pruning"}

    def pm(mean: float | None, sd: float | None, scale: float, fmt: str) -> str:
        return f"{scale * mean:{fmt}} ± {scale * sd:{fmt}}" if sd is not None and math.isfinite(sd) else ""

    rows = []
    for e in m["per_round"]:
        if e["round"] and e["round"] not in m["control_rounds"]:
            continue
        row = {("", "round"): e["round"], ("", "weights remaining"): f"{e['density']:.1%}"}
        row |= {("test accuracy (%)", name): pm(e[f"{arm}_acc"], e[f"{arm}_acc_sd"], 100, ".1f")
                for arm, name in names.items()}
        row |= {("early-stopping iteration", name): pm(e[f"{arm}_iteration"], e[f"{arm}_iteration_sd"], 1, ",.0f")
                for arm, name in names.items()}
        rows.append(row)
    table = pd.DataFrame(rows)
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table.set_index(("", "round")).rename_axis("round")
# ---- Verdict words and intervals as text (chapters 5 to 7) ----


def interval_word(iv: Mapping[str, float], above: str = "higher", below: str = "lower",
                  level: str = "no clear difference") -> str:
    """The verdict a 95% interval supports: ``above`` when it lies above zero, ``below`` when below,
    ``level`` when it contains zero (or is undefined)."""
    return verdict(iv, above=above, below=below, same=level)


def interval_text(iv: Mapping[str, float], *, scale: float = 100.0, unit: str = " points",
                    digits: int = 1) -> str:
    """A difference with its interval, e.g. ``+1.2 points (95% CI −0.3 to +2.7)``."""
    def number(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{scale * x:+.{digits}f}".replace("-", "−")

    if iv.get("mean") is None or not math.isfinite(iv["mean"]):
        return "n/a"
    return f"{number(iv['mean'])}{unit} (95% CI {number(iv.get('low'))} to {number(iv.get('high'))})"


def format_ratio(iv: Mapping[str, float], digits: int = 2) -> str:
    """A ratio with its interval, e.g. ``1.32× (95% CI 1.10 to 1.58)``."""
    def number(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"

    if iv.get("mean") is None or not math.isfinite(iv["mean"]):
        return "n/a"
    return f"{number(iv['mean'])}× (95% CI {number(iv.get('low'))} to {number(iv.get('high'))})"


def by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float], **style) -> str:
    """``interval_text`` of each round's interval, labelled with the round's density, densest first."""
    rounds = sorted(per_round, key=lambda r: -densities[str(r)])
    return "; ".join(f"{interval_text(per_round[r], **style)} at {densities[str(r)]:.1%}" for r in rounds)


def words_by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float],
                     **words: str) -> dict[str, list[str]]:
    """Group the rounds' densities (as "21.6%") by the verdict word of their interval."""
    out: dict[str, list[str]] = {}
    for r in sorted(per_round, key=lambda r: -densities[str(r)]):
        out.setdefault(interval_word(per_round[r], **words), []).append(f"{densities[str(r)]:.1%}")
    return out


def nested_intervals(table: Any, *, key: str = "arm", by: str = "round") -> dict[str, dict[str, dict]]:
    """Rows of an interval table (``key``, ``by``, mean, low, high, n) as ``{key: {str(by): interval}}``
    for a metrics file."""
    out: dict[str, dict[str, dict]] = {}
    for row in table.to_dict("records"):
        out.setdefault(str(row[key]), {})[str(row[by])] = plain({k: row[k] for k in ("mean", "low", "high", "n")})
    return out


SCALE_COLUMNS = {
    "fan_in": "dense fan-in", "fan_out": "dense fan-out", "density": "layer density d", "dense_std": "Glorot σ",
    "subnetwork_std": "σ/√d", "neuron_std_mean": "per-neuron std (mean)", "neuron_std_p10": "per-neuron std p10",
    "neuron_std_p90": "per-neuron std p90", "fan_in_min": "kept fan-in min", "fan_in_median": "kept fan-in median",
    "fan_in_max": "kept fan-in max", "measured_scale": "RMS(kept θ0) / σ", "ceiling_scale": "ceiling / σ",
}


def scale_summary(scales: Any, round: int, labels: Mapping[str, str] | None = None) -> Any:
    """Chapter 6's layer-by-layer table of one round of :func:`~lottery_core.ticket_scales`: means over
    seeds, fan-in extremes over all seeds, columns named for the reader."""
    part = scales[scales["round"] == round]
    agg = {c: "mean" for c in SCALE_COLUMNS} | {"fan_in_min": "min", "fan_in_max": "max"}
    table = part.groupby("layer", sort=False).agg(agg).rename(columns=SCALE_COLUMNS)
    return table.rename(index=dict(labels or {})).rename_axis(f"round {round}")


# ---- Chapter 6: tables, metrics and findings of the √10 experiment ----


def _bracket(iv: Mapping[str, float], scale: float = 100.0, digits: int = 1, sign: str = "+") -> str:
    """``"+1.2 [+0.4, +2.0]"``: a mean and its interval; ``"n/a"`` when undefined."""
    if iv.get("mean") is None or not math.isfinite(iv["mean"]):
        return "n/a"
    if iv.get("low") is None or not math.isfinite(iv["low"]):
        return f"{scale * iv['mean']:{sign}.{digits}f}"
    return (f"{scale * iv['mean']:{sign}.{digits}f} [{scale * iv['low']:{sign}.{digits}f}, "
            f"{scale * iv['high']:{sign}.{digits}f}]")


def interval_rows(*tables: Any, scale: float = 100.0) -> Any:
    """Tables of :func:`~lottery_core.arm_differences` as one text table: a row per comparison
    ("arm − reference"), a column per tested density, cells ``"−3.1 [−4.0, −2.2]"`` (mean and 95% interval,
    in percentage points for accuracies)."""
    import pandas as pd

    from .arms import arm_label

    rows = [{"comparison": f"{arm_label(r['arm'])} − {arm_label(r['reference'])}",
             "density": r["density"], "where": f"{r['density']:.1%} (round {r['round']})", "cell": _bracket(r, scale)}
            for table in tables for r in table.to_dict("records")]
    frame = pd.DataFrame(rows)
    order = list(dict.fromkeys(frame["comparison"]))
    columns = list(dict.fromkeys(frame.sort_values("density", ascending=False)["where"]))
    table = frame.pivot(index="comparison", columns="where", values="cell").loc[order, columns]
    return table.rename_axis(index="mean [95% interval]", columns="weights remaining")


def gap_table(closed: Mapping[str, Mapping[str, float]]) -> Any:
    """Shares of the ticket's lead over reinit that arms close (:func:`~lottery_core.gap_closed`), as text."""
    import pandas as pd

    from .arms import arm_label

    return pd.DataFrame({
        "share of the ticket's lead closed": [f"{v['mean']:.0%}" for v in closed.values()],
        "95% interval (paired bootstrap over seeds)": [f"{v['low']:.0%} to {v['high']:.0%}" for v in closed.values()],
    }, index=[arm_label(a) for a in closed]).rename_axis("arm")


def rms_columns(table: Any, labels: Mapping[str, str]) -> Any:
    """Rows of :func:`~lottery_core.rms_summary` for one round as text: per arm and layer, the kept
    weights' RMS at the start and at the end of training in units of the dense σ, and their movement
    RMS(θT − θ0) over the ticket's (geometric mean over seeds, 95% interval)."""
    import pandas as pd

    from .arms import arm_label

    rows: dict = {}
    for r in table.to_dict("records"):
        layer = f"{labels.get(r['layer'], r['layer'])}, σ/√d = {r['sigma_d']:.2f} σ"
        row = rows.setdefault(arm_label(r["arm"]), {})
        row[(layer, "RMS / σ, start → end")] = f"{r['initial']:.2f} → {r['final']:.2f}"
        row[(layer, "movement / ticket's")] = format_ratio(r["moved_vs_reference"])
    out = pd.DataFrame(rows).T
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out.rename_axis("arm")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _accuracy(frame: Any) -> dict:
    stats = frame.groupby(["arm", "round"])[["early_stop_test_acc", "early_stop_iteration"]].agg(["mean", "std"])
    out: dict = {}
    for (arm, r), row in stats.iterrows():
        out.setdefault(arm, {})[str(r)] = {"mean": row[("early_stop_test_acc", "mean")],
                                           "sd": row[("early_stop_test_acc", "std")],
                                           "early_stop_iteration": row[("early_stop_iteration", "mean")],
                                           "n": int((frame["arm"].eq(arm) & frame["round"].eq(r)).sum())}
    return out


def _rms_metrics(rms_table: Any, labels: Mapping[str, str]) -> dict:
    out: dict = {}
    for r in rms_table.to_dict("records"):
        entry = {k: r[k] for k in ("density", "initial", "final", "sigma_d", "moved", "growth")}
        entry["moved_vs_ticket"] = r["moved_vs_reference"]
        out.setdefault(str(r["round"]), {}).setdefault(r["arm"], {})[labels.get(r["layer"], r["layer"])] = entry
    return out


def sqrt10_metrics(*, config: Any, seeds: Sequence[int], scales: Any, target_round: int, tested: Sequence[int],
                   run: Any, vs_ticket: Any, vs_reinit: Any, closed: Mapping[str, Mapping], rms_table: Any,
                   rms_round: int, labels: Mapping[str, str], selection: Any) -> dict:
    """Chapter 6's metrics file: the tested densities and the validation leads that chose them, every
    arm's accuracy, the paired intervals against the ticket and against reinit, the shares of the gap
    closed, the scale table of the target round, the scale of every ticket, and the kept-weight RMS."""
    from .analysis import gaussian_selection_ceiling

    pruned = selection[selection["round"] > 0]
    means = pruned.groupby(["round", "arm"])["early_stop_val_acc"].mean().unstack("arm")
    target = scales[scales["round"] == target_round].groupby("layer", sort=False).mean(numeric_only=True)
    columns = ["fan_in", "fan_out", "density", "dense_std", "subnetwork_std", "predicted_scale", "kept_init_rms",
               "all_init_rms", "measured_scale", "ceiling_scale", "share_of_predicted_log"]
    shared = pruned[pruned["arm"] == "ticket"].groupby("round")["early_stop_test_acc"].mean()
    return plain({
        "config": config.to_dict(), "seeds": list(seeds), "tested_rounds": list(tested),
        "density": {str(r): d for r, d in run.frame.groupby("round")["density"].mean().items()},
        "validation_lead": {str(r): v for r, v in (means["ticket"] - means["reinit"]).items()},
        "shared_ticket_acc": {str(r): shared[r] for r in tested},
        "arms": list(dict.fromkeys(run.frame["arm"])), "accuracy": _accuracy(run.frame),
        "vs_ticket": nested_intervals(vs_ticket), "vs_reinit": nested_intervals(vs_reinit), "gap_closed": closed,
        "target_round": target_round, "layers": [labels[k] for k in target.index],
        "scale_table": {labels[k]: {c: target.loc[k, c] for c in columns} for k in target.index},
        "scale_by_round": scales.assign(layer=scales["layer"].map(labels))[
            ["round", "seed", "layer", "density", "overall_density", "predicted_scale", "measured_scale",
             "ceiling_scale", "sample_scale", "share_of_predicted_log"]].to_dict("records"),
        "ceiling_at_10pct": gaussian_selection_ceiling(0.1), "rms_round": rms_round,
        "rms": _rms_metrics(rms_table, labels),
    })


# ---- Chapter 5: metrics and findings of weight movement and the kept initial values ----


def movement_metrics(*, config: Any, seeds: Sequence[int], result: Any, rounds: Sequence[int], summary: Any,
                     movement: Any, shape: Any, labels: Mapping[str, str], bins: int, near_zero: float) -> dict:
    """Chapter 5's metrics file: per examined ticket and layer, the movement ratios raw and matched
    (intervals over seeds), the away-from-zero differences, the coverage of the matching, the group
    sizes, and the shape of the kept initial weights (means over seeds)."""
    fields = ("raw_ratio", "matched_ratio", "share_left", "coverage", "away_raw", "away_matched")
    sizes = movement.groupby(["round", "layer"])[["kept", "pruned"]].mean()
    shapes = shape.groupby(["round", "layer"]).mean(numeric_only=True).drop(columns="seed")
    out: dict = {"config": config.to_dict(), "seeds": list(seeds), "movement_rounds": list(rounds), "bins": bins,
                 "near_zero": near_zero, "layers": list(labels.values()), "movement": {}, "init_shape": {},
                 "density": {str(r): sum(result.mask(r, s).density() for s in seeds) / len(seeds) for r in rounds}}
    for row in summary.to_dict("records"):
        r, layer = row["round"], row["layer"]
        entry = {k: row[k] for k in fields} | sizes.loc[(r, layer)].to_dict()
        out["movement"].setdefault(str(r), {})[labels[layer]] = entry
        out["init_shape"].setdefault(str(r), {})[labels[layer]] = shapes.loc[(r, layer)].to_dict()
    return plain(out)


def movement_table(summary: Any, labels: Mapping[str, str]) -> Any:
    """Chapter 5's table: per ticket and layer, the kept/pruned movement ratio over all weights and
    within |θT| bins (geometric means), the share of kept weights matched, and the away-from-zero
    differences (kept − pruned, percentage points), each with its 95% interval over seeds."""
    import pandas as pd

    rows = [{"round": r["round"], "layer": labels.get(r["layer"], r["layer"]),
             "kept / pruned, all": _bracket(r["raw_ratio"], 1.0, 2, ""),
             "kept / pruned, same |θT|": _bracket(r["matched_ratio"], 1.0, 2, ""),
             "kept weights matched": f"{r['coverage']:.0%}",
             "away from zero, raw": _bracket(r["away_raw"]), "away from zero, same |θT|": _bracket(r["away_matched"])}
            for r in summary.to_dict("records")]
    return pd.DataFrame(rows).set_index(["round", "layer"])


# ---- Chapter 7: metrics and findings of rewinding and the learning rate ----


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
    import pandas as pd

    from .arms import rewinding_label

    means = frame.groupby(["setting", "k", "arm"])["early_stop_test_acc"].mean()
    rows = []
    for m in margins.to_dict("records"):
        s, k = m["setting"], m["k"]
        d = vs_dense[(vs_dense["setting"] == s) & (vs_dense["k"] == k)].set_index("arm")
        rows.append({"run": rewinding_label(s, k), "dense (%)": f"{100 * means[(s, k, 'dense')]:.1f}",
                     f"ticket at {m['density']:.1%} (%)": f"{100 * means[(s, k, 'ticket')]:.1f}",
                     "reinit (%)": f"{100 * means[(s, k, 'reinit')]:.1f}", "ticket − reinit": _bracket(m),
                     "ticket − dense": _bracket(d.loc["ticket"]), "reinit − dense": _bracket(d.loc["reinit"])})
    return pd.DataFrame(rows).set_index("run")


# ---- The conclusion: every chapter's metrics, running the chapters that are missing ----

BOOK_CHAPTERS = {
    "01_dense_baseline": "Chapter 1: the dense baseline",
    "02_pruning_and_masks": "Chapter 2: pruning and masks",
    "03_winning_tickets": "Chapter 3: winning tickets",
    "04_random_reinit": "Chapter 4: is it the initialisation?",
    "05_weight_movement": "Chapter 5: inside a winning ticket",
    "06_sqrt10_magnitude": "Chapter 6: the √10 argument",
    "07_rewinding": "Chapter 7: rewinding and the learning rate",
}


def read_available_metrics(folder: str | os.PathLike, chapters: Sequence[str]) -> dict[str, dict]:
    """The metrics of those ``chapters`` that wrote ``<folder>/<chapter>.json``; unreadable files count as
    missing."""
    found = {}
    for chapter in chapters:
        path = Path(folder) / f"{chapter}.json"
        try:
            found[chapter] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return found


def run_chapters(chapters: Sequence[str], notebooks_dir: str | os.PathLike, metrics_dir: str | os.PathLike,
                 parameters: Mapping[str, Any] | None = None) -> list[str]:
    """Execute the notebooks ``<notebooks_dir>/<chapter>.ipynb`` one after the other with papermill, each
    writing its metrics to ``<metrics_dir>/<chapter>.json``; the executed copies go to
    ``<metrics_dir>/../executed``. A chapter that fails is reported in one line and skipped. Returns the
    chapters that ran to the end. Needs papermill (the ``lab`` extra)."""
    try:
        import papermill
    except ImportError:
        raise ImportError("running the chapters needs papermill: pip install 'lottery_core[lab]'") from None

    notebooks, metrics = Path(notebooks_dir).resolve(), Path(metrics_dir).resolve()
    executed = metrics.parent / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    done = []
    for chapter in chapters:
        print(f"running {chapter}.ipynb ...", flush=True)
        try:
            papermill.execute_notebook(
                str(notebooks / f"{chapter}.ipynb"), str(executed / f"{chapter}.ipynb"),
                parameters={"metrics_path": str(metrics / f"{chapter}.json"), **(parameters or {})},
                cwd=str(notebooks), progress_bar=False)
        except Exception as error:  # a failed chapter is named, not raised: the page goes on with the rest
            reason = getattr(error, "ename", type(error).__name__)
            detail = getattr(error, "evalue", str(error)).strip().splitlines()
            print(f"{chapter} stopped with {reason}: {detail[-1] if detail else ''}", flush=True)
        else:
            done.append(chapter)
    return done


def gather_metrics(chapters: Sequence[str], *, metrics_dir: str | os.PathLike | None = None,
                   notebooks_dir: str | os.PathLike | None = None, run_missing: bool = True,
                   parameters: Mapping[str, Any] | None = None) -> tuple[dict[str, dict], list[str]]:
    """Every chapter's metrics for a summary page, and the chapters still missing.

    Reads ``<metrics_dir>/<chapter>.json`` (default: the folder of :func:`metrics_path`). When some are
    missing, ``run_missing`` is set and their notebooks sit in ``notebooks_dir``, runs them first
    (:func:`run_chapters`). Whatever is still missing is named in a short message, never a traceback.
    """
    folder = Path(metrics_dir) if metrics_dir is not None else metrics_path("any").parent
    found = read_available_metrics(folder, chapters)
    missing = [c for c in chapters if c not in found]
    here = Path(notebooks_dir) if notebooks_dir is not None else None
    runnable = [c for c in missing if here is not None and (here / f"{c}.ipynb").is_file()]
    if missing and run_missing and runnable:
        print(f"{len(runnable)} chapter(s) have no metrics in {folder} yet; running them first.", flush=True)
        run_chapters(runnable, here, folder, parameters)
        found |= read_available_metrics(folder, runnable)
        missing = [c for c in chapters if c not in found]
    if missing:
        print(missing_message(missing, folder), flush=True)
    return found, missing


def missing_message(missing: Sequence[str], folder: str | os.PathLike) -> str:
    """Which chapters to run before a summary page can show their results."""
    names = ", ".join(f"{BOOK_CHAPTERS.get(c, c).split(':')[0]} ({c}.ipynb)" for c in missing)
    return (f"No results yet from {names} in {folder}. Run those notebooks first (each writes its metrics in its "
            "last cell); a chapter notebook in the folder of this page is run by the page itself. The sections "
            "below show what is there.")


def seed_question_table(m6: Mapping[str, Any] | None) -> Any:
    """The conclusion's table of chapter 6's experiment from its metrics: a row per comparison (each arm
    against the ticket, the rescaled reinitialisations against plain reinit), a column per tested density,
    mean and 95% interval in percentage points. Without chapter 6's metrics, a note saying so."""
    import pandas as pd

    from .arms import arm_label

    if not m6:
        print("Chapter 6 has not been run, so there is no experiment to show here.")
        return None
    d = m6["density"]
    rows = {}
    for key, reference in (("vs_ticket", "ticket"), ("vs_reinit", "reinit")):
        for arm in [a for a in m6["arms"] if a in m6[key]]:
            per_round = m6[key][arm]
            rows[f"{arm_label(arm)} − {arm_label(reference)}"] = {
                f"{d[r]:.1%} of weights": _bracket(iv) for r, iv in sorted(per_round.items(), key=lambda x: -d[x[0]])}
    return pd.DataFrame(rows).T.rename_axis("chapter 6, test accuracy difference (points) [95% interval]")


def seed_question_metrics(m6: Mapping[str, Any] | None) -> dict | None:
    """What the conclusion records of chapter 6: the verdict of each arm against the ticket per density."""
    if not m6:
        return None
    words = {"above": "higher", "below": "lower", "level": "no clear difference"}
    return {arm: words_by_density(per_round, m6["density"], above=words["above"], below=words["below"],
                                  level=words["level"]) for arm, per_round in m6["vs_ticket"].items()}
