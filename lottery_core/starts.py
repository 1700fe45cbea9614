"""Named starts: the initial weights a network under a ticket's mask trains from, one registry with labels.

A review of Frankle & Carbin (2019) reads their Appendix F.5 (ticket weights move further) through
Glorot's rule: a subnetwork keeping a fraction d of a layer's weights "should" start 1/sqrt(d) larger.
The starts change the ticket's θ0 (or θk) one property at a time, or replace it (the paper's controls):

- ``ticket``: θ0 itself; ``ticket_scaled_<alpha>``: every layer times (1/sqrt(d))**alpha, d its density
  (``ticket_scaled_1`` is the review's proposal);
- ``ticket_random_signs``: |θ0| with a fair random sign per kept weight; ``ticket_shuffled``: the layer's
  kept θ0 values at random kept positions (a draw from the ticket's own distribution, Appendix F.3);
- the controls, :data:`CONTROLS`: ``reinit`` (the mask, fresh weights from the network's own
  initialiser; Section 2), ``random_prune`` (a random mask of the same per-layer counts on θ0;
  Section 4), ``reinit_layer_scaled`` (reinit times 1/sqrt(d)), ``reinit_neuron_scaled`` (each weight
  at its sparse-aware Glorot std from its neurons' fan-in and fan-out under the mask; Evci et al. 2022),
  ``sign_constant`` (θ0's signs, one magnitude per layer: its Glorot std times 1/sqrt(d)) and
  ``sign_shuffle`` (θ0's signs, the layer's kept magnitudes shuffled; both Zhou et al. 2019);
- ``ticket_he_sparse``: θ0 rescaled per layer from Glorot's dense std to He's std for the layer's kept
  fan-in (He et al. 2015), the ReLU-correct form of the 1/sqrt(d) argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from .masks import Mask
from .pruning import random_prune
from .rewind import Init, reinitialize, snapshot
from .scale import sparse_glorot_std, xavier_std

State = dict[str, torch.Tensor]
# (scratch model, ticket start, ticket mask, seed, init) -> (initial state, mask); ``init`` as for ``reinitialize``
StartFn = Callable[[nn.Module, Mapping[str, torch.Tensor], Mask, int, Init], tuple[State, Mask]]
SCALED_PREFIX = "ticket_scaled_"


def _glorot_std(w: torch.Tensor) -> float:
    return xavier_std(*nn.init._calculate_fan_in_and_fan_out(w))


def _per_layer(start: Mapping[str, torch.Tensor], mask: Mask,
               fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> State:
    """A copy of ``start`` with every masked layer replaced by ``fn(weights, keep, density)``."""
    state, densities = {k: v.clone() for k, v in start.items()}, mask.layer_densities()
    for key, keep in mask.items():
        state[key] = fn(state[key], keep.to(state[key].device), densities[key])
    return state


def _permuted(start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
              fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> State:
    """A copy of ``start`` whose kept weights of each layer become ``fn(kept, a random permutation)``."""
    gen = torch.Generator().manual_seed(seed)

    def permute(w: torch.Tensor, keep: torch.Tensor, _: float) -> torch.Tensor:
        out, kept = torch.zeros_like(w), w[keep]
        out[keep] = fn(kept, torch.randperm(kept.numel(), generator=gen).to(w.device))
        return out
    return _per_layer(start, mask, permute)


def scaled_ticket(start: Mapping[str, torch.Tensor], mask: Mask, alpha: float) -> State:
    """θ0 with every masked layer multiplied by (1/sqrt(d))**alpha, d its density; pruned weights zero."""
    return _per_layer(start, mask, lambda w, keep, d: w * (d ** (-alpha / 2) if d > 0 else 0.0) * keep)


def random_signs(start: Mapping[str, torch.Tensor], mask: Mask, seed: int) -> State:
    """|θ0| of the kept weights, each with a fair random sign (the magnitudes without the signs)."""
    gen = torch.Generator().manual_seed(seed)
    return _per_layer(start, mask,
                      lambda w, keep, d: w.abs() * (torch.randint(0, 2, w.shape, generator=gen).to(w) * 2 - 1) * keep)


def shuffled_positions(start: Mapping[str, torch.Tensor], mask: Mask, seed: int) -> State:
    """Each layer's kept θ0 values, signs included, permuted among the kept positions (Appendix F.3)."""
    return _permuted(start, mask, seed, lambda kept, perm: kept[perm])


def _reinit(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
            init: Init = None) -> tuple[State, Mask]:
    model.load_state_dict(dict(start))
    reinitialize(model, mask, seed=seed, init=init)
    return snapshot(model), mask


def _random_prune(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                  init: Init = None) -> tuple[State, Mask]:
    new = random_prune(mask, seed=seed)
    model.load_state_dict(dict(start))
    new.apply(model)
    return snapshot(model), new


def _layer_scaled(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                  init: Init = None) -> tuple[State, Mask]:
    state, _ = _reinit(model, start, mask, seed, init)
    return _per_layer(state, mask, lambda w, keep, d: w / math.sqrt(d) if d > 0 else w), mask


def _neuron_scaled(model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, seed: int,
                   init: Init = None) -> tuple[State, Mask]:
    state, _ = _reinit(model, start, mask, seed, "glorot")  # fresh N(0, dense std²) draws, each rescaled below
    return _per_layer(state, mask, lambda w, keep, d: w * (sparse_glorot_std(keep).to(w.device) / _glorot_std(w))), mask


def sign_constant(start: Mapping[str, torch.Tensor], mask: Mask, seed: int) -> State:
    """θ0's signs with one magnitude per layer, its Glorot std times 1/sqrt(d) (Zhou et al. 2019)."""
    return _per_layer(start, mask,
                      lambda w, keep, d: torch.sign(w) * (_glorot_std(w) / math.sqrt(max(d, 1e-12))) * keep)


def sign_shuffle(start: Mapping[str, torch.Tensor], mask: Mask, seed: int) -> State:
    """θ0's signs with the layer's kept magnitudes shuffled among its kept weights (Zhou et al. 2019)."""
    return _permuted(start, mask, seed, lambda kept, perm: torch.sign(kept) * kept.abs()[perm])


def he_sparse_ticket(start: Mapping[str, torch.Tensor], mask: Mask, seed: int = 0) -> State:
    """θ0 with every masked layer rescaled from Glorot's dense std to He's for its kept fan-in,
    sqrt(2 / (d · fan_in)) (He et al. 2015, Section 2.2, with d the layer's density); pruned weights zero."""
    def rescale(w: torch.Tensor, keep: torch.Tensor, d: float) -> torch.Tensor:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(w)
        he = nn.init.calculate_gain("relu") / math.sqrt(max(d, 1e-12) * fan_in)
        return w * (he / _glorot_std(w)) * keep
    return _per_layer(start, mask, rescale)


def _ticket_variant(fn: Callable[[Mapping[str, torch.Tensor], Mask, int], State]) -> StartFn:
    return lambda model, start, mask, seed, init=None: (fn(start, mask, seed), mask)


STARTS: dict[str, tuple[str, StartFn]] = {  # name -> (label for figures and tables, start function)
    "ticket": ("winning ticket (rewound to θ0)", _ticket_variant(lambda start, mask, _: scaled_ticket(start, mask, 0))),
    "ticket_random_signs": ("ticket |θ0|, random signs", _ticket_variant(random_signs)),
    "ticket_shuffled": ("ticket θ0 values, shuffled positions", _ticket_variant(shuffled_positions)),
    "ticket_he_sparse": ("ticket at He's sparse scale", _ticket_variant(he_sparse_ticket)),
    "reinit": ("random reinitialisation", _reinit),
    "random_prune": ("random pruning", _random_prune),
    "reinit_layer_scaled": ("reinit × 1/√d per layer", _layer_scaled),
    "reinit_neuron_scaled": ("reinit, per-neuron sparse Glorot", _neuron_scaled),
    "sign_constant": ("ticket signs, constant magnitude", _ticket_variant(sign_constant)),
    "sign_shuffle": ("ticket signs, shuffled magnitudes", _ticket_variant(sign_shuffle)),
}
TICKET_ARMS = ("ticket", "ticket_random_signs", "ticket_shuffled", "ticket_he_sparse")
CONTROLS = tuple(name for name in STARTS if name not in TICKET_ARMS)  # the controls run_imp trains beside a ticket
ARM_LABELS = {name: label for name, (label, _) in STARTS.items()}


def scaled_arm(alpha: float) -> str:
    """The name of the ticket scaled by (1/sqrt(d))**alpha, e.g. ``ticket_scaled_0.5``."""
    return f"{SCALED_PREFIX}{alpha:g}"


def arm_alpha(name: str) -> float | None:
    """The exponent alpha of a ``ticket_scaled_<alpha>`` name (0 for ``ticket``), else None."""
    if name == "ticket":
        return 0.0
    return float(name[len(SCALED_PREFIX):]) if name.startswith(SCALED_PREFIX) else None


def arm_label(name: str) -> str:
    """A figure and table label for a named start."""
    alpha = arm_alpha(name)
    if alpha is not None and name != "ticket":
        power = {0.5: "½", 1.0: ""}.get(alpha, f"^{alpha:g}")
        return f"ticket × (1/√d){power}" if power else "ticket × 1/√d"
    return ARM_LABELS.get(name, name)


def _known(name: str) -> bool:
    try:
        return name in STARTS or math.isfinite(arm_alpha(name) if name.startswith(SCALED_PREFIX) else math.nan)
    except ValueError:
        return False


def check_arms(names: str | Sequence[str] | None, *, controls_only: bool = False) -> list[str]:
    """``names`` (one name, several, or ``None`` for none) as a list; a name that is no start (no
    control, with ``controls_only``) is a ``ValueError`` that lists the valid ones."""
    names = [names] if isinstance(names, str) else list(names or [])
    kind, valid = ("control", CONTROLS) if controls_only else (
        "arm", [*TICKET_ARMS, f"{SCALED_PREFIX}<alpha>", *CONTROLS])
    for name in names:
        if not (name in CONTROLS if controls_only else _known(name)):
            raise ValueError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(valid)}")
    return names


def arm_init(name: str, model: nn.Module, start: Mapping[str, torch.Tensor], mask: Mask, *,
             seed: int, init: Init = None) -> tuple[State, Mask]:
    """Initial state and mask of the start ``name`` for a ticket starting from ``start`` (θ0 or θk)
    under ``mask``. ``model`` is scratch space and is overwritten; ``seed`` fixes the start's random
    draw; ``init``: how the reinitialising controls draw fresh weights (see :func:`~lottery_core.reinitialize`)."""
    check_arms(name)
    alpha = arm_alpha(name)
    if name not in STARTS:
        return scaled_ticket(start, mask, alpha), mask
    return STARTS[name][1](model, start, mask, seed, init)
