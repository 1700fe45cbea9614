"""Chapter 4's sentences about the book's default run (the ticket against its random controls), checked against
the metrics of the last book build. Each test quotes the sentence it checks."""

from __future__ import annotations

import pytest

from .conftest import at_round

pytestmark = pytest.mark.claims


@pytest.fixture
def m(book_metrics):
    return book_metrics["04_random_reinit"]



def test_beats_its_reinitialised_copy_from_half_the_weights_down(m):
    """"the ticket beats its randomly reinitialised copy at every density from about half the weights down, with
    intervals well above zero, and the gap widens as the networks get sparser: about nine points at a fifth"."""
    gaps = m["ticket_minus_reinit"]
    assert all(iv["low"] > 0 for iv in gaps if iv["density"] <= 0.55)
    at21 = at_round(gaps, m["round_21"])
    assert at21["mean"] == pytest.approx(0.09, abs=0.02)
    half = min(gaps, key=lambda iv: abs(iv["density"] - 0.5))
    assert at21["mean"] > half["mean"]


def test_at_a_fifth_the_ticket_beats_dense_and_its_copy_does_not(m):
    """"where the ticket is more accurate than the dense network and its reinitialised copy is several points less
    accurate"."""
    assert m["ticket_acc_21"] > m["dense_acc"]
    assert at_round(m["reinit_minus_dense"], m["round_21"])["high"] < -0.03


def test_within_a_point_at_80_percent(m):
    """"With 80% of the weights left the three networks are within about a point of each other"."""
    first = min(m["control_rounds"])
    for key in ("ticket_minus_reinit", "ticket_minus_random_prune", "reinit_minus_random_prune"):
        iv = at_round(m[key], first)
        assert iv["density"] == pytest.approx(0.8, abs=0.01) and abs(iv["mean"]) <= 0.015, key


def test_the_controls_lose_accuracy_from_about_half_the_weights(m):
    """"The randomly reinitialised and the randomly pruned networks lose accuracy against the dense network from
    about half the weights on, as in the paper"."""
    for arm in ("reinit", "random_prune"):
        first = at_round(m[f"{arm}_minus_dense"], m[f"{arm}_below_dense_from"])
        assert 0.4 <= first["density"] <= 0.6, arm


def test_the_lead_comes_from_the_initial_values_not_the_wiring(m):
    """"at a fifth of the weights, reinit minus random pruning is a few times smaller than ticket minus reinit, and
    its interval includes zero at most densities. Only at the sparsest rounds does the magnitude-pruned wiring on its
    own clearly beat a random one"."""
    wiring = at_round(m["reinit_minus_random_prune"], m["round_21"])
    values = at_round(m["ticket_minus_reinit"], m["round_21"])
    assert 2 * abs(wiring["mean"]) < values["mean"]
    assert m["verdicts"]["reinit_minus_random_prune"]["same"] > len(m["control_rounds"]) / 2
    assert m["reinit_minus_random_prune"][-1]["low"] > 0


def test_the_copy_stops_later_against_the_end_of_training(m):
    """"at about a fifth of the weights the reinitialised network reaches its minimum validation loss several hundred
    iterations later ... the copy's early-stopping iteration is pushed against the end of the short training run"."""
    later = at_round(m["reinit_minus_ticket_iteration"], m["round_21"])
    assert later["low"] > 0 and later["mean"] >= 200
    entry = next(e for e in m["per_round"] if e["round"] == m["round_21"])
    assert entry["reinit_iteration"] >= 0.9 * m["iterations"]


def test_about_the_same_lead_at_the_end_of_training(m):
    """"measured at the end of training instead of at early stopping, the ticket's lead over its reinitialised copy
    at a fifth of the weights is about the same"."""
    assert m["ticket_minus_reinit_final_21"] == pytest.approx(m["ticket_minus_reinit_21"], abs=0.015)
