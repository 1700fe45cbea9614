"""history.py: learning curves, early stopping at minimum validation loss, the evaluator."""

from __future__ import annotations

import pytest
import torch

import lottery_core as lc
from lottery_core.history import Recorder


def test_early_stop_is_minimum_validation_loss_not_best_accuracy():
    evals = [lc.Evaluation(100, 2.0, 1.0, 0.5, 0.50), lc.Evaluation(200, 1.0, 0.8, 0.6, 0.55),
             lc.Evaluation(300, 0.5, 0.9, 0.7, 0.70)]
    h = lc.History(evals)
    assert h.early_stop_iteration == 200 and h.early_stop_test_acc == 0.55 and h.early_stop_val_acc == 0.6
    assert h.final_test_acc == 0.70 and h.final_val_acc == 0.7
    assert list(h.to_frame()["iteration"]) == [100, 200, 300]
    assert "early stop at 200" in h.summary()


def test_loss_and_accuracy_keep_the_network_axis():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0]], [[0.0, 2.0], [0.0, 2.0]]])  # 2 networks x 2 examples
    loss, acc = lc.loss_and_accuracy(logits, torch.tensor([0, 1]))
    assert acc.tolist() == [1.0, 0.5]
    expected = torch.nn.functional.cross_entropy(logits[1], torch.tensor([0, 1]))
    assert loss[1].item() == pytest.approx(expected.item())


def test_recorder_evaluates_on_schedule_and_names_a_diverged_iteration():
    data = lc.Dataset("toy", torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(3, 2),
                      torch.zeros(3, dtype=torch.long), torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), 2)
    losses = torch.ones(1, 7)
    recorder = Recorder(data, lambda x: torch.zeros(1, len(x), 2), eval_every=3, start_iteration=2, iterations=7,
                        step_losses=losses)
    assert [s for s in range(7) if recorder.due(s)] == [0, 3, 6]  # iterations 3, 6 and the last, 9
    recorder.evaluate(0)
    losses[0, 2] = float("nan")  # the step of iteration 5
    with pytest.raises(ValueError, match="non-finite loss at iteration 5"):
        recorder.evaluate(3)
