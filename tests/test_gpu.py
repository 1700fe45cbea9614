"""The GPU path: data on the device, no synchronisation per step, exact masks, batched = separate runs.

Skipped where no CUDA device is present (as on the project's CI); run on a GPU machine with
``pytest tests/test_gpu.py``.
"""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

import lottery_core as lc

DEVICE = "cuda"
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device=DEVICE)


def fresh(data, seed=0):
    return lc.build_model("lenet_300_100", data.input_shape, data.num_classes, seed=seed)


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


def test_gpu_training_matches_cpu_training(data):
    cpu_data = data.to("cpu")
    on_gpu, on_cpu = fresh(data), fresh(data)
    hg = lc.train(on_gpu, data, iterations=200, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    hc = lc.train(on_cpu, cpu_data, iterations=200, batch_size=60, lr=1e-3, eval_every=100, progress=False)
    for (name, g), c in zip(on_gpu.state_dict().items(), on_cpu.state_dict().values()):
        torch.testing.assert_close(g.cpu(), c, atol=2e-4, rtol=1e-3, msg=name)
    assert abs(hg.final_test_acc - hc.final_test_acc) < 0.01


def test_batched_training_on_the_gpu_equals_separate_runs(data):
    model = fresh(data)
    masks = [lc.magnitude_prune(model, lc.Mask.ones_like(model), rate) for rate in (0.0, 0.5, 0.9)]
    separate = [fresh(data, s) for s in range(3)]
    together = [fresh(data, s) for s in range(3)]
    hs = [lc.train(m, data, mask=k, iterations=200, batch_size=60, lr=1e-3, seed=s, eval_every=50, progress=False)
          for s, (m, k) in enumerate(zip(separate, masks))]
    hb = lc.train_batched(together, data, masks=masks, seeds=[0, 1, 2], iterations=200, batch_size=60, lr=1e-3,
                          eval_every=50, progress=False)
    for a, b, h1, h2 in zip(separate, together, hs, hb):
        for x, y in zip(a.state_dict().values(), b.state_dict().values()):
            torch.testing.assert_close(x, y, atol=2e-4, rtol=1e-3)
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
def test_cuda_graph_replay_trains_as_the_eager_loop_does(data, optimizer):
    mask = lc.magnitude_prune(fresh(data), lc.Mask.ones_like(fresh(data)), 0.7)
    lr = 1e-3 if optimizer == "adam" else 0.05
    graphed, eager = fresh(data), fresh(data)
    hg = lc.train(graphed, data, mask=mask, iterations=300, batch_size=60, lr=lr, optimizer=optimizer,
                  eval_every=50, seed=4, snapshot_at=[0, 100, 300], progress=False, cuda_graph=True)
    he = lc.train(eager, data, mask=mask, iterations=300, batch_size=60, lr=lr, optimizer=optimizer,
                  eval_every=50, seed=4, snapshot_at=[0, 100, 300], progress=False, cuda_graph=False)
    for (name, g), e in zip(graphed.state_dict().items(), eager.state_dict().values()):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4, msg=name)
    for key, keep in mask.items():
        assert bool((graphed.state_dict()[key][~keep.to(data.device)] == 0).all())
    assert hg.to_frame()["iteration"].tolist() == he.to_frame()["iteration"].tolist()
    assert hg.to_frame()["train_loss"].to_numpy() == pytest.approx(he.to_frame()["train_loss"].to_numpy(), rel=1e-4)
    first = "net.1.weight"
    torch.testing.assert_close(hg.snapshots[100][first], he.snapshots[100][first], atol=1e-5, rtol=1e-4)


def test_batched_cuda_graph_replay_matches_the_eager_batched_loop(data):
    model = fresh(data)
    masks = [lc.magnitude_prune(model, lc.Mask.ones_like(model), rate) for rate in (0.2, 0.9)]
    graphed, eager = [fresh(data, s) for s in range(2)], [fresh(data, s) for s in range(2)]
    kwargs = dict(masks=masks, seeds=[0, 1], iterations=250, batch_size=60, lr=1e-3, eval_every=50, progress=False)
    hg = lc.train_batched(graphed, data, cuda_graph=True, **kwargs)
    he = lc.train_batched(eager, data, cuda_graph=False, **kwargs)
    for a, b, x, y in zip(graphed, eager, hg, he):
        for p, q in zip(a.state_dict().values(), b.state_dict().values()):
            torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
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
    x, y = torch.randn(600, 3, 32, 32, generator=gen), torch.randint(0, 10, (600,), generator=gen)
    images = lc.Dataset(name="random_images", x_train=x[:400], y_train=y[:400], x_val=x[400:500], y_val=y[400:500],
                        x_test=x[500:], y_test=y[500:], num_classes=10).to(DEVICE)

    def conv(seed):
        return lc.build_model("conv2", (3, 32, 32), 10, seed=seed)

    mask = lc.magnitude_prune(conv(0), lc.Mask.ones_like(conv(0)), 0.5)
    kwargs = dict(iterations=30, batch_size=60, lr=0.02, optimizer="sgd", eval_every=10, progress=False)
    graphed, eager = conv(0), conv(0)
    lc.train(graphed, images, mask=mask, cuda_graph=True, **kwargs)
    lc.train(eager, images, mask=mask, cuda_graph=False, **kwargs)
    batched = [conv(0), conv(1)]
    lc.train_batched(batched, images, masks=[mask, None], seeds=[0, 1], cuda_graph=True, **kwargs)
    for g, e, b in zip(graphed.state_dict().values(), eager.state_dict().values(), batched[0].state_dict().values()):
        torch.testing.assert_close(g, e, atol=1e-3, rtol=1e-2)  # convolutions may pick other algorithms
        torch.testing.assert_close(b, e, atol=1e-3, rtol=1e-2)
    for key, keep in mask.items():
        assert bool((graphed.state_dict()[key][~keep.to(DEVICE)] == 0).all()), key
