"""Claims of chapter 7 (rewinding and the learning rate) against the book build's metrics."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.claims


@pytest.fixture(scope="module")
def runs(book_metrics):
    m = book_metrics["07_rewinding"]
    return {(r["setting"], r["k"]): r for r in m["runs"]} | {"k": m["rewind_iteration"]}


def test_default_rate_ticket_is_clearly_ahead(runs):
    """'At the default rate the ticket rewound to θ0 is clearly ahead of its reinitialised copy at about 21% of the
    weights, by about 9 points, and a little ahead of the dense network.'"""
    run = runs[("default", 0)]
    assert 0.2 <= run["density"] <= 0.23
    assert run["margin"]["low"] > 0 and 0.06 <= run["margin"]["mean"] <= 0.12
    assert run["ticket_vs_dense"]["low"] > 0 and run["ticket_vs_dense"]["mean"] < 0.04


def test_at_the_high_rate_the_dense_network_trains_badly(runs):
    """'The dense network trains badly, 10 to 20 points below its accuracy at the default rate, and both of its
    pruned versions do far better than it'"""
    high, default = runs[("high", 0)], runs[("default", 0)]
    assert 0.10 <= default["dense_acc"] - high["dense_acc"] <= 0.20
    for key in ("ticket_vs_dense", "reinit_vs_dense"):
        assert high[key]["low"] > 0 and high[key]["mean"] > 0.08, key


def test_the_high_rate_takes_the_edge_away(runs):
    """'...but the ticket rewound to θ0 is no better than its reinitialised copy (the interval includes zero)'"""
    margin = runs[("high", 0)]["margin"]
    assert margin["low"] <= 0 <= margin["high"]


def test_rewinding_to_theta_k_does_not_give_it_back(runs):
    """'Rewinding to θ100 did not give it back: that ticket is behind its reinitialised copy.'"""
    assert runs["k"] == 100
    assert runs[("high", runs["k"])]["margin"]["high"] < 0


def test_dead_units_at_theta_k(runs):
    """'At θ0 no hidden unit is off. After 100 iterations at the high rate, about nine in ten units of the second
    hidden layer are off for every training example, and almost none of the first layer's.'"""
    for key in (("default", 0), ("high", 0)):
        assert all(v == 0 for v in runs[key]["dead_units_at_rewind"].values()), key
    first, second = runs[("high", runs["k"])]["dead_units_at_rewind"].values()
    assert 0.8 <= second <= 1.0 and first < 0.05
