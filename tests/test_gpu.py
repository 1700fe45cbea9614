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
