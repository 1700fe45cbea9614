"""Chapter 2's sentences about the book's default run (one-shot pruning without retraining), checked against the
metrics of the last book build. Each test quotes the sentence it checks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.claims


@pytest.fixture
def m(book_metrics):
    return book_metrics["02_pruning_and_masks"]


def _at(m, key, rate):
    return next(iv for iv in m[key] if iv["rate"] == rate)


def test_training_spreads_the_first_layer_out(m):
    """"Training spreads the first layer's weights out: their standard deviation grows by more than half"."""
    assert m["weight_std"]["trained"] > 1.5 * m["weight_std"]["initial"]


def test_a_smallest_fifth_costs_under_a_point_a_random_fifth_about_25(m):
    """"Removing the smallest fifth of each hidden layer costs less than one point of test accuracy; removing a random
    fifth costs about 25 points"."""
    i = m["rates"].index(0.2)
    assert m["dense_test_acc"] - m["one_shot_test_acc"]["magnitude"][i] < 0.01
    assert m["dense_test_acc"] - m["one_shot_test_acc"]["random"][i] == pytest.approx(0.25, abs=0.05)


def test_magnitude_stays_ahead_until_chance(m):
    """"Magnitude pruning stays ahead, with an interval well above zero, at every rate until both end up at
    chance"."""
    chance = 1 / m["num_classes"]
    for i, rate in enumerate(m["rates"][1:], start=1):
        if m["one_shot_test_acc"]["magnitude"][i] > chance + 0.05:
            assert _at(m, "magnitude_minus_random", rate)["low"] > 0, rate


def test_the_smallest_fifth_carries_a_tiny_share_of_the_norm(m):
    """"the smallest fifth of the weights carry only a tiny share of the squared weight norm, while a random fifth
    carries about a fifth of it"."""
    i = m["rates"].index(0.2)
    assert m["norm_removed"]["magnitude"][i] < 0.02
    assert m["norm_removed"]["random"][i] == pytest.approx(0.2, abs=0.03)


def test_within_a_point_up_to_about_a_third(m):
    """"Judged on validation accuracy, magnitude pruning stays within about a point of the dense network while up
    to roughly a third of the weights are removed"."""
    assert 0.2 <= m["safe_rate"] <= 0.4


def test_deep_pruning_without_retraining_fails(m):
    """"deep pruning without retraining fails: with a tenth of the weights left the network is wrong on most test
    signals, and with 2% left it is at chance"."""
    acc, densities = m["one_shot_test_acc"]["magnitude"], m["densities"]
    tenth = min(range(len(densities)), key=lambda i: abs(densities[i] - 0.1))
    assert acc[tenth] < 0.5
    assert densities[-1] == pytest.approx(0.02, abs=0.005)
    assert acc[-1] < 1 / m["num_classes"] + 0.03


def test_global_and_layerwise_pruning_end_up_close(m):
    """"Global pruning keeps almost exactly the layer-wise share of each hidden layer ... In the default run the
    accuracy differences stay within about a point at every density, and most intervals include zero"."""
    hidden = [k for k in m["layer_sizes"] if k != m["output_layer"]]
    for glob, layerwise in zip(m["layer_densities"]["global"], m["layer_densities"]["magnitude"]):
        for layer in hidden:
            assert glob[layer] == pytest.approx(layerwise[layer], abs=0.02)
    differences = m["global_minus_layerwise"][1:]
    assert all(abs(iv["mean"]) <= 0.015 for iv in differences)
    assert sum(iv["low"] <= 0 <= iv["high"] for iv in differences) > len(differences) / 2


def test_magnitude_masks_keep_neighbours_together(m):
    """"the magnitude masks keep neighbouring inputs together clearly more often than random masks of the same size,
    for every seed"."""
    adjacency = m["adjacency"]
    assert adjacency["difference"]["low"] > 0
    assert all(row["magnitude"] > row["random"] for row in adjacency["per_seed"])
