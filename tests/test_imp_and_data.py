"""IMP checkpoints, safe loading, dataset errors and the Xavier-scale helpers."""

from __future__ import annotations

import dataclasses
import math
import pickle
import socket

import pytest
import torch

import lottery_core as lc

CFG = dataclasses.replace(lc.get_preset("book"), iterations=60, eval_every=30)


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")


def test_resumed_run_equals_uninterrupted_run(tmp_path, data):
    lc.run_imp(CFG, rounds=2, control="reinit", data=data, checkpoint_dir=tmp_path, verbose=False)
    assert sorted(p.name for p in tmp_path.glob("round_*.pt")) == ["round_000.pt", "round_001.pt", "round_002.pt"]
    assert not list(tmp_path.glob("*.tmp"))
    resumed = lc.run_imp(CFG, rounds=3, control="reinit", data=data, checkpoint_dir=tmp_path, verbose=False)
    straight = lc.run_imp(CFG, rounds=3, control="reinit", data=data, verbose=False)
    assert resumed.to_frame().equals(straight.to_frame())
    assert list(straight.to_frame()["round"]) == [0, 1, 2, 3]


def test_checkpoint_of_another_experiment_is_refused(tmp_path, data):
    lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, verbose=False)
    other = dataclasses.replace(CFG, lr=0.01)
    with pytest.raises(ValueError, match="different experiment.*lr"):
        lc.run_imp(other, rounds=1, data=data, checkpoint_dir=tmp_path, verbose=False)


def test_rewinding_gives_theta0_times_mask(data):
    model = lc.build_model("lenet_300_100", data.input_shape, 10, seed=1)
    theta0 = lc.snapshot(model)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    lc.train(model, data, iterations=20, batch_size=60, lr=1e-3, progress=False)
    lc.rewind(model, theta0, mask)
    for key, p in lc.prunable_parameters(model).items():
        assert torch.equal(p, theta0[key] * mask[key])
    lc.reinitialize(model, mask, seed=7)
    w = lc.prunable_parameters(model)["net.1.weight"]
    assert bool((w[~mask["net.1.weight"]] == 0).all())
    assert not torch.equal(w, theta0["net.1.weight"] * mask["net.1.weight"])
    assert w[mask["net.1.weight"]].std().item() == pytest.approx(lc.xavier_std(40, 300), rel=0.05)


def test_files_never_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump(Evil(), f, protocol=2)  # the protocol torch.save writes
    with pytest.raises(pickle.UnpicklingError):
        lc.Mask.load(path)
    with pytest.raises(pickle.UnpicklingError):
        lc.safe_load(path)


def test_unknown_names_are_value_errors():
    with pytest.raises(ValueError, match="valid datasets: mnist1d"):
        lc.load_dataset("imagenet")
    with pytest.raises(ValueError, match="valid models: lenet_300_100"):
        lc.build_model("resnet", (40,), 10)
    with pytest.raises(ValueError, match="valid presets: book"):
        lc.get_preset("nope")


def test_mnist1d_makes_no_network_call(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network call")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    d = lc.load_dataset("mnist1d", device="cpu")
    assert d.input_shape == (40,) and len(d.x_val) > 0


def test_offline_download_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(lc.data, "_network_reachable", lambda host, timeout=4.0: False)
    with pytest.raises(lc.DatasetUnavailableError, match="mnist1d, digits"):
        lc.load_dataset("mnist", root=tmp_path, device="cpu")


def test_xavier_scale_helpers():
    assert lc.xavier_std(300, 100) == pytest.approx(math.sqrt(2 / 400))
    assert lc.subnetwork_scale(0.1) == pytest.approx(math.sqrt(10))
    full = torch.ones(100, 300, dtype=torch.bool)
    assert torch.allclose(lc.sparse_glorot_std(full), torch.full((100, 300), lc.xavier_std(300, 100)))
    m = torch.zeros(4, 5, dtype=torch.bool)
    m[0, :3] = True
    assert lc.effective_fan_in(m).tolist() == [3, 0, 0, 0]
    assert lc.effective_fan_out(m).tolist() == [1, 1, 1, 0, 0]
