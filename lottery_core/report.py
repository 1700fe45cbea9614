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
from .data import DATASET_TITLES

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


def findings_markdown(lines: Sequence[str], title: str = "What this run shows") -> str:
    """The computed findings of a chapter as Markdown: a bold heading and one bullet per line."""
    return f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)


def show_findings(lines: Sequence[str], title: str = "What this run shows") -> None:
    """Render the computed findings of a chapter (:func:`findings_markdown`) as Markdown output in Jupyter,
    on Colab and in the book; print them where no notebook front end is attached (a script)."""
    text = findings_markdown(lines, title)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


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


def recorded_findings(records: pd.DataFrame) -> list[str]:
    """The "what this run shows" lines of a recorded IMP run with controls: where the ticket beats the dense
    network and the controls (95% paired t intervals above zero), and how much earlier it stops at ~21%."""
    lines = []
    for against in ["dense", *sorted(set(records["arm"]) - {"ticket"})]:
        diff = paired_differences(records, "ticket", against).query("round > 0")
        above = diff[diff["low"] > 0]
        where = (f"at {len(above)} of {len(diff)} densities, from {100 * above['density'].max():.1f}% down to "
                 f"{100 * above['density'].min():.1f}% (largest mean margin {100 * above['mean'].max():+.2f} pp)"
                 if len(above) else "at no density")
        lines.append(f"Ticket more accurate than {against} (95% paired t interval above zero) {where}.")
    iterations = records.pivot_table(index=["round", "seed"], columns="arm", values="early_stop_iteration")
    r = int((records.groupby("round")["density"].mean() - 0.211).abs().idxmin())
    ratio = iterations.xs(r, level="round")["ticket"] / iterations.xs(0, level="round")["ticket"]
    lines.append(f"At {100 * records.query('round == @r')['density'].mean():.1f}% of the weights the ticket's "
                 f"early-stopping iteration is {ratio.mean():.2f}× the dense network's (mean over seeds).")
    return lines


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


def dense_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 1 (the dense baseline) from its metrics."""
    splits, dense, curve = m["splits"], m["dense"], m["curve"]
    es, last = dense["early_stop_iteration"], curve["iteration"][-1]
    lines = [
        f"Data ({DATASET_TITLES.get(m['dataset'], m['dataset'])}): {splits['train']:,} training, "
        f"{splits['val']:,} validation and {splits['test']:,} test examples; on {splits['test']:,} test examples "
        f"an accuracy of {dense['early_stop_test_acc']:.0%} has a standard error of {100 * m['test_se']:.2f} "
        "percentage points.",
        f"Glorot initialisation: every layer's measured standard deviation is within "
        f"{max(abs(v['measured'] / v['xavier'] - 1) for v in m['init_std'].values()):.1%} of σ.",
        f"Early stopping: the validation loss is lowest at iteration {es:,} of {m['iterations']:,}; the test accuracy "
        f"there is {dense['early_stop_test_acc']:.1%} (validation {dense['early_stop_val_acc']:.1%}).",
    ]
    if es < last:
        i = curve["iteration"].index(es)
        lines.append(
            f"From there to the end of training the validation loss rises by "
            f"{dense['final_val_loss'] / dense['early_stop_val_loss'] - 1:.1%} ({dense['early_stop_val_loss']:.3f} to "
            f"{dense['final_val_loss']:.3f} nats) while the training loss falls from {curve['train_loss'][i]:.3f} to "
            f"{curve['train_loss'][-1]:.3f}.")
    else:
        lines.append("The validation loss is still falling at the last evaluation.")
    lines.append(f"At the end of training the test accuracy is {dense['final_test_acc']:.1%}, "
                 f"{100 * (dense['final_test_acc'] - dense['early_stop_test_acc']):+.1f} percentage points from its "
                 "value at early stopping.")
    return lines


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


def pruning_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 2 (one-shot pruning without retraining)."""
    rates, acc = m["rates"], m["one_shot_test_acc"]
    lines = [f"Dense networks at the end of training: {m['dense_test_acc']:.1%} test accuracy "
             f"(mean of {len(m['seeds'])} seeds)."]
    if m["safe_rate"]:
        i = rates.index(m["safe_rate"])
        lines.append(
            f"Chosen on validation accuracy, magnitude pruning without retraining stays within one point of the dense "
            f"network up to a rate of {m['safe_rate']:.0%} ({m['densities'][i]:.1%} of the weights left); the test "
            f"accuracy there is {acc['magnitude'][i]:.1%}, {format_interval(m['magnitude_minus_dense'][i])} against "
            "the dense network.")
    else:
        lines.append("Already the smallest pruning rate costs more than one point of validation accuracy.")
    counts = count_verdicts(m["magnitude_minus_random"][1:])
    lines.append(f"Magnitude pruning is more accurate than random pruning of as many weights (95% interval above "
                 f"zero) at {counts['above']} of the {len(rates) - 1} nonzero rates, less accurate at "
                 f"{counts['below']}.")
    lines.append(f"At the largest rate, {rates[-1]:.0%} ({m['densities'][-1]:.1%} of the weights left), magnitude "
                 f"pruning keeps {acc['magnitude'][-1]:.1%} test accuracy and random pruning {acc['random'][-1]:.1%} "
                 f"(chance: {1 / m['num_classes']:.0%}).")
    j = rates.index(m["norm_rate"])
    lines.append(f"The smallest {rates[j]:.0%} of the weights carry {m['norm_removed']['magnitude'][j]:.1%} of Σw²; a "
                 f"random {rates[j]:.0%} carries {m['norm_removed']['random'][j]:.1%}.")
    counts = count_verdicts(m["global_minus_layerwise"][1:])
    k = rates.index(m["global_rate"])
    lines.append(f"Global against layer-wise magnitude pruning at the same overall density: global is more accurate "
                 f"at {counts['above']}, less accurate at {counts['below']} and indistinguishable at "
                 f"{counts['same']} of the {len(rates) - 1} nonzero rates; at {m['densities'][k]:.1%} of the weights "
                 f"left, global − layer-wise = {format_interval(m['global_minus_layerwise'][k])}.")
    adj = m["adjacency"]
    lines.append(f"First-layer masks at rate {m['show_rate']:.0%}: {adj['magnitude']:.1%} of the kept connections "
                 f"have their neighbouring input kept too, against {adj['random']:.1%} in random masks of the same "
                 f"size (difference {format_interval(adj['difference'])}).")
    return lines


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


def ticket_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 3 (winning tickets against the dense network)."""
    n, r21, best = len(m["seeds"]), m["round_21"], m["best_round"]
    rise = [s["val_loss_rise"] for s in m["dense_overfitting"]]
    ratio = [s["train_over_val_loss"] for s in m["dense_overfitting"]]
    lines = [
        f"Dense networks ({n} seeds): {m['dense_acc']:.1%} test accuracy at early stopping, iteration "
        f"{m['dense_iteration']:,.0f} on average; from there to the end the validation loss rises by "
        f"{min(rise):.1%} to {max(rise):.1%}, and the final training loss is {min(ratio):.2f} to {max(ratio):.2f} "
        "times the final validation loss.",
        f"At {m['density_21']:.1%} of the weights (round {r21}, the closest to the paper's 21.1%): ticket − dense = "
        f"{format_interval(_at(m['ticket_minus_dense'], r21))}; early-stopping iteration "
        f"{format_interval(_at(m['ticket_minus_dense_iteration'], r21), scale=1, unit=' iterations', digits=0)}; "
        f"at the end of training ticket − dense = {format_interval(_at(m['ticket_minus_dense_final'], r21))}.",
        f"Chosen on validation accuracy, the best ticket keeps {m['best_density']:.1%} of the weights (round {best}); "
        f"its test accuracy is {m['best_acc']:.1%}, ticket − dense = {format_interval(m['best_minus_dense'])}.",
        f"Over the {m['rounds']} pruned rounds the ticket's 95% interval against the dense network lies above zero at "
        f"{m['verdicts']['above']}, below zero at {m['verdicts']['below']} and includes zero at "
        f"{m['verdicts']['same']}.",
    ]
    if m["below_dense_from"] is not None:
        iv = _at(m["ticket_minus_dense"], m["below_dense_from"])
        lines.append(f"The ticket is below the dense network at every round from {iv['density']:.1%} of the weights "
                     f"on; at the last round ({m['ticket_minus_dense'][-1]['density']:.1%}) ticket − dense = "
                     f"{format_interval(m['ticket_minus_dense'][-1])}.")
    if "one_shot" in m:
        parts = [f"{iv['density']:.1%}: {format_interval(iv)}" for iv in m["one_shot"]["iterative_minus_one_shot"]]
        lines.append("Iterative minus one-shot pruning at the same densities: " + "; ".join(parts) + ".")
    return lines


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


def control_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 4 (the ticket against its random controls)."""
    r21, n = m["round_21"], len(m["control_rounds"])

    def at(key: str, r: int = r21, **kw: Any) -> str:
        return format_interval(_at(m[key], r), **kw)

    v = m["verdicts"]
    lines = [
        f"At {m['density_21']:.1%} of the weights (round {r21}, the round with controls closest to the paper's "
        f"21.1%): ticket {m['ticket_acc_21']:.1%}, random reinitialisation {m['reinit_acc_21']:.1%}, random pruning "
        f"{m['random_prune_acc_21']:.1%}; the dense network {m['dense_acc']:.1%} (test accuracy at early stopping, "
        f"mean of {len(m['seeds'])} seeds).",
        f"There: ticket − reinit = {at('ticket_minus_reinit')}, ticket − random pruning = "
        f"{at('ticket_minus_random_prune')}, and reinit − random pruning (the magnitude mask's wiring alone) = "
        f"{at('reinit_minus_random_prune')}.",
        f"Over the {n} rounds with controls, ticket − reinit lies above zero at {v['ticket_minus_reinit']['above']}, "
        f"ticket − random pruning at {v['ticket_minus_random_prune']['above']}, and reinit − random pruning at "
        f"{v['reinit_minus_random_prune']['above']} (95% intervals over seeds).",
        f"Chosen on validation accuracy, the largest ticket − reinit gap is at {m['largest_gap']['density']:.1%} of "
        f"the weights; its test gap is {format_interval(m['largest_gap'])}.",
        f"Early-stopping iteration at {m['density_21']:.1%}: reinit − ticket = "
        f"{at('reinit_minus_ticket_iteration', scale=1, unit=' iterations', digits=0)}; at the end of training "
        f"ticket − reinit = {at('ticket_minus_reinit_final')}.",
    ]
    for arm, name in (("reinit", "random reinitialisation"), ("random_prune", "random pruning")):
        first = m[f"{arm}_below_dense_from"]
        lines.append(f"{name[0].upper() + name[1:]} is below the dense network at every round with controls from "
                     f"{_at(m[f'{arm}_minus_dense'], first)['density']:.1%} of the weights on."
                     if first is not None else f"{name[0].upper() + name[1:]} is not below the dense network at "
                     "the sparsest round with controls.")
    return lines


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
