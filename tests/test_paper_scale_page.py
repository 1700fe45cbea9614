"""The paper-scale page: its code cell computes the paper's LeNet pruning schedule, and the presets it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

import lottery_core as lc

PAGE = Path(__file__).resolve().parents[1] / "book" / "reproducing_paper_scale.md"
TEXT = PAGE.read_text()
CODE_CELLS = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", TEXT, re.S | re.M)


@pytest.fixture(scope="module")
def page_namespace() -> dict:
    namespace: dict = {}
    for cell in CODE_CELLS:
        exec(compile(cell, str(PAGE), "exec"), namespace)
    return namespace


def test_page_is_a_notebook_without_launch_button():
    front_matter = yaml.safe_load(TEXT.split("---\n")[1])
    assert front_matter == {"file_format": "mystnb"}  # executed by the build; no kernelspec, so no Colab button
    assert len(CODE_CELLS) >= 1


def test_schedule_is_computed_from_a_784_input_lenet(page_namespace):
    model = page_namespace["model"]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(page_namespace["mask"].sizes().values()) == 784 * 300 + 300 * 100 + 100 * 10


def test_schedule_matches_the_papers_percentages(page_namespace):
    # Frankle & Carbin (2019): P_m of LeNet-300-100 after 3, 7, 9 and 15 rounds (shared/PAPER_NOTES.md).
    remaining = page_namespace["remaining"]
    assert [round(remaining[r], 1) for r in (3, 7, 9, 15)] == [51.3, 21.1, 13.5, 3.6]
    percents = [remaining[r] for r in range(16)]
    assert percents[0] == 100.0 and percents == sorted(percents, reverse=True) and len(set(percents)) == 16


def test_presets_named_on_the_page_exist():
    named = set(re.findall(r"`(\w+_paper)`", TEXT))
    assert "lenet_fashion_mnist_paper" in named
    assert named <= set(lc.PRESETS), named - set(lc.PRESETS)
    assert lc.get_preset("lenet_fashion_mnist_paper").dataset == "fashion_mnist"
