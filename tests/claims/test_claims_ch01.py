"""Chapter 1's sentences about the book's default run, checked against the metrics of the last book build.
Each test quotes the sentence it checks; if one fails, rewrite the sentence (or find out what changed)."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.claims


@pytest.fixture
def m(book_metrics):
    return book_metrics["01_dense_baseline"]


def test_the_data_splits(m):
    """"generates 12,500 signals with the same generator: a fifth for testing, and of the rest an eighth held out
    for validation" (and the findings: one accuracy's standard error is below one point)."""
    assert m["splits"] == {"train": 8750, "val": 1250, "test": 2500}
    assert m["test_se"] < 0.01


def test_about_43000_prunable_weights(m):
    """"so the network has about 43,000 prunable weights instead of the paper's 266,000"."""
    assert m["num_weights_total"] == pytest.approx(43_000, rel=0.01)


def test_glorot_within_sampling_noise(m):
    """"The measured standard deviations agree with Glorot's σ to within sampling noise": a sample standard
    deviation of n normal draws has a relative standard error of about 1/sqrt(2n); allow four of them."""
    for layer, s in m["init_std"].items():
        n = s["fan_in"] * s["fan_out"]
        assert abs(s["measured"] / s["xavier"] - 1) < 4 / math.sqrt(2 * n), layer


def test_the_minimum_comes_late_at_about_three_quarters_accuracy(m):
    """"the validation loss reaches its minimum late, in the last third of training, and the network classifies
    about three quarters of the MNIST-1D test signals correctly there"."""
    assert m["dense"]["early_stop_iteration"] >= 2 / 3 * m["iterations"]
    assert m["dense"]["early_stop_test_acc"] == pytest.approx(0.75, abs=0.03)


def test_the_validation_loss_creeps_up_only_just(m):
    """"After the minimum the validation loss creeps up again while the training loss keeps falling ... but only
    just, and its test accuracy at the end of training is within about a point of the early-stopping value"."""
    dense, curve = m["dense"], m["curve"]
    assert dense["early_stop_iteration"] < curve["iteration"][-1]
    assert 0 < dense["final_val_loss"] / dense["early_stop_val_loss"] - 1 < 0.10
    at_stop = curve["iteration"].index(dense["early_stop_iteration"])
    assert curve["train_loss"][-1] < curve["train_loss"][at_stop]
    assert abs(dense["final_test_acc"] - dense["early_stop_test_acc"]) <= 0.015
