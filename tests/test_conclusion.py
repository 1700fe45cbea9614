"""The conclusion page (book/conclusion.ipynb) trains nothing: it reads the metrics chapters 1 to 7 wrote. Run on the
metrics of real small chapter runs, every number it saves must be the chapters' own, every sentence that depends on
the sign of a number must agree with it, and a missing chapter must stop it with an error naming that chapter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lottery_core.notebook import read_metrics

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = ["01_dense_baseline", "02_pruning_and_masks", "03_winning_tickets", "04_random_reinit",
            "05_weight_movement", "06_sqrt10_magnitude", "07_rewinding"]


def run_conclusion(metrics_dir: Path, out: Path) -> tuple[dict, dict]:
    """Execute the conclusion on ``metrics_dir``; return its metrics and the executed notebook."""
    import papermill

    metrics = out / "conclusion.json"
    executed = out / "conclusion.out.ipynb"
    papermill.execute_notebook(
        str(BOOK / "conclusion.ipynb"),
        str(executed),
        parameters={"metrics_dir": str(metrics_dir), "metrics_path": str(metrics)},
        cwd=str(BOOK),
        kernel_name="python3",
        progress_bar=False,
    )
    return json.loads(metrics.read_text()), json.loads(executed.read_text())


@pytest.fixture(scope="module")
def run(chapter_metrics_dir, tmp_path_factory):
    conclusion, notebook = run_conclusion(chapter_metrics_dir, tmp_path_factory.mktemp("conclusion"))
    return {"conclusion": conclusion, "notebook": notebook, "chapters": read_metrics(chapter_metrics_dir, CHAPTERS)}


def test_read_metrics_names_exactly_the_missing_chapters(tmp_path):
    for name in CHAPTERS[:3]:
        (tmp_path / f"{name}.json").write_text(json.dumps({"chapter": name}))
    with pytest.raises(FileNotFoundError) as error:
        read_metrics(tmp_path, CHAPTERS)
    message = str(error.value)
    for name in CHAPTERS[3:]:
        assert name in message
    for name in CHAPTERS[:3]:
        assert name not in message
    assert read_metrics(tmp_path, CHAPTERS[:3]) == {name: {"chapter": name} for name in CHAPTERS[:3]}
    (tmp_path / f"{CHAPTERS[0]}.json").write_text("{not json")
    with pytest.raises(ValueError, match=CHAPTERS[0]):
        read_metrics(tmp_path, CHAPTERS[:1])


@pytest.mark.notebook
def test_a_missing_chapter_stops_the_page_and_is_named(tmp_path):
    import papermill

    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    missing = "05_weight_movement"
    for name in CHAPTERS:
        if name != missing:
            (metrics_dir / f"{name}.json").write_text("{}")  # present; never parsed past the missing-file check
    with pytest.raises(papermill.PapermillExecutionError) as error:
        run_conclusion(metrics_dir, tmp_path)
    assert error.value.ename == "FileNotFoundError"
    assert missing in error.value.evalue and "run" in error.value.evalue.lower()
    for name in CHAPTERS:
        if name != missing:
            assert name not in error.value.evalue, name
    assert not (tmp_path / "conclusion.json").exists()


@pytest.mark.notebook
def test_every_glued_name_in_the_text_has_a_value(run):
    cells = run["notebook"]["cells"]
    glued = {o["metadata"]["scrapbook"]["name"] for c in cells for o in c.get("outputs", [])
             if "scrapbook" in o.get("metadata", {})}
    used = {m.split(":")[0] for c in cells if c["cell_type"] == "markdown"
            for m in re.findall(r"\{glue:text\}`([^`]+)`", "".join(c["source"]))}
    assert used, "the conclusion should show its numbers through glue"
    assert used <= glued, f"referenced but never glued: {sorted(used - glued)}"


@pytest.mark.notebook
def test_numbers_are_the_chapters_numbers(run):
    c = run["conclusion"]
    ch1, ch2, ch3, ch4, ch5, ch6, ch7 = (run["chapters"][name] for name in CHAPTERS)
    assert c["chapters"] == CHAPTERS
    assert c["dataset"] == "MNIST-1D"  # the small chapter runs use the book preset
    assert c["dense"] == {"seed": ch1["seed"], "early_stop_test_acc": ch1["dense"]["early_stop_test_acc"],
                          "early_stop_iteration": ch1["dense"]["early_stop_iteration"],
                          "iterations": ch1["iterations"], "num_weights_total": ch1["num_weights_total"]}

    one_shot, i = c["one_shot"], ch2["rates"].index(c["one_shot"]["mid_rate"])
    assert one_shot["safe_rate"] == ch2["safe_rate"]
    assert one_shot["mid_density"] == ch2["densities"][i]
    assert one_shot["magnitude_acc"] == ch2["one_shot_test_acc"]["magnitude"][i]
    assert one_shot["random_acc"] == ch2["one_shot_test_acc"]["random"][i]
    # the rate shown is the nonzero rate whose density is closest to 50%
    nonzero = [j for j, r in enumerate(ch2["rates"]) if r > 0]
    assert i == min(nonzero, key=lambda j: abs(ch2["densities"][j] - 0.5))
    mag, rnd = ch2["one_shot_test_acc"]["magnitude"], ch2["one_shot_test_acc"]["random"]
    assert one_shot["magnitude_beats_random"] == sum(mag[j] > rnd[j] for j in nonzero)

    tickets = c["tickets"]
    for key in ("round_21", "density_21", "ticket_acc_21", "ticket_iteration_21", "dense_acc", "dense_iteration",
                "ticket_minus_dense_21", "best_round", "best_acc"):
        assert tickets[key] == ch3[key], key
    assert tickets["winning_rounds"] == [
        e["round"] for e in ch3["per_round"]
        if e["round"] > 0 and e["ticket_acc"] >= ch3["dense_acc"] and e["ticket_iteration"] <= ch3["dense_iteration"]]

    for label, target in (("21.1%", 0.211), ("3.6%", 0.036)):
        closest = min(ch4["per_round"], key=lambda e: abs(e["density"] - target))
        assert c["controls"][label] == closest, label
    assert c["controls"]["21.1%"]["round"] == ch4["round_21"]
    assert c["ticket_minus_reinit_21"] == ch4["ticket_minus_reinit_21"]
    assert c["ticket_minus_random_prune_21"] == ch4["ticket_minus_random_prune_21"]
    assert c["seed_wins_21"] == sum(m > 0 for m in ch4["seed_margins_21"])

    assert c["movement"]["verdicts"] == ch5["verdicts"]
    assert c["movement"]["rounds"] == [ch5["movement_rounds"][0], ch5["movement_rounds"][-1]]

    sqrt10 = c["sqrt10"]
    assert sqrt10["target_round"] == ch6["target_round"]
    assert sqrt10["measured_scale"] == {k: v["measured_scale"] for k, v in ch6["scale_table"].items()}
    assert sqrt10["predicted_scale"] == {k: v["predicted_scale"] for k, v in ch6["scale_table"].items()}
    assert sqrt10["gap_closed"] == {arm: v["pooled"] for arm, v in ch6["gap_closed"].items()}
    assert sqrt10["verdict"] == ch6["verdict"] and sqrt10["counted_rounds"] == ch6["counted_rounds"]
    assert sqrt10["ceiling_at_10pct"] == ch6["ceiling_at_10pct"]

    assert c["rewinding"]["lost_edge_at_high_lr"] == ch7["lost_edge_at_high_lr"]
    assert c["rewinding"]["runs"] == [{k: r[k] for k in ("setting", "rewind_iteration", "margin_target",
                                                          "margin_target_se", "verdict")} for r in ch7["runs"]]


@pytest.mark.notebook
def test_summary_table_shows_chapter_four(run):
    c, ch4 = run["conclusion"], run["chapters"]["04_random_reinit"]
    by_round = {e["round"]: e for e in ch4["per_round"]}
    rows = {r["network"]: r for r in c["summary_table"]}
    dense = by_round[0]
    assert rows[f"dense ({len(ch4['seeds'])} seeds)"]["test accuracy (%)"] == (
        f"{100 * dense['ticket_acc']:.1f} ± {100 * dense['ticket_acc_sd']:.1f}")
    arms = {"ticket": "winning ticket", "reinit": "random reinitialisation", "random_prune": "random pruning"}
    shown = {c["controls"]["21.1%"]["round"], c["controls"]["3.6%"]["round"]}
    for r in shown:
        e = by_round[r]
        for arm, name in arms.items():
            row = rows[f"{name} (round {r})"]
            assert row["weights remaining"] == f"{e['density']:.1%}"
            assert row["test accuracy (%)"] == f"{100 * e[f'{arm}_acc']:.1f} ± {100 * e[f'{arm}_acc_sd']:.1f}"
    assert len(rows) == 2 + 3 * len(shown)


def _direction(diff: float, above: str, below: str, level: str) -> str:
    return level if round(100 * abs(diff), 1) == 0 else (above if diff > 0 else below)


@pytest.mark.notebook
def test_sentences_agree_with_the_signs_of_the_numbers(run):
    c, s = run["conclusion"], run["conclusion"]["sentences"]
    ch4, ch6, ch7 = (run["chapters"][name] for name in ("04_random_reinit", "06_sqrt10_magnitude", "07_rewinding"))
    assert "MNIST-1D" in s["data_caveat"] and "not one of the paper's MNIST numbers" in s["data_caveat"]
    assert s["ch3_vs_dense"].endswith(_direction(c["tickets"]["ticket_minus_dense_21"], "above", "below", "level with"))
    assert s["ch4_vs_reinit"].endswith(_direction(ch4["ticket_minus_reinit_21"], "ahead of", "behind", "level with"))
    assert s["ch4_vs_random"].endswith(
        _direction(ch4["ticket_minus_random_prune_21"], "ahead of", "behind", "level with"))
    assert (s["ch3_winning"].startswith("By the paper's definition") and
            ("none of" in s["ch3_winning"]) == (not c["tickets"]["winning_rounds"]))
    # the answer to the seed question follows chapter 6's verdict, and quotes its numbers
    opening = {"most": "largely yes", "part": "partly", "a small part": "mostly no",
               "little or none": "in this build, no", "no gap to explain": "leaves the question open"}[ch6["verdict"]]
    assert opening in c["seed_answer"] and c["seed_answer"] == s["seed_answer"]
    if ch6["counted_rounds"]:
        for arm in ("reinit_layer_scaled", "reinit_neuron_scaled"):
            assert f"{ch6['gap_closed'][arm]['pooled']:.0%}" in s["seed_claim_scale"], arm
    larger = all(v["measured_scale"] > 1 for v in ch6["scale_table"].values())
    assert s["seed_claim_larger"].startswith("Yes") == larger
    assert s["ch7_lost"] == ch7["lost_text"] and s["ch7_restored"] == ch7["restored_text"]
    assert ("it is not" in s["seed_lr_note"]) == (ch7["lost_edge_at_high_lr"] is True)
