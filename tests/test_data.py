"""data.py: offline datasets never touch the network; downloads fail fast and clearly when offline."""

from __future__ import annotations

import socket

import pytest

import lottery_core as lc


def test_unknown_dataset_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid datasets: mnist1d"):
        lc.load_dataset("imagenet")


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
