"""Chapter 6 (the √10 argument and the review's experiment) at small settings: densities chosen on validation
data, every arm trained at every tested density, the arms' initial scales as constructed, and intervals
consistent with the accuracies they summarise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import CHAPTER_TEST_PARAMETERS

PARAMETERS = CHAPTER_TEST_PARAMETERS["06_sqrt10_magnitude"]
SEEDS, ROUNDS, N = PARAMETERS["seeds"], PARAMETERS["rounds"], PARAMETERS["n_densities"]
ARMS = ["ticket", "ticket_scaled_0.5", "ticket_scaled_1", "ticket_random_signs", "ticket_shuffled", "reinit",
        "reinit_layer_scaled", "reinit_neuron_scaled"]


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["06_sqrt10_magnitude"]


@pytest.mark.notebook
def test_keys_and_arms(m):
    for key in ("tested_rounds", "density", "validation_lead", "accuracy", "vs_ticket", "vs_reinit", "gap_closed",
                "scale_table", "scale_by_round", "rms", "shared_ticket_acc"):
        assert key in m, key
    assert m["arms"] == ARMS
    assert set(m["vs_ticket"]) == set(ARMS[1:5]) and set(m["vs_reinit"]) == {"ticket", *ARMS[6:]}
    for arm in ARMS:
        assert sorted(m["accuracy"][arm]) == sorted(map(str, m["tested_rounds"]))
        assert all(v["n"] == len(SEEDS) for v in m["accuracy"][arm].values())


@pytest.mark.notebook
def test_densities_are_chosen_on_validation_accuracy(m):
    # The ticket's lead over reinit on validation accuracy exists where chapter 3's run trained the controls.
    lead = {int(r): v for r, v in m["validation_lead"].items() if v is not None}
    assert sorted(lead) == sorted(PARAMETERS["control_rounds"])
    groups = np.array_split(np.array(sorted(lead)), N)
    assert m["tested_rounds"] == [int(max(g, key=lambda r: lead[int(r)])) for g in groups]


@pytest.mark.notebook
def test_intervals_are_paired_differences_of_the_accuracies(m):
    acc = m["accuracy"]
    for key, reference in (("vs_ticket", "ticket"), ("vs_reinit", "reinit")):
        for arm, per_round in m[key].items():
            for r, iv in per_round.items():
                assert iv["n"] == len(SEEDS) and iv["low"] <= iv["mean"] <= iv["high"], (arm, r)
                # the mean of paired differences is the difference of the means when every seed is there
                assert iv["mean"] == pytest.approx(acc[arm][r]["mean"] - acc[reference][r]["mean"], abs=1e-9)


@pytest.mark.notebook
def test_retrained_ticket_is_the_shared_runs_ticket(m):
    # the ticket arm trains the shared run's ticket again (same θ0, mask, minibatches and iterations); the two
    # differ at most by floating-point summation order in batches of another size
    for r, acc in m["shared_ticket_acc"].items():
        assert m["accuracy"]["ticket"][r]["mean"] == pytest.approx(acc, abs=0.005), r


@pytest.mark.notebook
def test_arms_start_at_the_scales_they_are_built_with(m):
    for arms in m["rms"].values():
        for layer, ticket in arms["ticket"].items():
            d, start = ticket["density"], ticket["initial"]
            # the review's proposal: the ticket's own θ0 × 1/√d per layer; half of it in log terms for α = ½
            assert arms["ticket_scaled_1"][layer]["initial"] == pytest.approx(start / math.sqrt(d), rel=1e-5)
            assert arms["ticket_scaled_0.5"][layer]["initial"] == pytest.approx(start * d**-0.25, rel=1e-5)
            # magnitudes without signs, values without positions: the same RMS as the ticket
            for arm in ("ticket_random_signs", "ticket_shuffled"):
                assert arms[arm][layer]["initial"] == pytest.approx(ticket["initial"], rel=1e-5), (arm, layer)
            assert ticket["sigma_d"] == pytest.approx(1 / math.sqrt(d), rel=1e-6)
            # fresh Glorot draws: within five standard errors of σ (and of σ/√d when rescaled per layer)
            kept = d * m["scale_table"][layer]["fan_in"] * m["scale_table"][layer]["fan_out"]
            tolerance = 5 / math.sqrt(2 * kept)
            assert arms["reinit"][layer]["initial"] == pytest.approx(1.0, rel=tolerance), layer
            assert arms["reinit_layer_scaled"][layer]["initial"] == pytest.approx(1 / math.sqrt(d), rel=tolerance)
            # the ticket's kept weights were selected for magnitude: larger than σ at the start
            assert ticket["initial"] > 1.0
            assert ticket["moved_vs_ticket"]["mean"] == pytest.approx(1.0)


@pytest.mark.notebook
def test_scale_table_against_glorot_and_the_selection_ceiling(m):
    for layer, row in m["scale_table"].items():
        assert row["predicted_scale"] == pytest.approx(1 / math.sqrt(row["density"]), rel=1e-6), layer
        assert row["dense_std"] == pytest.approx(math.sqrt(2 / (row["fan_in"] + row["fan_out"])), rel=1e-6)
    for row in m["scale_by_round"]:
        assert 0.98 <= row["measured_scale"] <= row["ceiling_scale"] + 1e-6, row
        if row["density"] < 0.999:  # the top k of n squares sum to less than all n
            assert row["ceiling_scale"] < row["predicted_scale"] * row["sample_scale"], row
    assert m["ceiling_at_10pct"] == pytest.approx(2.10, abs=0.01)


@pytest.mark.notebook
def test_gap_closed_intervals_cover_every_seed(m):
    for v in m["gap_closed"].values():
        assert v["n"] == len(SEEDS) and v["low"] <= v["high"]



@pytest.mark.notebook
def test_objections_pair_each_arm_with_its_reference_at_the_two_sparsest_tested_rounds(m):
    assert m["objection_rounds"] == m["tested_rounds"][-2:] and m["sgd_rates"] == [0.03, 0.1]
    assert set(m["objections"]) == {"adam", "adam_rate_up", "adam_rate_down", "sgd", "sgd_low_rate", "he"}
    for key, iv in m["objections"].items():
        assert iv["n"] == len(SEEDS) and iv["low"] <= iv["mean"] <= iv["high"], key
    for start, arm in m["sgd_chosen"].items():  # each arm's SGD rate: its best mean validation accuracy
        tried = {a: v for a, v in m["sgd_validation"].items() if a.rsplit("@", 1)[0] == start}
        assert len(tried) == 2 and arm == max(tried, key=tried.get), (start, tried)
    assert (m["objections"]["sgd"]["arm"], m["objections"]["sgd"]["reference"]) == (m["sgd_chosen"]["ticket_scaled_1"],
                                                                                    m["sgd_chosen"]["ticket"])
    # with two tested rounds, the objections' Adam comparison is the experiment's own pooled interval
    assert len(m["tested_rounds"]) == 2
    assert m["objections"]["adam"]["mean"] == pytest.approx(m["pooled"]["ticket_scaled_1"]["mean"], abs=1e-12)

@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_step_scaled_networks_train_as_separate_runs_with_their_own_layer_rates(optimizer):
    """Two LeNets stacked, the second with its first layer's rate doubled and the others halved, against each
    trained alone with those rates as parameter groups. In float64 the two ways differ only in summation order
    and in StepScaled's interpolation (about 1e-16 per step), so 1e-10 is far above that and far below what a
    wrong rate moves a weight by in 30 steps (more than 1e-5)."""
    import torch

    import lottery_core as lc
    from lottery_core.book.ch06 import StepScaled
    from lottery_core.training import make_optimizer

    data = lc.load_dataset("mnist1d", device="cpu", num_samples=1000)
    data = lc.Dataset(data.name, data.x_train.double(), data.y_train, data.x_val.double(), data.y_val,
                      data.x_test.double(), data.y_test, num_classes=data.num_classes)
    lr = 0.05 if optimizer == "sgd_momentum" else 1e-3
    rates = [{}, {"net.1.weight": 2.0, "net.3.weight": 0.5, "net.5.weight": 0.5}]
    models = [lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=s).double() for s in (0, 1)]
    names = [n for n, _ in models[0].named_parameters()]
    assert set(rates[1]) < set(names), names
    factors = [torch.tensor([r.get(n, 1.0) for r in rates], dtype=torch.float64) for n in names]
    settings = dict(iterations=30, batch_size=60, optimizer=optimizer, eval_every=10, progress=False)
    lc.train_batched(models, data, seeds=[0, 1], lr=lr,
                     optimizer_fn=lambda ps: StepScaled(make_optimizer(optimizer, ps, lr), factors), **settings)
    for s, (model, rate) in enumerate(zip(models, rates)):
        alone = lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=s).double()
        def make(ps, rate=rate):
            groups = [{"params": [p], "lr": lr * rate.get(n, 1.0)} for n, p in zip(names, ps)]
            return torch.optim.Adam(groups) if optimizer == "adam" else torch.optim.SGD(groups, momentum=0.9)

        lc.train(alone, data, seed=s, lr=lr, optimizer_fn=make, **settings)
        for (name, x), y in zip(model.state_dict().items(), alone.state_dict().values()):
            torch.testing.assert_close(x, y, atol=1e-10, rtol=0, msg=name)
    untouched = lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=1).double()
    assert (models[1].net[1].weight - untouched.net[1].weight).abs().max() > 1e-5  # it did train
