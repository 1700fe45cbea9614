"""config.py: presets and get_preset's overrides."""

from __future__ import annotations

import pytest

import lottery_core as lc


def test_overrides_apply_and_none_is_ignored():
    config = lc.get_preset("book", iterations=500, lr=None, seed=None, num_samples=2000)
    assert config.iterations == 500 and config.num_samples == 2000
    assert config.lr == lc.PRESETS["book"].lr and config.seed == lc.PRESETS["book"].seed
    assert lc.get_preset("book") == lc.PRESETS["book"]


def test_paper_presets_follow_figure_2():
    paper = lc.get_preset("lenet_mnist_paper")
    assert (paper.dataset, paper.model, paper.lr, paper.batch_size, paper.iterations) == (
        "mnist", "lenet_300_100", 1.2e-3, 60, 50_000)
    assert (paper.prune_rate, paper.output_prune_rate) == (0.2, 0.1)
    assert lc.get_preset("conv6_cifar10_paper").conv_prune_rate == 0.15


def test_unknown_preset_and_field_name_the_valid_ones():
    with pytest.raises(ValueError, match="valid presets: book"):
        lc.get_preset("nope")
    with pytest.raises(ValueError, match="unknown config field.*itrations.*valid fields"):
        lc.get_preset("book", itrations=5)
