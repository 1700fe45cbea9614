"""saliency.py: each score against a hand computation on a tiny network, and the masks made from scores.

Every network here is float64 and the tiny ones have numbers chosen so that the hand results are short decimals;
comparisons use ``torch.testing.assert_close`` at float64's default tolerances (rtol 1e-7, atol 1e-7) or a stated
relative tolerance, far above float64 rounding (about 1e-16 per operation), so they hold on any CPU whatever the
order in which its kernels sum.

The hand network (no biases):  x = (1, 2),  W1 = [[1, 2], [3, -1]],  W2 = [[0.5, -2]],  target y = 0,
loss L = ½ (W2 W1 x − y)².
    h = W1 x = (5, 1),   out = W2 h = 0.5,   L = 0.125,   ∂L/∂out = 0.5
    ∂L/∂W2 = 0.5 · h = (2.5, 0.5)
    ∂L/∂h  = 0.5 · W2 = (0.25, −1)    ∂L/∂W1 = outer(∂L/∂h, x) = [[0.25, 0.5], [−1, −2]]
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import lottery_core as lc
from lottery_core import saliency

F64 = torch.float64
W1 = [[1.0, 2.0], [3.0, -1.0]]
W2 = [[0.5, -2.0]]
X = torch.tensor([[1.0, 2.0]], dtype=F64)
Y = torch.tensor([[0.0]], dtype=F64)


def half_square(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out - y) ** 2).sum()


def linear_net(*weights, activation: nn.Module | None = None) -> nn.Sequential:
    """Bias-free float64 linear layers holding ``weights`` (out x in lists), ``activation`` between them."""
    layers = []
    for i, w in enumerate(weights):
        w = torch.tensor(w, dtype=F64)
        layer = nn.Linear(w.shape[1], w.shape[0], bias=False).double()
        with torch.no_grad():
            layer.weight.copy_(w)
        layers += [layer] if i == 0 or activation is None else [activation, layer]
    return nn.Sequential(*layers)


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def lenet(seed: int = 0) -> nn.Module:
    return lc.build_model("lenet_300_100", (40,), 10, seed=seed).double()


def same_weights(a: nn.Module, b: dict) -> bool:
    return all(torch.equal(v, b[k]) for k, v in a.state_dict().items())


# ---- SNIP -------------------------------------------------------------------------------------------------


def test_snip_is_gradient_times_weight_by_hand():
    net = linear_net(W1, W2)
    before = lc.snapshot(net)
    scores = lc.snip_scores(net, X, Y, loss_fn=half_square)
    # |∂L/∂W ⊙ W|: W1: |[[0.25·1, 0.5·2], [−1·3, −2·−1]]|, W2: |[2.5·0.5, 0.5·−2]|
    torch.testing.assert_close(scores["0.weight"], t([[0.25, 1.0], [3.0, 2.0]]))
    torch.testing.assert_close(scores["1.weight"], t([[1.25, 1.0]]))
    assert same_weights(net, before) and all(p.grad is None for p in net.parameters())


def test_snip_with_cross_entropy_matches_autograd_of_the_mask_variable():
    """The paper's definition: g_j = ∂L(c ⊙ w)/∂c_j at c = 1, computed here with an explicit mask variable."""
    net = linear_net([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]], [[1.0, -0.5], [0.2, 0.7]], activation=nn.Tanh())
    x, y = torch.tensor([[1.0, -1.0, 2.0], [0.5, 0.0, -1.0]], dtype=F64), torch.tensor([0, 1])
    c1, c2 = torch.ones(2, 3, dtype=F64, requires_grad=True), torch.ones(2, 2, dtype=F64, requires_grad=True)
    out = torch.tanh(x @ (c1 * net[0].weight).T) @ (c2 * net[2].weight).T
    g1, g2 = torch.autograd.grad(nn.functional.cross_entropy(out, y), [c1, c2])
    scores = lc.snip_scores(net, x, y)
    torch.testing.assert_close(scores["0.weight"], g1.abs())
    torch.testing.assert_close(scores["2.weight"], g2.abs())


# ---- GraSP ------------------------------------------------------------------------------------------------


def test_grasp_two_weights_by_hand():
    """f = b·a·x with x = 1, y = 0: L = ½a²b².  g = (ab², a²b);  H = [[b², 2ab], [2ab, a²]].
    At a = 1, b = 2: g = (4, 2), H = [[4, 4], [4, 1]], Hg = (24, 18), S = −θ ⊙ Hg = (−24, −36)."""
    net = linear_net([[1.0]], [[2.0]])
    scores = lc.grasp_scores(net, t([[1.0]]), t([[0.0]]), loss_fn=half_square)
    torch.testing.assert_close(scores["0.weight"], t([[-24.0]]))
    torch.testing.assert_close(scores["1.weight"], t([[-36.0]]))


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_grasp_equals_explicit_hessian_times_gradient(temperature):
    """A 3-2-2 tanh net under cross-entropy: −θ ⊙ (H g) with H from torch.autograd.functional.hessian on the
    10 flattened weights."""
    net = linear_net([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]], [[1.0, -0.5], [0.2, 0.7]], activation=nn.Tanh())
    x, y = torch.tensor([[1.0, -1.0, 2.0], [0.5, 0.0, -1.0], [0.0, 2.0, 1.0]], dtype=F64), torch.tensor([0, 1, 1])

    def loss(v: torch.Tensor) -> torch.Tensor:
        out = torch.tanh(x @ v[:6].view(2, 3).T) @ v[6:].view(2, 2).T
        return nn.functional.cross_entropy(out / temperature, y)

    theta = torch.cat([net[0].weight.detach().flatten(), net[2].weight.detach().flatten()])
    g = torch.autograd.functional.jacobian(loss, theta)
    hessian = torch.autograd.functional.hessian(loss, theta)
    expected = -theta * (hessian @ g)
    scores = lc.grasp_scores(net, x, y, temperature=temperature)
    torch.testing.assert_close(torch.cat([scores["0.weight"].flatten(), scores["2.weight"].flatten()]), expected)


def test_grasp_score_is_half_the_first_order_change_in_gradient_flow():
    """The sign convention: removing weight q (δ = −θ_q e_q) changes gᵀg by 2 δᵀHg = 2 S_q to first order, so a
    high score marks a weight whose removal costs the least gradient flow. Checked on a weight of 1e-4."""
    net = linear_net([[0.3, 1e-4, 0.5], [0.1, 0.4, -0.6]], [[1.0, -0.5], [0.2, 0.7]], activation=nn.Tanh())
    x, y = torch.tensor([[1.0, -1.0, 2.0], [0.5, 3.0, -1.0]], dtype=F64), torch.tensor([0, 1])

    def flow() -> float:
        grads = torch.autograd.grad(nn.functional.cross_entropy(net(x), y), list(net.parameters()))
        return sum((g * g).sum() for g in grads).item()

    score = lc.grasp_scores(net, x, y)["0.weight"][0, 1].item()
    before = flow()
    with torch.no_grad():
        net[0].weight[0, 1] = 0.0
    assert flow() - before == pytest.approx(2 * score, rel=1e-3)
    assert score != 0.0


def test_grasp_keeps_the_lowest_scores():
    model = lenet()
    x, y = torch.randn(32, 40, dtype=F64, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 10
    scores = lc.grasp_scores(model, x, y)
    mask = lc.prune_at_init("grasp", model, 0.1, batch=(x, y))
    assert mask.equal(lc.mask_from_scores(scores, 0.1, keep="lowest"))
    kept = torch.cat([scores[k][mask[k]] for k in mask])
    removed = torch.cat([scores[k][~mask[k]] for k in mask])
    assert kept.max() <= removed.min()


# ---- SynFlow ----------------------------------------------------------------------------------------------


def test_synflow_two_layer_closed_form():
    """R = 1ᵀ|W2||W1|1.  ∂R/∂|W1|[i, j] = (1ᵀ|W2|)[i] and ∂R/∂|W2|[k, i] = (|W1| 1)[i], so
    score W1[i, j] = |W1[i, j]| · Σ_k |W2[k, i]| and score W2[k, i] = |W2[k, i]| · Σ_j |W1[i, j]|.
    Column sums of |W2| = (0.5, 2); row sums of |W1| = (3, 4); R = 0.5·3 + 2·4 = 9.5."""
    net = linear_net(W1, W2, activation=nn.ReLU())
    before = lc.snapshot(net)
    scores = lc.synflow_scores(net, (2,))
    torch.testing.assert_close(scores["0.weight"], t([[0.5, 1.0], [6.0, 2.0]]))
    torch.testing.assert_close(scores["2.weight"], t([[1.5, 8.0]]))
    # synaptic flow is conserved: every layer's scores add up to R (Tanaka et al. 2020)
    assert scores["0.weight"].sum().item() == scores["2.weight"].sum().item() == 9.5
    assert same_weights(net, before)  # signs restored: the model itself was never linearised


def test_synflow_conserves_flow_in_every_layer_of_lenet():
    model = lenet()
    weights = [w.detach().abs() for w in lc.prunable_parameters(model).values()]
    flow = (weights[2] @ weights[1] @ weights[0] @ torch.ones(40, dtype=F64)).sum()
    scores = lc.synflow_scores(model, (40,))
    for key, s in scores.items():
        assert s.sum().item() == pytest.approx(flow.item(), rel=1e-10), key
        assert s.dtype == F64 and bool((s >= 0).all())


def test_synflow_treats_pruned_weights_as_zero_and_leaves_batchnorm_and_mode_alone():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2), nn.ReLU(), nn.Linear(2, 1, bias=False))
    net = net.double().train()
    with torch.no_grad():
        net[0].weight.copy_(t(W1))
        net[3].weight.copy_(t(W2))
        net[1].weight.copy_(t([-2.0, 1.0]))
        net[1].running_mean.copy_(t([7.0, -7.0]))
    before = lc.snapshot(net)
    mask = lc.Mask({"0.weight": torch.tensor([[True, False], [True, True]]), "3.weight": torch.ones(1, 2).bool()})
    scores = lc.synflow_scores(net, (2,), mask=mask)
    # eval-mode BatchNorm with running mean 0 and running var 1: a scaling by |γ| / sqrt(1 + eps)
    scale = t([2.0, 1.0]) / math.sqrt(1 + net[1].eps)
    w1 = t([[1.0, 0.0], [3.0, 1.0]])
    torch.testing.assert_close(scores["0.weight"], w1 * (t([0.5, 2.0]) * scale)[:, None])
    torch.testing.assert_close(scores["3.weight"], t([[0.5, 2.0]]) * (w1.sum(1) * scale))
    assert same_weights(net, before) and net.training


def test_iterative_synflow_follows_the_exponential_schedule_and_reaches_the_target_exactly(monkeypatch):
    steps, real = [], saliency.mask_from_scores
    monkeypatch.setattr(saliency, "mask_from_scores", lambda scores, d, **kw: steps.append(d) or real(scores, d, **kw))
    model = lenet()
    before = lc.snapshot(model)
    mask = lc.synflow_mask(model, (40,), 0.07, rounds=10)
    assert len(steps) == 10 and steps[-1] == pytest.approx(0.07) and steps[4] == pytest.approx(0.07**0.5)
    assert all(a > b for a, b in zip([1.0, *steps], steps))  # d^(k/n): every round prunes some more
    monkeypatch.undo()
    assert sum(mask.counts().values()) == round(0.07 * 43_000)
    assert same_weights(model, before)
    # one round is the one-shot mask of the scores
    assert lc.synflow_mask(model, (40,), 0.3, rounds=1).equal(lc.mask_from_scores(lc.synflow_scores(model, (40,)), 0.3))


def test_iterative_synflow_at_one_percent_keeps_every_layer():
    """Tanaka et al.'s point: iterative SynFlow avoids layer collapse; at 1% density every LeNet layer keeps weights."""
    model = lenet()
    mask = lc.synflow_mask(model, (40,), 0.01, rounds=100)
    assert sum(mask.counts().values()) == 430
    assert min(mask.counts().values()) > 0


# ---- magnitude at θ0 and Zhou et al.'s criteria -----------------------------------------------------------


@pytest.mark.parametrize("scope", ["layerwise", "global"])
def test_magnitude_scores_reproduce_magnitude_prune(scope):
    model = lc.build_model("lenet_300_100", (40,), 10, seed=1)
    ours = lc.mask_from_scores(lc.magnitude_scores(model), 0.2, scope=scope)
    theirs = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.8, scope=scope)
    assert ours.equal(theirs)


def test_zhou_criteria_by_hand():
    model = linear_net([[0.0, 0.0, 0.0, 0.0]])
    wi, wf = {"0.weight": t([[0.5, -1.0, 0.2, 0.1]])}, {"0.weight": t([[1.5, -0.5, -0.8, 0.0]])}
    expected = {
        "large_final": [[1.5, 0.5, 0.8, 0.0]],  # |w_f|
        "magnitude_increase": [[1.0, -0.5, 0.6, -0.1]],  # |w_f| − |w_i|
        "movement": [[1.0, 0.5, 1.0, 0.1]],  # |w_f − w_i|
        # within-layer ranks of |w_i| = (2, 3, 1, 0)/3 and of |w_f| = (3, 1, 2, 0)/3; the smaller of the two
        "large_init_large_final": [[2 / 3, 1 / 3, 1 / 3, 0.0]],
    }
    for criterion, values in expected.items():
        torch.testing.assert_close(lc.trained_scores(criterion, model, wi, wf)["0.weight"], t(values))
    increase = lc.trained_scores("magnitude_increase", model, wi, wf)
    assert lc.mask_from_scores(increase, 0.5, scope="layerwise")["0.weight"].tolist() == [[True, False, True, False]]
    both = lc.trained_scores("large_init_large_final", model, wi, wf)
    assert lc.mask_from_scores(both, 0.25, scope="layerwise")["0.weight"].tolist() == [[True, False, False, False]]


def test_large_final_is_the_paper_ticket_mask(ticket):
    """On a snapshot pair, large_final at the ticket's per-layer densities is one-shot magnitude pruning of θT."""
    model, theta0, _ = ticket
    trained = lc.snapshot(lc.build_model("lenet_300_100", (40,), 10, seed=4))
    scores = lc.trained_scores("large_final", model, theta0, trained)
    ours = lc.mask_from_scores(scores, 0.2, scope="layerwise")
    model.load_state_dict(trained)
    assert ours.equal(lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.8))
    model.load_state_dict(theta0)


# ---- mask_from_scores -------------------------------------------------------------------------------------

SCORES = {"a": t([[3.0, 1.0], [2.0, 2.0]]), "b": t([[2.0, 5.0]])}


def test_mask_from_scores_global_and_layerwise_by_hand():
    """Flat scores (3, 1, 2, 2 | 2, 5). Among equal scores the earlier position is pruned first."""
    high = lc.mask_from_scores(SCORES, 0.5)  # keep 3 of 6: the 5, the 3 and the last of the 2s
    assert high["a"].tolist() == [[True, False], [False, False]] and high["b"].tolist() == [[True, True]]
    low = lc.mask_from_scores(SCORES, 0.5, keep="lowest")  # keep the 1 and the two later 2s
    assert low["a"].tolist() == [[False, True], [False, True]] and low["b"].tolist() == [[True, False]]
    layer = lc.mask_from_scores(SCORES, 0.5, scope="layerwise")  # 2 of 4 in a, 1 of 2 in b
    assert layer["a"].tolist() == [[True, False], [False, True]] and layer["b"].tolist() == [[False, True]]
    own = lc.mask_from_scores(SCORES, {"a": 0.25, "b": 1.0}, scope="layerwise")
    assert own.counts() == {"a": 1, "b": 2} and bool(own["a"][0, 0])


def test_mask_from_scores_reproduces_a_tickets_layer_counts(ticket):
    _, _, mask = ticket
    scores = {k: torch.rand(m.shape, generator=torch.Generator().manual_seed(1)) for k, m in mask.items()}
    ours = lc.mask_from_scores(scores, mask.layer_densities(), scope="layerwise")
    assert ours.counts() == mask.counts()
    assert lc.random_prune(ours, seed=0).counts() == mask.counts()  # the layer-wise shuffle of the sanity checks


@pytest.mark.parametrize("scope", ["layerwise", "global"])
@pytest.mark.parametrize("keep", ["highest", "lowest"])
def test_mask_from_scores_never_revives_a_pruned_weight(scope, keep):
    within = lc.mask_from_scores(SCORES, 0.5, scope="layerwise", keep="lowest")
    # give the pruned weights the most attractive scores: they must stay pruned
    best = 100.0 if keep == "highest" else -100.0
    lure = {k: torch.where(within[k], s, best) for k, s in SCORES.items()}
    new = lc.mask_from_scores(lure, 1 / 3, scope=scope, keep=keep, within=within)
    assert all(not (new[k] & ~within[k]).any() for k in new)
    assert sum(new.counts().values()) == 2


def test_invalid_inputs_are_value_errors():
    model = lenet()
    cases = [
        (lambda: lc.mask_from_scores(SCORES, 0.0), "density must be in \\(0, 1\\]"),
        (lambda: lc.mask_from_scores(SCORES, 1.5), "density must be in \\(0, 1\\]"),
        (lambda: lc.mask_from_scores(SCORES, float("nan")), "density must be in"),
        (lambda: lc.mask_from_scores(SCORES, {"a": 0.5, "b": 0.0}, scope="layerwise"), "density\\['b'\\]"),
        (lambda: lc.mask_from_scores(SCORES, {"a": 0.5}, scope="layerwise"), "densities name layers"),
        (lambda: lc.mask_from_scores(SCORES, {"a": 0.5, "b": 0.5}), "need scope='layerwise'"),
        (lambda: lc.mask_from_scores(SCORES, 0.5, scope="local"), "unknown scope 'local'"),
        (lambda: lc.mask_from_scores(SCORES, 0.5, keep="top"), "unknown keep 'top'"),
        (lambda: lc.mask_from_scores({"a": t([[1.0, float("nan")]])}, 0.5), "not all finite"),
        (lambda: lc.mask_from_scores(SCORES, 0.5, within=lc.Mask.ones_like(model)), "does not fit the scores"),
        (lambda: lc.mask_from_scores(SCORES, 0.9, within=lc.mask_from_scores(SCORES, 0.5)), "cannot keep 5"),
        (lambda: lc.synflow_scores(model, (40,), mask=lc.Mask.ones_like(linear_net(W1, W2))), "does not fit"),
        (lambda: lc.synflow_mask(model, (40,), 0.5, rounds=0), "rounds must be at least 1"),
        (lambda: lc.trained_scores("large_final", model, lc.snapshot(linear_net(W1, W2)), {}), "initial weights"),
        (lambda: lc.trained_scores("small_final", model, {}, {}), "unknown criterion"),
        (lambda: lc.prune_at_init("snip", model, 0.5), "pass batch"),
        (lambda: lc.prune_at_init("synflow", model, 0.5), "needs input_shape"),
        (lambda: lc.prune_at_init("random", model, 0.5), "unknown method"),
        (lambda: lc.prune_at_init("magnitude", model, 2.0), "density must be in"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("method", lc.PRUNE_AT_INIT)
def test_prune_at_init_gives_exact_counts_and_leaves_the_model_alone(method):
    model = lenet()
    before = lc.snapshot(model)
    gen = torch.Generator().manual_seed(0)
    batch = (torch.randn(20, 40, dtype=F64, generator=gen), torch.arange(20) % 10)
    mask = lc.prune_at_init(method, model, 0.21, batch=batch, rounds=5)
    assert sum(mask.counts().values()) == round(0.21 * 43_000)
    mask.check_fits(model)
    assert same_weights(model, before) and all(p.grad is None for p in model.parameters())
