"""The GPU path: data on the device, no synchronisation per step, exact masks, batched = separate runs.

Skipped where no CUDA device is present (as on the project's CI); run on a GPU machine with
``pytest tests/test_gpu.py``. Comparisons of two ways to compute one training run (GPU and CPU,
batched and separate, CUDA graph and eager) run in float64, as in test_training.py: they differ
only in the order of sums and in the kernels chosen, about 1e-15, so a tolerance of 1e-10 holds on
any GPU and still fails on a real difference.
"""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

import lottery_core as lc

DEVICE = "cuda"
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


TOLERANCE = 1e-10


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device=DEVICE)


@pytest.fixture(scope="module")
def data64(data):
    splits = {k: getattr(data, k) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    return lc.Dataset(data.name, **{k: v.double() if k.startswith("x") else v for k, v in splits.items()},
                      num_classes=data.num_classes)


def fresh(data, seed=0, model="lenet_300_100"):
    return lc.build_model(model, data.input_shape, data.num_classes, seed=seed).to(data.x_train.dtype)


def assert_close(a: dict, b: dict) -> None:
    for (name, x), y in zip(a.items(), b.values()):
        torch.testing.assert_close(x.cpu(), y.cpu(), atol=TOLERANCE, rtol=0, msg=name)


def count_synchronisations(fn) -> int:
    """How many times ``fn()`` made the host wait for the GPU (torch's sync debug mode, in warn mode)."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize("batched", [False, True])
def test_synchronisations_do_not_grow_with_the_number_of_steps(data, batched):
    mask = lc.magnitude_prune(fresh(data), lc.Mask.ones_like(fresh(data)), 0.5)

    def run(iterations: int) -> int:
        # one evaluation per run, so only the number of steps differs
        if batched:
            models = [fresh(data, s) for s in range(2)]
            return count_synchronisations(lambda: lc.train_batched(
                models, data, masks=[mask, mask], seeds=[0, 1], iterations=iterations, batch_size=60,
                lr=1e-3, eval_every=iterations, progress=False))
        model = fresh(data)
        return count_synchronisations(lambda: lc.train(
            model, data, mask=mask, iterations=iterations, batch_size=60, lr=1e-3, eval_every=iterations,
            progress=False))

    run(20)  # warm-up: the first CUDA calls may synchronise once
    short, long = run(20), run(400)
    assert long == short, f"{short} synchronisations for 20 steps but {long} for 400"


def test_pruned_weights_stay_exactly_zero_on_the_gpu(data):
    model = fresh(data)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.8)
    lc.train(model, data, mask=mask, iterations=300, batch_size=60, lr=1e-2, eval_every=100, progress=False)
    for key, p in lc.prunable_parameters(model).items():
        assert p.is_cuda
        keep = mask[key].to(p.device)
        assert bool((p[~keep] == 0).all()), key
        assert bool((p[keep] != 0).any()), key


def test_gpu_training_matches_cpu_training(data64):
    cpu_data = data64.to("cpu")
    on_gpu, on_cpu = fresh(data64), fresh(data64)
    hg = lc.train(on_gpu, data64, iterations=200, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    hc = lc.train(on_cpu, cpu_data, iterations=200, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    assert_close(on_gpu.state_dict(), on_cpu.state_dict())
    # Accuracies are counts over 1,000 test examples, averaged in float32 by each device's own reduction: the
    # same predictions can differ in the last bits (0.43800002 on an H200 against 0.43799999 on the CPU), while
    # one differing prediction moves the accuracy by 1e-3. A 1e-6 tolerance tells the two apart.
    assert [e.iteration for e in hg.evaluations] == [e.iteration for e in hc.evaluations]
    assert [e.test_acc for e in hg.evaluations] == pytest.approx([e.test_acc for e in hc.evaluations], abs=1e-6)


def test_batched_training_on_the_gpu_equals_separate_runs(data64):
    model = fresh(data64)
    masks = [lc.magnitude_prune(model, lc.Mask.ones_like(model), rate) for rate in (0.0, 0.5, 0.9)]
    separate = [fresh(data64, s) for s in range(3)]
    together = [fresh(data64, s) for s in range(3)]
    hs = [lc.train(m, data64, mask=k, iterations=200, batch_size=60, lr=1e-3, seed=s, eval_every=50,
                   progress=False) for s, (m, k) in enumerate(zip(separate, masks))]
    hb = lc.train_batched(together, data64, masks=masks, seeds=[0, 1, 2], iterations=200, batch_size=60, lr=1e-3,
                          eval_every=50, progress=False)
    for a, b, h1, h2 in zip(separate, together, hs, hb):
        assert_close(a.state_dict(), b.state_dict())
        assert h1.early_stop_iteration == h2.early_stop_iteration


def test_run_imp_on_the_gpu_keeps_masks_on_the_host_and_densities_on_schedule():
    config = dataclasses.replace(lc.get_preset("book"), iterations=200, eval_every=100)
    result = lc.run_imp(config, rounds=2, seeds=[0, 1], control="reinit", device=DEVICE, verbose=False)
    frame = result.to_frame()
    assert len(frame) == 6  # 3 rounds x 2 seeds
    for r in range(3):
        mask = result.mask(r, seed=1)
        assert all(not m.is_cuda for m in mask.values())
    assert frame.groupby("round")["density"].nunique().eq(1).all()
    assert frame.sort_values("round")["density"].is_monotonic_decreasing


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_cuda_graph_replay_trains_as_the_eager_loop_does(data64, optimizer):
    mask = lc.magnitude_prune(fresh(data64), lc.Mask.ones_like(fresh(data64)), 0.7)
    lr = 1e-3 if optimizer == "adam" else 0.05
    graphed, eager = fresh(data64), fresh(data64)
    kwargs = dict(mask=mask, iterations=300, batch_size=60, lr=lr, optimizer=optimizer, eval_every=50, seed=4,
                  snapshot_at=[0, 100, 300], progress=False)
    hg = lc.train(graphed, data64, cuda_graph=True, **kwargs)
    he = lc.train(eager, data64, cuda_graph=False, **kwargs)
    assert_close(graphed.state_dict(), eager.state_dict())
    for key, keep in mask.items():
        assert bool((graphed.state_dict()[key][~keep.to(data64.device)] == 0).all())
    assert hg.to_frame()["iteration"].tolist() == he.to_frame()["iteration"].tolist()
    assert hg.to_frame()["train_loss"].to_numpy() == pytest.approx(he.to_frame()["train_loss"].to_numpy(),
                                                                   abs=TOLERANCE)
    assert_close(hg.snapshots[100], he.snapshots[100])


def test_batched_cuda_graph_replay_matches_the_eager_batched_loop(data64):
    model = fresh(data64)
    masks = [lc.magnitude_prune(model, lc.Mask.ones_like(model), rate) for rate in (0.2, 0.9)]
    graphed, eager = [fresh(data64, s) for s in range(2)], [fresh(data64, s) for s in range(2)]
    kwargs = dict(masks=masks, seeds=[0, 1], iterations=250, batch_size=60, lr=1e-3, eval_every=50, progress=False)
    hg = lc.train_batched(graphed, data64, cuda_graph=True, **kwargs)
    he = lc.train_batched(eager, data64, cuda_graph=False, **kwargs)
    for a, b, x, y in zip(graphed, eager, hg, he):
        assert_close(a.state_dict(), b.state_dict())
        assert x.early_stop_iteration == y.early_stop_iteration


def test_nan_loss_is_still_reported_with_its_iteration_under_a_cuda_graph(data):
    bad = lc.Dataset(name=data.name, x_train=data.x_train.clone(), y_train=data.y_train, x_val=data.x_val,
                     y_val=data.y_val, x_test=data.x_test, y_test=data.y_test, num_classes=10)
    order = lc.batch_order(0, len(bad.x_train), 60, 100)
    bad.x_train[order[57].to(bad.device)] = float("nan")  # batch of iteration 58, replayed from the graph
    with pytest.raises(ValueError, match="non-finite loss at iteration 58"):
        lc.train(fresh(data), bad, iterations=100, batch_size=60, lr=1e-3, eval_every=50, progress=False,
                 cuda_graph=True)


def test_conv_network_under_a_cuda_graph_matches_eager_alone_and_batched():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(600, 3, 32, 32, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (600,), generator=gen)
    images = lc.Dataset(name="random_images", x_train=x[:400], y_train=y[:400], x_val=x[400:500], y_val=y[400:500],
                        x_test=x[500:], y_test=y[500:], num_classes=10).to(DEVICE)
    mask = lc.magnitude_prune(fresh(images, 0, "conv2"), lc.Mask.ones_like(fresh(images, 0, "conv2")), 0.5)
    kwargs = dict(iterations=30, batch_size=60, lr=0.02, optimizer="sgd", eval_every=10, progress=False)
    graphed, eager = fresh(images, 0, "conv2"), fresh(images, 0, "conv2")
    lc.train(graphed, images, mask=mask, cuda_graph=True, **kwargs)
    lc.train(eager, images, mask=mask, cuda_graph=False, **kwargs)
    batched = [fresh(images, 0, "conv2"), fresh(images, 1, "conv2")]
    lc.train_batched(batched, images, masks=[mask, None], seeds=[0, 1], cuda_graph=True, **kwargs)
    assert_close(graphed.state_dict(), eager.state_dict())  # convolutions may pick other algorithms: float64
    assert_close(batched[0].state_dict(), eager.state_dict())
    for key, keep in mask.items():
        assert bool((graphed.state_dict()[key][~keep.to(DEVICE)] == 0).all()), key
