"""stability.py: the error barrier, the straight path between two networks, and instability analysis
(Frankle, Dziugaite, Roy & Carbin 2020).

Tolerances. Barriers computed by hand from a few decimal errors are compared to 1e-12: the function
does one subtraction and one mean of doubles, whose rounding is below 1e-16. Interpolation at α = 0,
0.5 and 1 is compared exactly: (1 − α)·a + α·b at α = 0 or 1 multiplies one side by 0 and the other
by 1, and at α = 0.5 both halvings are exact in binary floating point, so 0.5·a + 0.5·b rounds like
(a + b) / 2. Two copies trained with the same data order run the same CPU kernels on the same
numbers, so they agree bit for bit. A permuted copy of a network computes its logits with the
hidden units summed in another order: in float32 that moves a logit by about 1e-6 of its size, so
the ends are compared to 1e-4.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lottery_core as lc

BARRIER_TOLERANCE = 1e-12


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu", num_samples=1000)


@pytest.fixture(scope="module")
def trained(data):
    """A LeNet-300-100 trained 300 iterations: a network whose hidden units matter."""
    model = lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=0)
    lc.train(model, data, iterations=300, batch_size=60, lr=1.2e-3, eval_every=300, progress=False)
    return model


def fresh(data, seed=0):
    return lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=seed)


# ---------------------------------------------------------------- the barrier, by hand


def test_error_barrier_is_the_path_maximum_minus_the_mean_of_the_ends():
    # max 0.30; ends 0.10 and 0.14, mean 0.12 -> 0.18
    assert lc.error_barrier([0.10, 0.30, 0.25, 0.14]) == pytest.approx(0.18, abs=BARRIER_TOLERANCE)
    # a flat path has no barrier; a path that only rises from one end to the other has half the difference
    assert lc.error_barrier([0.2, 0.2, 0.2]) == 0.0
    assert lc.error_barrier([0.1, 0.2, 0.3]) == pytest.approx(0.1, abs=BARRIER_TOLERANCE)
    assert lc.error_barrier((0.5, 0.5)) == 0.0


def test_instability_record_reports_the_barrier_and_the_ends():
    path = lc.Instability(alphas=(0.0, 0.5, 1.0), errors=(0.2, 0.5, 0.3), losses=(0.6, 1.6, 0.8))
    assert path.barrier == pytest.approx(0.25, abs=BARRIER_TOLERANCE)
    assert path.loss_barrier == pytest.approx(0.9, abs=BARRIER_TOLERANCE)
    assert path.end_accuracies == pytest.approx((0.8, 0.7), abs=BARRIER_TOLERANCE)
    assert not path.stable() and path.stable(threshold=0.3)


def test_the_default_path_has_eleven_points_from_zero_to_one():
    assert lc.interpolation_alphas() == pytest.approx([i / 10 for i in range(11)], abs=1e-15)
    assert lc.interpolation_alphas(2) == [0.0, 1.0]


# ---------------------------------------------------------------- interpolation


def test_interpolation_gives_the_ends_exactly_and_the_mean_halfway():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: torch.randn_like(v) if v.is_floating_point() else v + 7 for k, v in a.items()}
    for key in a:
        assert torch.equal(lc.interpolate(a, b, 0.0)[key], a[key]), key
        assert torch.equal(lc.interpolate(a, b, 1.0)[key], b[key]), key
    half = lc.interpolate(a, b, 0.5)
    for key in ("0.weight", "0.bias", "1.running_mean", "1.running_var"):  # BatchNorm statistics are mixed too
        assert torch.equal(half[key], (a[key] + b[key]) / 2), key
    assert half["1.num_batches_tracked"] == b["1.num_batches_tracked"]  # an integer count: the nearer end
    assert lc.interpolate(a, b, 0.4)["1.num_batches_tracked"] == a["1.num_batches_tracked"]


def test_interpolation_does_not_change_its_inputs():
    a = {"w": torch.ones(3)}
    b = {"w": torch.zeros(3)}
    out = lc.interpolate(a, b, 0.0)
    out["w"].add_(5)
    assert torch.equal(a["w"], torch.ones(3))


# ---------------------------------------------------------------- instability analysis


def test_copies_with_the_same_data_order_are_identical_and_have_no_barrier(data):
    model = fresh(data)
    start = lc.snapshot(model)
    settings = {"iterations": 60, "batch_size": 60, "lr": 1.2e-3}
    (a, b), (c, d) = lc.train_copies(model, [start, start], [None, None], data, data_seeds=[(3, 3), (3, 4)],
                                     **settings)
    for key in a:
        assert torch.equal(a[key], b[key]), key  # same start, same order: bit for bit on a CPU
    assert torch.equal(a["net.1.weight"], c["net.1.weight"])  # the pair's first copy: seed 3 again
    assert not torch.allclose(c["net.1.weight"], d["net.1.weight"], atol=1e-4)  # another order moves the weights
    same = lc.instability(model, start, None, data, data_seeds=(3, 3), **settings)
    assert same.barrier == 0.0
    assert len(set(same.errors)) == 1 and len(same.errors) == 11
    assert torch.equal(model.state_dict()["net.1.weight"], start["net.1.weight"])  # the given model is not trained


def test_masked_weights_stay_zero_along_the_path(data):
    model = fresh(data)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.8)
    [(a, b)] = lc.train_copies(model, [lc.snapshot(model)], [mask], data, data_seeds=[(1, 2)], iterations=40,
                               batch_size=60, lr=1.2e-3)
    for alpha in lc.interpolation_alphas():
        state = lc.interpolate(a, b, alpha)
        for key, keep in mask.items():
            assert torch.count_nonzero(state[key][~keep]) == 0, (key, alpha)
            assert torch.count_nonzero(state[key][keep]) > 0, (key, alpha)


def permuted(state: dict, seed: int) -> dict:
    """The same network with the units of both hidden layers of LeNet-300-100 put in another order."""
    out = {k: v.clone() for k, v in state.items()}
    gen = torch.Generator().manual_seed(seed)
    for layer, following in (("net.1", "net.3"), ("net.3", "net.5")):
        perm = torch.randperm(out[f"{layer}.weight"].shape[0], generator=gen)
        out[f"{layer}.weight"] = out[f"{layer}.weight"][perm]
        out[f"{layer}.bias"] = out[f"{layer}.bias"][perm]
        out[f"{following}.weight"] = out[f"{following}.weight"][:, perm]
    return out


def test_a_permuted_copy_is_the_same_function_with_a_barrier_between(data, trained):
    state = lc.snapshot(trained)
    other = permuted(state, seed=1)
    with torch.no_grad():
        trained.load_state_dict(other)
        permuted_logits = trained(data.x_test)
        trained.load_state_dict(state)
        torch.testing.assert_close(permuted_logits, trained(data.x_test), atol=1e-4, rtol=1e-4)
    path = lc.linear_path(trained, state, other, data)
    assert path.errors[0] == pytest.approx(path.errors[-1], abs=1 / len(data.y_test))  # one example at most
    assert path.errors[0] < 0.7  # the network learned something (chance: 90% error)
    assert path.barrier > 0.1  # the average of a network and its permutation is a much worse network
    assert path.barrier == pytest.approx(max(path.errors) - (path.errors[0] + path.errors[-1]) / 2, abs=1e-12)


def test_the_path_is_measured_on_the_split_asked_for(data, trained):
    state = lc.snapshot(trained)
    test = lc.linear_path(trained, state, state, data, points=3, split="test")
    train = lc.linear_path(trained, state, state, data, points=3, split="train")
    _, acc = lc.loss_and_accuracy(trained.eval()(data.x_train).detach(), data.y_train)
    assert train.errors[0] == pytest.approx(1 - acc.item(), abs=1e-12)
    assert test.split == "test" and train.split == "train" and test.barrier == 0.0


# ---------------------------------------------------------------- the curve against k


def test_rewind_points_are_the_dense_runs_weights(data):
    config = lc.get_preset("book", num_samples=1000, iterations=60)
    starts = lc.rewind_points(config, data, [0, 1], [0, 20])
    theta0 = lc.snapshot(fresh(data, seed=1))
    assert all(torch.equal(starts[1][0][k], theta0[k]) for k in theta0)  # θ0 is the seed's initialisation
    assert not torch.equal(starts[1][20]["net.1.weight"], theta0["net.1.weight"])  # θ20 has trained
    with pytest.raises(ValueError, match="rewind iterations"):
        lc.rewind_points(config, data, [0], [0, 60])


def test_instability_curve_has_one_row_per_seed_and_rewind_point(data):
    config = lc.get_preset("book", num_samples=1000, iterations=60)
    model = fresh(data)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    frame = lc.instability_curve(config, rewind_iterations=(20, 0), seeds=(0, 1), masks={0: mask, (1, 20): mask,
                                                                                      1: mask}, data=data, points=3)
    assert list(frame[["seed", "k"]].itertuples(index=False, name=None)) == [(0, 0), (1, 0), (0, 20), (1, 20)]
    assert frame["density"].tolist() == pytest.approx([mask.density()] * 4, abs=1e-12)
    assert (frame["barrier"] >= 0).all() and frame[["acc_a", "acc_b"]].gt(0.1).all().all()
    assert frame["barrier"].tolist() == pytest.approx(
        (frame["max_error"] - (2 - frame["acc_a"] - frame["acc_b"]) / 2).tolist(), abs=1e-12)


def test_copy_seeds_differ_within_and_across_seeds():
    pairs = [lc.copy_seeds(s) for s in range(20)]
    flat = [s for pair in pairs for s in pair]
    assert len(set(flat)) == len(flat) and min(flat) > 1000


# ---------------------------------------------------------------- invalid inputs


def test_invalid_inputs_raise_value_error(data, trained):
    state = lc.snapshot(trained)
    with pytest.raises(ValueError, match="at least 2"):
        lc.interpolation_alphas(1)
    with pytest.raises(ValueError, match="at least 2"):
        lc.linear_path(trained, state, state, data, points=1)
    with pytest.raises(ValueError, match="at least 2"):
        lc.error_barrier([0.1])
    with pytest.raises(ValueError, match="finite"):
        lc.error_barrier([0.1, float("nan")])
    with pytest.raises(ValueError, match="alpha"):
        lc.interpolate(state, state, 1.5)
    with pytest.raises(ValueError, match="only in the first"):
        lc.interpolate(state, {k: v for k, v in state.items() if k != "net.1.bias"}, 0.5)
    with pytest.raises(ValueError, match="differs"):
        lc.interpolate(state, {**state, "net.1.bias": torch.zeros(7)}, 0.5)
    with pytest.raises(ValueError, match="differs"):
        lc.linear_path(trained, state, {**state, "net.1.bias": state["net.1.bias"].double()}, data)
    with pytest.raises(ValueError, match="split"):
        lc.linear_path(trained, state, state, data, split="validation")
    with pytest.raises(ValueError, match="one mask and one seed pair per start"):
        lc.train_copies(trained, [state], [], data, data_seeds=[(1, 2)], iterations=1, batch_size=10, lr=1e-3)
    with pytest.raises(ValueError, match="pair of seeds"):
        lc.train_copies(trained, [state], [None], data, data_seeds=[(1, 2, 3)], iterations=1, batch_size=10, lr=1e-3)
