"""Chapter 1 (dense baseline) at small settings: architecture, Glorot initialisation, early stopping."""

from __future__ import annotations

import math

import pytest
from conftest import SMALL

ITERATIONS, EVAL_EVERY = SMALL["iterations"], SMALL["eval_every"]


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["01_dense_baseline"]


@pytest.mark.notebook
def test_lenet_on_mnist1d_has_the_expected_layers(metrics):
    # MNIST-1D signals have 40 values: LeNet-300-100 is 40 -> 300 -> 100 -> 10
    assert metrics["num_weights"] == {"net.1.weight": 40 * 300, "net.3.weight": 300 * 100, "net.5.weight": 100 * 10}
    assert metrics["num_weights_total"] == sum(metrics["num_weights"].values())


@pytest.mark.notebook
def test_initial_weights_follow_gaussian_glorot(metrics):
    assert set(metrics["init_std"]) == set(metrics["num_weights"])
    for layer, s in metrics["init_std"].items():
        assert s["xavier"] == pytest.approx(math.sqrt(2 / (s["fan_in"] + s["fan_out"]))), layer
        # PyTorch's default Linear init would be ~19% off in the first layer; Glorot is within sampling noise
        assert abs(s["measured"] / s["xavier"] - 1) < 0.1, layer
        assert s["fan_in"] * s["fan_out"] == metrics["num_weights"][layer]


@pytest.mark.notebook
def test_early_stopping_is_the_minimum_validation_loss(metrics):
    curve, dense = metrics["curve"], metrics["dense"]
    assert metrics["iterations"] == ITERATIONS and metrics["eval_every"] == EVAL_EVERY
    assert curve["iteration"] == list(range(EVAL_EVERY, ITERATIONS + 1, EVAL_EVERY))
    best = min(range(len(curve["iteration"])), key=lambda i: curve["val_loss"][i])
    assert dense["early_stop_iteration"] == curve["iteration"][best]
    assert dense["early_stop_test_acc"] == pytest.approx(curve["test_acc"][best])
    assert dense["early_stop_val_acc"] == pytest.approx(curve["val_acc"][best])
    assert dense["final_test_acc"] == pytest.approx(curve["test_acc"][-1])


@pytest.mark.notebook
def test_the_dense_network_learns(metrics):
    curve, dense = metrics["curve"], metrics["dense"]
    assert curve["train_loss"][-1] < 0.8 * curve["train_loss"][0]
    # ten classes: chance is 10%; 300 iterations already reach well above it on MNIST-1D
    for key in ("early_stop_test_acc", "final_test_acc"):
        assert 0.3 < dense[key] <= 1.0, key
