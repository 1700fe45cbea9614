"""run_imp on your own network (Frankle & Carbin 2019, Section 2, with a model factory): a CNN with
BatchNorm through IMP with the reinit control and a SIGKILL resume, a torchvision ResNet-18, the
reinit control's own initialiser, the run folder's refusal of another model, and on_round."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_imp import assert_same_run, count_trainings, kill_while_round_2_trains
from torch import nn

import lottery_core as lc

CFG = lc.get_preset("book", iterations=60, eval_every=30)


class SmallCNN(nn.Module):
    """A user's network for MNIST-1D's 40-sample signals: two convolutions with BatchNorm, a linear head."""

    def __init__(self, width: int = 8, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Unflatten(1, (1, 40)),
            nn.Conv1d(1, width, 5, padding=2, bias=False), nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm1d(2 * width), nn.ReLU(),
            nn.MaxPool1d(2),
        )
        self.head = nn.Linear(2 * width * 10, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


CNN = dict(model_fn=lambda seed: SmallCNN(), model_name="small-cnn", seeds=[0, 1], control="reinit", verbose=False)
CNN_KEYS = ["features.1.weight", "features.5.weight", "head.weight"]  # convolutions and head; no norm layer

KILLED_CNN_RUN = """
import sys, torch, lottery_core as lc
from test_own_model import CNN
torch.set_num_threads(int(sys.argv[2]))
lc.run_imp(lc.get_preset("book", iterations=60, eval_every=30), rounds=3, rewind_iteration=10,
           checkpoint_dir=sys.argv[1], **CNN)
"""


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")


def test_a_cnn_with_batchnorm_runs_imp_with_the_reinit_control(data):
    seen = []
    result = lc.run_imp(CFG, rounds=2, data=data, on_round=seen.append, **CNN)
    assert [[r.round for r in records] for records in seen] == [[0, 0], [1, 1], [2, 2]]
    assert list(result.to_frame()["round"]) == [0, 0, 1, 1, 2, 2]
    assert list(result.mask(0)) == CNN_KEYS
    sizes = {"features.1.weight": 40, "features.5.weight": 384, "head.weight": 1600}
    rates = {"features.1.weight": 0.2, "features.5.weight": 0.2, "head.weight": 0.1}  # the head is the output layer
    assert result.mask(1).counts() == {k: n - round(rates[k] * n) for k, n in sizes.items()}
    model = SmallCNN()
    model.load_state_dict(result.trained_state(1, seed=1))  # round 2 prunes what round 1 trained
    layer_rates = lc.layer_rates_for(model, CFG.prune_rate, CFG.output_prune_rate)
    assert lc.magnitude_prune(model, result.mask(1, seed=1), 0.2, layer_rates=layer_rates).equal(result.mask(2, seed=1))
    trained = result.trained_state(2, seed=1)
    assert all(bool((trained[k][~result.mask(2, seed=1)[k]] == 0).all()) for k in CNN_KEYS)
    assert not torch.equal(trained["features.2.running_mean"], torch.zeros(8))  # BatchNorm statistics trained
    assert {(r, s) for r, s, arm in result.histories if arm == "reinit"} == {(r, s) for r in (1, 2) for s in (0, 1)}
    # named starts trained after the run use the same network: the CNN's own layers, the tickets' masks
    arms = lc.train_arms(result, [2], ["ticket_shuffled", "sign_constant"], data=data, snapshot_at=(60,),
                         verbose=False)
    assert len(arms.frame) == 2 * 2 and set(arms.frame["density"]) == {result.mask(2, s).density() for s in (0, 1)}
    final = arms.snapshots[(2, 1, "ticket_shuffled")][60]
    assert "features.2.running_mean" in final and all(bool((final[k][~result.mask(2, seed=1)[k]] == 0).all())
                                                      for k in CNN_KEYS)


def test_a_killed_cnn_run_resumes_to_the_records_of_an_uninterrupted_run(tmp_path):
    kill_while_round_2_trains(KILLED_CNN_RUN, tmp_path)
    config = lc.get_preset("book", iterations=60, eval_every=30)
    seen = []
    resumed = lc.run_imp(config, rounds=3, rewind_iteration=10, checkpoint_dir=tmp_path, on_round=seen.append, **CNN)
    assert [records[0].round for records in seen] == [0, 1, 2, 3]  # read rounds are reported too
    assert_same_run(resumed, lc.run_imp(config, rounds=3, rewind_iteration=10, **CNN))


def test_a_folder_written_by_another_model_is_refused(tmp_path, data, monkeypatch):
    lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, **CNN)
    trainings = count_trainings(monkeypatch)
    lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, **CNN)
    assert trainings == []  # the same model (a fresh factory) reads the folder
    wider = CNN | {"model_fn": lambda seed: SmallCNN(width=16)}
    with pytest.raises(ValueError, match=r"model.structure: '\w+' there, '\w+' here.*it trained another model"):
        lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, **wider)
    with pytest.raises(ValueError, match=r"model: \{.*'small-cnn'.*\} there, None here"):
        lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, seeds=[0, 1], control="reinit", verbose=False)
    with pytest.raises(ValueError, match="optimizer: None there"):
        lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, **CNN,
                   optimizer_fn=lambda ps: torch.optim.AdamW(ps, lr=CFG.lr, weight_decay=0.01))
    with pytest.raises(ValueError, match="scheduler: None there"):
        lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, **CNN,
                   scheduler_fn=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 10))


def kaiming_mlp(seed: int) -> nn.Module:
    """nn.Linear's default init: Kaiming-uniform with a = sqrt(5), std 1/sqrt(3 fan_in)."""
    return nn.Sequential(nn.Linear(40, 300), nn.ReLU(), nn.Linear(300, 10))


@pytest.mark.parametrize("reinit_init, std", [(None, 1 / (3 * 40) ** 0.5), ("glorot", lc.xavier_std(40, 300))])
def test_the_reinit_control_draws_from_the_models_own_initialiser(data, monkeypatch, reinit_init, std):
    starts = []
    real = lc.arms.train_batched
    monkeypatch.setattr(lc.arms, "train_batched", lambda models, *a, **k: (
        starts.append([lc.snapshot(m) for m in models]), real(models, *a, **k))[1])
    config = dataclasses.replace(CFG, iterations=20, eval_every=20)
    result = lc.run_imp(config, rounds=1, control="reinit", data=data, model_fn=kaiming_mlp, reinit_init=reinit_init,
                        verbose=False)
    ticket, reinit = starts[1]  # round 1 trains the ticket and its control
    keep = result.mask(1)["0.weight"]
    assert torch.equal(ticket["0.weight"], result.initial_state()["0.weight"] * keep)
    # 9,600 kept draws: 4% is 8 standard errors of a uniform sample std (0.46%), 5.6 of a normal one (0.72%);
    # the default (0.091) and Glorot (0.077) are 19% apart
    assert reinit["0.weight"][keep].std().item() == pytest.approx(std, rel=0.04)
    assert bool((reinit["0.weight"][~keep] == 0).all())


def test_imp_trains_with_the_optimizer_factory(data):
    made = []

    def adamw(params):
        made.append(torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1))
        return made[-1]

    config = dataclasses.replace(CFG, iterations=20, eval_every=20)
    result = lc.run_imp(config, rounds=1, data=data, model_fn=kaiming_mlp, optimizer_fn=adamw, verbose=False)
    assert len(made) == 3  # one to fingerprint the run folder, then one per round
    assert made[-1].state and all(opt.param_groups[0]["weight_decay"] == 0.1 for opt in made)
    trained, mask = result.trained_state(1), result.mask(1)
    assert all(bool((trained[k][~m] == 0).all()) for k, m in mask.items())


def random_images(train: int = 32, held_out: int = 16, seed: int = 0) -> lc.Dataset:
    """A dataset of random 3x32x32 tensors with random labels, with the fields load_dataset returns."""
    gen = torch.Generator().manual_seed(seed)
    splits = [(torch.randn(n, 3, 32, 32, generator=gen), torch.randint(0, 10, (n,), generator=gen))
              for n in (train, held_out, held_out)]
    return lc.Dataset("random32", *[t for split in splits for t in split], num_classes=10)


def test_a_torchvision_resnet18_runs_one_round(monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    config = lc.ExperimentConfig(dataset="random32", model="resnet18", batch_size=8, iterations=2, eval_every=1)
    trainings = count_trainings(monkeypatch)
    result = lc.run_imp(config, rounds=1, data=random_images(), verbose=False,
                        model_fn=lambda seed: torchvision.models.resnet18(weights=None, num_classes=10))
    assert trainings == [0, 0]
    mask = result.mask(1)
    assert len(mask) == 21 and list(mask)[-1] == "fc.weight"  # 20 convolutions and the output layer
    assert not any(".bn" in k or "downsample.1" in k for k in mask)  # no BatchNorm parameter
    densities = mask.layer_densities()
    assert densities["fc.weight"] == pytest.approx(0.9) and densities["conv1.weight"] == pytest.approx(0.8, abs=1e-3)
    trained = result.trained_state(1)
    assert all(bool((trained[k][~m] == 0).all()) for k, m in mask.items())
    assert list(result.to_frame()["round"]) == [0, 1]
