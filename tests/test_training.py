"""Training: masks hold, determinism, early stopping, divergence errors, batched equivalence."""

from __future__ import annotations

import pytest
import torch

import lottery_core as lc
from lottery_core.training import Evaluation, History


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")


def fresh(data, seed=0):
    return lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=seed)


def test_adam_keeps_pruned_weights_and_optimizer_state_exactly_zero(data, monkeypatch):
    model = fresh(data)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.8)
    captured = {}
    real = lc.training.make_optimizer

    def spy(name, params, lr, **options):
        captured["opt"] = real(name, params, lr, **options)
        return captured["opt"]

    monkeypatch.setattr(lc.training, "make_optimizer", spy)
    lc.train(model, data, mask=mask, iterations=200, batch_size=60, lr=1e-2, eval_every=50, progress=False)
    params = lc.prunable_parameters(model)
    state = captured["opt"].state
    for key, p in params.items():
        pruned = ~mask[key]
        assert bool((p[pruned] == 0).all()), key
        assert bool((p[mask[key]] != 0).any()), key  # the survivors did train
        assert bool((state[p]["exp_avg"][pruned] == 0).all()), key
        assert bool((state[p]["exp_avg_sq"][pruned] == 0).all()), key


def test_masked_weights_stay_zero_with_sgd_momentum(data):
    model = fresh(data)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    lc.train(model, data, mask=mask, iterations=100, batch_size=60, lr=0.05, optimizer="sgd_momentum",
             progress=False)
    for key, p in lc.prunable_parameters(model).items():
        assert bool((p[~mask[key]] == 0).all())


def test_cpu_training_is_bit_identical_for_the_same_seed(data):
    a, b, c = fresh(data), fresh(data), fresh(data)
    ha = lc.train(a, data, iterations=150, batch_size=60, lr=1e-3, seed=5, eval_every=50, progress=False)
    hb = lc.train(b, data, iterations=150, batch_size=60, lr=1e-3, seed=5, eval_every=50, progress=False)
    lc.train(c, data, iterations=150, batch_size=60, lr=1e-3, seed=6, eval_every=50, progress=False)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))
    assert ha.to_frame().equals(hb.to_frame())


def test_history_records_and_early_stopping(data):
    h = lc.train(fresh(data), data, iterations=600, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    frame = h.to_frame()
    assert list(frame.iteration) == [100, 200, 300, 400, 500, 600]
    best = frame.loc[frame.val_loss.idxmin()]
    assert h.early_stop_iteration == best.iteration
    assert h.early_stop_test_acc == best.test_acc
    assert h.final_test_acc == frame.test_acc.iloc[-1]
    assert 0.3 < h.final_test_acc <= 1.0  # MNIST-1D LeNet learns well past chance (10%)
    assert frame.train_loss.iloc[-1] < frame.train_loss.iloc[0]


def test_evaluation_in_chunks_matches_one_pass(data, monkeypatch):
    """On a CPU the Recorder evaluates in chunks of CPU_EVAL_ROWS examples; the metrics must not change."""
    whole = lc.train(fresh(data), data, iterations=200, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    monkeypatch.setattr(lc.training, "CPU_EVAL_ROWS", 64)
    model = fresh(data)
    sizes = []
    model.register_forward_hook(lambda module, args, out: sizes.append(len(args[0])) if not module.training else None)
    chunked = lc.train(model, data, iterations=200, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    assert sizes and max(sizes) == 64 and sum(sizes) == 2 * (len(data.x_val) + len(data.x_test))
    assert [e.iteration for e in chunked.evaluations] == [e.iteration for e in whole.evaluations]
    for a, b in zip(chunked.evaluations, whole.evaluations):
        assert a.train_loss == b.train_loss  # the steps are untouched
        assert a.val_loss == pytest.approx(b.val_loss, abs=1e-5)
        assert a.val_acc == pytest.approx(b.val_acc, abs=1e-3)
        assert a.test_acc == pytest.approx(b.test_acc, abs=1e-3)


def test_early_stop_is_minimum_validation_loss_not_best_accuracy():
    evals = [Evaluation(100, 2.0, 1.0, 0.5, 0.50), Evaluation(200, 1.0, 0.8, 0.6, 0.55),
             Evaluation(300, 0.5, 0.9, 0.7, 0.70)]
    h = History(evals)
    assert h.early_stop_iteration == 200 and h.early_stop_test_acc == 0.55
    assert h.final_test_acc == 0.70


def test_snapshots_and_rewind_to_iteration_k(data):
    model = fresh(data)
    theta0 = lc.snapshot(model)
    h = lc.train(model, data, iterations=100, batch_size=60, lr=1e-3, snapshot_at=(0, 40, 100), progress=False)
    assert sorted(h.snapshots) == [0, 40, 100]
    for k, v in theta0.items():
        assert torch.equal(h.snapshots[0][k], v)
    for k, v in model.state_dict().items():
        assert torch.equal(h.snapshots[100][k], v)
    assert not torch.equal(h.snapshots[40]["net.1.weight"], theta0["net.1.weight"])
    # training from θ40 for 60 more iterations with start_iteration=40 ends where the full run ended
    resumed = fresh(data)
    resumed.load_state_dict(h.snapshots[40])
    h2 = lc.train(resumed, data, iterations=60, batch_size=60, lr=1e-3, start_iteration=40, progress=False,
                  eval_every=20)
    assert [e.iteration for e in h2.evaluations] == [60, 80, 100]
    # Adam restarts at k, so the weights differ a little from the uninterrupted run, but the data order matches
    assert torch.equal(lc.batch_order(0, 3500, 60, 100)[40:], lc.batch_order(0, 3500, 60, 100)[40:])


def test_non_finite_loss_names_the_iteration(data):
    bad = lc.Dataset(name="mnist1d", x_train=data.x_train.clone(), y_train=data.y_train, x_val=data.x_val,
                     y_val=data.y_val, x_test=data.x_test, y_test=data.y_test, num_classes=10)
    order = lc.batch_order(0, len(bad.x_train), 60, 100)
    bad.x_train[order[37]] = float("nan")  # batch of iteration 38 (1-based)
    with pytest.raises(ValueError, match="non-finite loss at iteration 38"):
        lc.train(fresh(data), bad, iterations=100, batch_size=60, lr=1e-3, eval_every=50, progress=False)


def test_bad_training_arguments(data):
    with pytest.raises(ValueError, match="valid optimizers: adam"):
        lc.train(fresh(data), data, iterations=10, batch_size=60, lr=1e-3, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        lc.train(fresh(data), data, iterations=10, batch_size=0, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match="does not fit"):
        other = lc.build_model("lenet_300_100", (784,), 10)
        lc.train(fresh(data), data, mask=lc.Mask.ones_like(other), iterations=10, batch_size=60, lr=1e-3,
                 progress=False)


def test_batched_training_matches_separate_runs(data):
    seeds = [0, 1, 2]
    models = [fresh(data, seed=s) for s in seeds]
    masks = [None, lc.magnitude_prune(models[1], lc.Mask.ones_like(models[1]), 0.6),
             lc.random_prune(lc.magnitude_prune(models[2], lc.Mask.ones_like(models[2]), 0.8), seed=1)]
    hs = lc.train_batched(models, data, masks=masks, seeds=seeds, iterations=120, batch_size=60, lr=1e-3,
                          eval_every=40, progress=False)
    for s, model, mask, h in zip(seeds, models, masks, hs):
        alone = fresh(data, seed=s)
        ha = lc.train(alone, data, mask=mask, seed=s, iterations=120, batch_size=60, lr=1e-3, eval_every=40,
                      progress=False)
        for (k, a), b in zip(model.state_dict().items(), alone.state_dict().values()):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=k)
        if mask is not None:  # masks stay exact per network
            for key, p in lc.prunable_parameters(model).items():
                assert bool((p[~mask[key]] == 0).all())
        assert [e.iteration for e in h.evaluations] == [e.iteration for e in ha.evaluations]
        for e, ea in zip(h.evaluations, ha.evaluations):
            assert e.val_loss == pytest.approx(ea.val_loss, abs=1e-4)
            assert e.test_acc == pytest.approx(ea.test_acc, abs=2e-3)


def test_batched_vmap_path_matches_separate_runs_for_conv_nets():
    x = torch.randn(200, 3, 8, 8)
    y = torch.randint(0, 10, (200,))
    data = lc.Dataset("cifar10", x[:120], y[:120], x[120:160], y[120:160], x[160:], y[160:], 10)
    models = [lc.build_model("conv2", (3, 8, 8), 10, seed=s) for s in (0, 1)]
    mask = lc.magnitude_prune(models[1], lc.Mask.ones_like(models[1]), 0.5)
    lc.train_batched(models, data, masks=[None, mask], seeds=[0, 1], iterations=20, batch_size=20, lr=1e-3,
                     eval_every=10, progress=False)
    alone = lc.build_model("conv2", (3, 8, 8), 10, seed=1)
    lc.train(alone, data, mask=mask, seed=1, iterations=20, batch_size=20, lr=1e-3, eval_every=10, progress=False)
    for a, b in zip(models[1].state_dict().values(), alone.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_batched_rejects_mismatched_arguments(data):
    with pytest.raises(ValueError, match="seeds"):
        lc.train_batched([fresh(data)], data, seeds=[0, 1], iterations=5, batch_size=60, lr=1e-3, progress=False)


def test_cuda_graph_needs_a_cuda_device(data):
    with pytest.raises(ValueError, match="cuda_graph=True needs a CUDA device"):
        lc.train(fresh(data), data, iterations=10, batch_size=60, lr=1e-3, progress=False, cuda_graph=True)
    with pytest.raises(ValueError, match="cuda_graph=True needs a CUDA device"):
        lc.train_batched([fresh(data)], data, seeds=[0], iterations=10, batch_size=60, lr=1e-3, progress=False,
                         cuda_graph=True)
