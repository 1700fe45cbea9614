"""Claims of chapter 5 (weight movement and initial values) against the book build's metrics. Each test names the
sentence it checks; if one fails, the chapter's prose is revisited."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.claims


@pytest.fixture(scope="module")
def m(book_metrics):
    return book_metrics["05_weight_movement"]


def layers(m, key):
    return [(r, layer, v) for r, per_layer in m[key].items() for layer, v in per_layer.items()]


def test_kept_weights_moved_one_and_a_half_to_two_and_a_half_times_as_far(m):
    """'...moved on average about one and a half to two and a half times as far as the pruned ones'"""
    for r, layer, v in layers(m, "movement"):
        assert v["raw_ratio"]["low"] > 1 and 1.4 <= v["raw_ratio"]["mean"] <= 2.6, (r, layer)


def test_a_fifth_to_a_quarter_more_of_them_moved_away_from_zero(m):
    """'...and about a fifth to a quarter more of them ended further from zero than they started'"""
    for r, layer, v in layers(m, "movement"):
        assert v["away_raw"]["low"] > 0 and 0.15 <= v["away_raw"]["mean"] <= 0.30, (r, layer)


def test_at_the_same_final_size_kept_weights_moved_less(m):
    """'Among weights that ended training the same size, the kept ones moved less ... by roughly 10 to 30%, and
    were slightly less likely to have grown' and 'nothing is left of it'"""
    for r, layer, v in layers(m, "movement"):
        assert v["coverage"] > 0.9, (r, layer)  # the comparison covers (almost) all kept weights
        assert v["matched_ratio"]["high"] < 1 and 0.65 <= v["matched_ratio"]["mean"] <= 0.95, (r, layer)
        assert v["away_matched"]["high"] < 0 and v["away_matched"]["mean"] > -0.06, (r, layer)


def test_survivors_started_large_and_bimodal(m):
    """'At round 15 in every layer less than half as many of them started near zero ... in every layer and at both
    rounds their distribution has a valley at zero (dip ratio below 1). Their RMS at round 15 is about one and a
    half to one and four fifths times that of all initial weights' and 'more so the sparser the ticket'"""
    first, last = (str(r) for r in (min(m["movement_rounds"]), max(m["movement_rounds"])))
    for r, layer, v in layers(m, "init_shape"):
        assert v["dip_ratio"] < 1, (r, layer)
    for layer, v in m["init_shape"][last].items():
        assert v["near_zero_ratio"] < 0.5 and 1.4 <= v["rms_ratio"] <= 1.9, layer
        assert v["rms_ratio"] > m["init_shape"][first][layer]["rms_ratio"], layer


def test_lopsided_peaks_as_in_the_paper(m):
    """'about two thirds of the second hidden layer's survivors started positive, and about two thirds of the
    output layer's started negative'"""
    _, second, output = m["layers"]
    last = m["init_shape"][str(max(m["movement_rounds"]))]
    assert 0.6 <= last[second]["positive"] <= 0.75
    assert 0.25 <= last[output]["positive"] <= 0.4


def test_first_layer_is_the_most_strongly_selected(m):
    """'the first layer's survivors are the most strongly selected by their initial magnitude (the lowest
    near-zero ratio of the three layers at both rounds)'"""
    first = m["layers"][0]
    for r, shape in m["init_shape"].items():
        assert shape[first]["near_zero_ratio"] == min(v["near_zero_ratio"] for v in shape.values()), r
