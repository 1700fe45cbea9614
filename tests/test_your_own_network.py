"""The "Your own network" page runs through papermill: two IMP rounds with the reinit control on the page's CNN, the
ResNet-18 call at toy size, and its metrics."""

from __future__ import annotations

import pytest
from conftest import execute_chapter


@pytest.mark.notebook
def test_the_page_runs_imp_on_its_cnn_and_a_resnet18(tmp_path, shared_cache):
    m = execute_chapter("your_own_network", tmp_path, shared_cache, dataset="mnist1d", iterations=60, eval_every=30)
    assert m["dataset"] == "mnist1d" and m["rounds"] == 2
    # MNIST-1D (40 samples): conv 1->8 width 3 (24 weights), conv 8->16 (384), linear 16*10 -> 10 (1,600);
    # convolutions lose 20% of their survivors per round and the output layer 10%, rounded per layer
    counts = [24, 384, 1600]
    total = sum(counts)
    expected = []
    for _ in range(3):
        expected.append(sum(counts) / total)
        counts = [c - round(rate * c) for c, rate in zip(counts, (0.2, 0.2, 0.1))]
    assert m["densities"] == pytest.approx(expected, abs=1e-12)
    assert m["mask_layers"] == ["features.1.weight", "features.4.weight", "classifier.weight"]  # no BatchNorm
    assert m["reinit_early_stop_test_acc"][1] is not None and m["reinit_early_stop_test_acc"][2] is not None
    assert m["resnet_pruned_parameters"] == 21 and m["resnet_density"] == pytest.approx(0.8, abs=1e-3)
