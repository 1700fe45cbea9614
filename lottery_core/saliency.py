"""Which weights to keep, scored at initialisation or from a trained run: a *score* is one tensor per
prunable weight (the keys of :class:`~lottery_core.Mask`), and a mask keeps the best-scored weights.

At θ0: SNIP's |g ⊙ θ| (Lee et al., ICLR 2019), GraSP's −θ ⊙ Hg, lowest kept (Wang et al., ICLR 2020),
SynFlow's data-free (∂R/∂θ) ⊙ θ, pruned iteratively (Tanaka et al., NeurIPS 2020), and |θ0|, the baseline
of Frankle, Dziugaite, Roy & Carbin (ICLR 2021). From a trained run: the mask criteria of Zhou et al.
(NeurIPS 2019). ``mask_from_scores`` turns any of them into a mask with exact counts, globally, per layer,
or at a ticket's own layer densities; the sanity checks' layer-wise shuffle is :func:`~lottery_core.random_prune`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .masks import Mask, prunable_parameters
from .pruning import SCOPES, _smallest

Scores = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
KEEP = ("highest", "lowest")
MASK_CRITERIA = ("large_final", "magnitude_increase", "movement", "large_init_large_final")
PRUNE_AT_INIT = ("snip", "grasp", "synflow", "magnitude")


def _check_choice(value: str, valid: Sequence[str], what: str) -> None:
    if value not in valid:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def _check_density(density: float, what: str = "density") -> float:
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise ValueError(f"{what} must be in (0, 1], got {density}")
    return density


def _keep_counts(scores: Mapping[str, torch.Tensor], density: float | Mapping[str, float], scope: str) -> dict:
    """Weights to keep: per layer for ``scope="layerwise"``, else ``{"all": n}``; round(density x size)."""
    if isinstance(density, Mapping):
        if scope != "layerwise":
            raise ValueError("per-layer densities need scope='layerwise'")
        if set(density) != set(scores):
            raise ValueError(f"densities name layers {sorted(density)}, the scores {sorted(scores)}")
        return {k: round(_check_density(d, f"density[{k!r}]") * scores[k].numel()) for k, d in density.items()}
    density = _check_density(density)
    if scope == "layerwise":
        return {k: round(density * s.numel()) for k, s in scores.items()}
    return {"all": round(density * sum(s.numel() for s in scores.values()))}


def _ranked(scores: Mapping[str, torch.Tensor], keep: str, within: Mask | None) -> Scores:
    """float64 CPU copies, larger = kept first; weights pruned in ``within`` at -inf (never revived)."""
    out = {}
    for key, s in scores.items():
        s = s.detach().double().cpu()
        if not torch.isfinite(s).all():
            raise ValueError(f"scores of {key!r} are not all finite")
        s = s if keep == "highest" else -s
        out[key] = s if within is None else torch.where(within[key].cpu(), s, -torch.inf)
    return out


def _keep_top(ranked: torch.Tensor, k: int, what: str) -> torch.Tensor:
    """Bool mask keeping exactly the ``k`` largest of ``ranked`` (exact count; ties go by position)."""
    alive = int(torch.isfinite(ranked).sum())
    if k > alive:
        raise ValueError(f"cannot keep {k} weights of {what}: only {alive} survive the mask given as `within`")
    kept = torch.ones(ranked.numel(), dtype=torch.bool)
    kept[_smallest(ranked, ranked.numel() - k)] = False
    return kept.view(ranked.shape)


def mask_from_scores(scores: Mapping[str, torch.Tensor], density: float | Mapping[str, float], *,
                     scope: str = "global", keep: str = "highest", within: Mask | None = None) -> Mask:
    """The mask keeping ``round(density x weights)`` of the best-scored weights (over all layers together
    for ``scope="global"``, in each layer for ``"layerwise"``; ``density`` may map each layer to its own).

    ``keep="highest"`` keeps the largest scores (SNIP, SynFlow, magnitudes), ``"lowest"`` the smallest
    (GraSP). Counts are exact; among equal scores the earlier position is pruned first, as in
    :func:`~lottery_core.magnitude_prune`. Weights pruned in ``within`` stay pruned (density still counts
    all weights). Invalid densities, scopes or a ``within`` that does not fit the scores: ``ValueError``.
    """
    _check_choice(scope, SCOPES, "scope")
    _check_choice(keep, KEEP, "keep")
    shapes = {k: tuple(s.shape) for k, s in scores.items()}
    if within is not None and {k: tuple(m.shape) for k, m in within.items()} != shapes:
        raise ValueError(f"`within` does not fit the scores: layers and shapes {shapes}")
    ranked = _ranked(scores, keep, within)
    counts = _keep_counts(ranked, density, scope)
    if scope == "layerwise":
        kept = {k: _keep_top(r, counts[k], f"layer {k!r}") for k, r in ranked.items()}
    else:
        flat = _keep_top(torch.cat([r.flatten() for r in ranked.values()]), counts["all"], "the network")
        parts = flat.split([r.numel() for r in ranked.values()])
        kept = {k: part.view(ranked[k].shape) for k, part in zip(ranked, parts)}
    return Mask({k: v.to(scores[k].device) for k, v in kept.items()})


def _weight_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, *,
                      temperature: float = 1.0, create_graph: bool = False) -> tuple[dict, tuple]:
    """The prunable weights and ∂L/∂w on the batch (x, y), without touching ``.grad``."""
    weights = prunable_parameters(model)
    loss = loss_fn(model(x) / temperature, y)
    return weights, torch.autograd.grad(loss, list(weights.values()), create_graph=create_graph)


def snip_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn = F.cross_entropy) -> Scores:
    """SNIP's connection sensitivity |g ⊙ θ| of every prunable weight on one minibatch (Lee, Ajanthan & Torr,
    ICLR 2019, "SNIP: Single-shot Network Pruning based on Connection Sensitivity").

    g_j = ∂L(c ⊙ θ)/∂c_j at c = 1 is θ_j ∂L/∂θ_j; the paper's normalisation by Σ_k |g_k| does not change the
    ranking and is left out. Keep the highest, over all layers together. ``model`` is not changed."""
    weights, grads = _weight_gradients(model, x, y, loss_fn)
    return {k: (g * w).abs().detach() for (k, w), g in zip(weights.items(), grads)}


def grasp_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn = F.cross_entropy,
                 temperature: float = 1.0) -> Scores:
    """GraSP's gradient-signal-preservation score S(−θ) = −θ ⊙ Hg (Wang, Zhang & Grosse, ICLR 2020,
    "Picking Winning Tickets Before Training by Preserving Gradient Flow").

    g = ∂L/∂θ and H the Hessian of L over the prunable weights on the batch (x, y); Hg by double backward,
    ∂(gᵀ·stop_grad(g))/∂θ. Removing weight q changes gᵀg by about 2·S_q, so the paper removes the highest
    scores and keeps the lowest: ``mask_from_scores(scores, d, keep="lowest")``. ``temperature`` divides
    the logits (the authors' code uses 200; 1 is the paper's equation). ``model`` is not changed."""
    weights, grads = _weight_gradients(model, x, y, loss_fn, temperature=temperature, create_graph=True)
    flow = sum((g * g.detach()).sum() for g in grads)
    hg = torch.autograd.grad(flow, list(weights.values()))
    return {k: (-w * h).detach() for (k, w), h in zip(weights.items(), hg)}


def magnitude_scores(model: nn.Module) -> Scores:
    """|θ| of every prunable weight at the model's current weights: at θ0, the magnitude-at-initialisation
    baseline of Frankle, Dziugaite, Roy & Carbin (ICLR 2021, "Pruning Neural Networks at Initialization: Why
    Are We Missing the Mark?"). Keep the highest, per layer or globally."""
    return {k: w.detach().abs() for k, w in prunable_parameters(model).items()}


@torch.no_grad()
def _linearised(model: nn.Module) -> tuple[nn.Module, Scores]:
    """A float64 eval-mode copy of ``model`` with every parameter made positive and BatchNorm running means
    zero (so no ReLU is ever off on a positive input), and the |θ| of its prunable weights."""
    net = copy.deepcopy(model).double().eval()
    for p in net.parameters():
        p.abs_()
    for name, buffer in net.named_buffers():
        if name.endswith("running_mean"):
            buffer.zero_()
    return net, {k: w.detach().clone() for k, w in prunable_parameters(net).items()}


def _synaptic_flow(net: nn.Module, absolute: Scores, input_shape: Sequence[int], mask: Mask | None) -> Scores:
    """(∂R/∂θ) ⊙ θ on the linearised ``net`` with its weights set to |θ0| ⊙ mask (R = sum of the outputs)."""
    weights = prunable_parameters(net)
    with torch.no_grad():
        for key, w in weights.items():
            w.copy_(absolute[key] if mask is None else absolute[key] * mask[key].to(w.device))
    device = next(iter(weights.values())).device
    flow = net(torch.ones(1, *input_shape, dtype=torch.float64, device=device)).sum()
    if not torch.isfinite(flow):
        raise ValueError(f"the synaptic flow R overflowed float64 ({flow.item()}); the network is too deep or wide")
    grads = torch.autograd.grad(flow, list(weights.values()))
    return {k: (g * w).detach() for (k, w), g in zip(weights.items(), grads)}


def synflow_scores(model: nn.Module, input_shape: Sequence[int], *, mask: Mask | None = None) -> Scores:
    """SynFlow's synaptic saliency (∂R/∂θ) ⊙ θ, data-free (Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020,
    "Pruning neural networks without any data by iteratively conserving synaptic flow").

    The network is linearised (every parameter replaced by its absolute value) and fed one all-ones input of
    ``input_shape``; R = 1ᵀ(∏ₗ|W_l|)1 is the sum of its outputs (biases, zero here, add their positive paths).
    Computed on a float64 copy, so ``model`` is left exactly as it was; weights pruned in ``mask`` count as
    zero. The scores are float64; keep the highest."""
    if mask is not None:
        mask.check_fits(model)
    return _synaptic_flow(*_linearised(model), input_shape, mask)


def synflow_mask(model: nn.Module, input_shape: Sequence[int], density: float, *, rounds: int = 100,
                 scope: str = "global") -> Mask:
    """SynFlow's iterative pruning: ``rounds`` rounds (the paper uses 100), each rescoring the surviving weights
    and keeping density d^(k/n) after round k of n (its exponential schedule), ending at exactly
    ``round(density x weights)`` weights. A pruned weight never comes back. ``model`` is not changed."""
    density = _check_density(density)
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    net, absolute = _linearised(model)
    mask = Mask.ones_like(model)
    for step_density in (density ** (k / rounds) for k in range(1, rounds + 1)):
        scores = _synaptic_flow(net, absolute, input_shape, mask)
        mask = mask_from_scores(scores, step_density, scope=scope, within=mask)
    return mask


def _layer_ranks(magnitudes: torch.Tensor) -> torch.Tensor:
    """Each entry's rank within its tensor, 0 (smallest) to 1 (largest); ties ranked by position."""
    order = torch.argsort(magnitudes.flatten(), stable=True)
    ranks = torch.empty(order.numel(), dtype=torch.float64, device=magnitudes.device)
    ranks[order] = torch.arange(order.numel(), dtype=torch.float64, device=magnitudes.device)
    return (ranks / max(order.numel() - 1, 1)).view(magnitudes.shape)


_CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "large_final": lambda wi, wf: wf.abs(),
    "magnitude_increase": lambda wi, wf: wf.abs() - wi.abs(),
    "movement": lambda wi, wf: (wf - wi).abs(),
    "large_init_large_final": lambda wi, wf: torch.minimum(_layer_ranks(wi.abs()), _layer_ranks(wf.abs())),
}


def trained_scores(criterion: str, model: nn.Module, initial: Mapping[str, torch.Tensor],
                   final: Mapping[str, torch.Tensor]) -> Scores:
    """Mask criteria of Zhou, Lan, Liu & Yosinski (NeurIPS 2019, "Deconstructing Lottery Tickets", Figure 2)
    from the initial weights w_i (``initial``, θ0) and trained ones w_f (``final``), for the prunable weights
    of ``model``; keep the highest, per layer as the paper: ``large_final`` |w_f| (Frankle & Carbin's),
    ``magnitude_increase`` |w_f| − |w_i|, ``movement`` |w_f − w_i|, ``large_init_large_final`` the smaller
    of the within-layer ranks (0 to 1) of |w_i| and |w_f| (large at both ends: the paper's quadrant)."""
    _check_choice(criterion, MASK_CRITERIA, "criterion")
    out = {}
    for key, w in prunable_parameters(model).items():
        for name, state in (("initial", initial), ("final", final)):
            if key not in state or tuple(state[key].shape) != tuple(w.shape):
                raise ValueError(f"{name} weights do not fit the model at {key!r} (shape {tuple(w.shape)})")
        out[key] = _CRITERIA[criterion](initial[key].detach(), final[key].detach())
    return out


def prune_at_init(method: str, model: nn.Module, density: float, *,
                  batch: tuple[torch.Tensor, torch.Tensor] | None = None, input_shape: Sequence[int] | None = None,
                  scope: str = "global", rounds: int = 100, temperature: float = 1.0) -> Mask:
    """The mask of pruning-at-initialisation ``method`` (``snip``, ``grasp``, ``synflow`` or ``magnitude``)
    keeping ``density`` of the prunable weights of ``model`` at its current weights (θ0), each the way its
    paper ranks: SNIP and SynFlow keep the highest scores, GraSP the lowest, SynFlow in ``rounds`` rounds.
    SNIP and GraSP score the minibatch ``batch = (x, y)``; SynFlow needs only ``input_shape`` (default: the
    batch's). ``scope="global"`` lets each method choose its own per-layer densities (as the papers do)."""
    _check_choice(method, PRUNE_AT_INIT, "method")
    _check_density(density)
    if method == "magnitude":
        return mask_from_scores(magnitude_scores(model), density, scope=scope)
    if method == "synflow":
        if input_shape is None and batch is None:
            raise ValueError("synflow needs input_shape (or a batch to read it from)")
        shape = tuple(input_shape) if input_shape is not None else tuple(batch[0].shape[1:])
        return synflow_mask(model, shape, density, rounds=rounds, scope=scope)
    if batch is None:
        raise ValueError(f"{method} scores a minibatch: pass batch=(x, y) of training data")
    if method == "snip":
        return mask_from_scores(snip_scores(model, *batch), density, scope=scope)
    return mask_from_scores(grasp_scores(model, *batch, temperature=temperature), density, scope=scope, keep="lowest")
