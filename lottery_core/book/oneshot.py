"""One-shot pruning: prune a trained network once (Frankle & Carbin 2019, Section 2 and Figure 4).

Two uses. Without retraining (chapter 2): how much accuracy a trained network keeps when its smallest
weights are removed, against random masks of the same per-layer sizes and against global pruning at the
same overall density. With retraining from θ0 (chapter 3): the one-shot counterpart of an iterative
ticket, pruned in one step to exactly the iterative mask's per-layer counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext

import pandas as pd
import torch
from torch import nn

from ..arms import Arm, train_together
from ..data import Dataset, load_dataset
from ..masks import Mask
from ..pruning import layer_rates_for, magnitude_prune, random_prune
from ..results import ImpResult
from ..training import loss_and_accuracy
from .progress import progress_block

State = Mapping[str, torch.Tensor]


def prune_trained(model: nn.Module, state: State, rate: float, *, output_rate: float | None = None,
                  scope: str = "layerwise") -> Mask:
    """The magnitude mask of the trained weights ``state`` after removing ``rate`` of each hidden layer
    and ``output_rate`` (default ``rate / 2``, as the paper) of the output layer; with
    ``scope="global"`` ``rate`` of all prunable weights ranked together. ``model`` is only a container."""
    model.load_state_dict(dict(state))
    dense = Mask.ones_like(model)
    if scope == "global":
        return magnitude_prune(model, dense, rate, scope="global")
    rates = layer_rates_for(model, rate, rate / 2 if output_rate is None else output_rate)
    return magnitude_prune(model, dense, rate, layer_rates=rates)


def matching_mask(model: nn.Module, state: State, target: Mask) -> Mask:
    """The one-shot magnitude mask of ``state`` that keeps exactly as many weights in every layer as
    ``target`` (e.g. an iterative ticket's mask): the largest |w| of each layer, in one step."""
    model.load_state_dict(dict(state))
    sizes, counts = target.sizes(), target.counts()
    rates = {k: (sizes[k] - counts[k]) / sizes[k] for k in sizes}
    first = next(iter(rates.values()))
    return magnitude_prune(model, Mask.ones_like(model), first, layer_rates=rates)


@torch.no_grad()
def masked_accuracy(model: nn.Module, state: State, mask: Mask, data: Dataset) -> dict[str, float]:
    """Validation and test accuracy of the trained ``state`` with the weights outside ``mask`` set to
    zero, with no retraining."""
    model.load_state_dict(dict(state))
    mask.apply(model)
    model.to(data.device).eval()
    _, val = loss_and_accuracy(model(data.x_val), data.y_val)
    _, test = loss_and_accuracy(model(data.x_test), data.y_test)
    return {"val_acc": val.item(), "test_acc": test.item()}


def removed_norm_share(state: State, mask: Mask) -> float:
    """Share of the squared norm Σw² of the prunable weights that ``mask`` removes."""
    total = sum(state[k].double().pow(2).sum().item() for k in mask)
    kept = sum(state[k].double()[mask[k].to(state[k].device)].pow(2).sum().item() for k in mask)
    return 1.0 - kept / total


def one_shot_sweep(model: nn.Module, states: Mapping[int, State], rates: Sequence[float], data: Dataset, *,
                   random_draws: int = 3, with_global: bool = True) -> pd.DataFrame:
    """Prune every trained state (seed -> weights) once at every rate, without retraining.

    One row per seed, rate, arm and draw: ``magnitude`` (layer-wise, the output layer at half rate),
    ``random`` (``random_draws`` random masks with the magnitude mask's per-layer counts) and, with
    ``with_global``, ``global`` (magnitude pruning over all layers at the same overall density).
    Columns: ``seed, rate, arm, draw, density, val_acc, test_acc, norm_removed`` and the layer densities.
    """
    rows = []
    for seed, state in states.items():
        for i, rate in enumerate(rates):
            magnitude = prune_trained(model, state, rate)
            masks = [("magnitude", 0, magnitude)]
            masks += [("random", d, random_prune(magnitude, seed=10_000 * seed + 100 * i + d))
                      for d in range(random_draws)]
            if with_global:
                masks.append(("global", 0, prune_trained(model, state, 1 - magnitude.density(), scope="global")))
            for arm, draw, mask in masks:
                rows.append({"seed": seed, "rate": rate, "arm": arm, "draw": draw, "density": mask.density(),
                             **masked_accuracy(model, state, mask, data),
                             "norm_removed": removed_norm_share(state, mask), **mask.layer_densities()})
    return pd.DataFrame(rows)


def train_one_shot(result: ImpResult, rounds: Iterable[int], *, data: Dataset | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """One-shot tickets beside an iterative run: for each round in ``rounds`` and each seed, prune the
    seed's trained dense network (round 0) once to the per-layer counts of that round's iterative mask,
    rewind the survivors to the run's start (θ0, or θk), and train with the ticket's schedule and data
    order. All networks train together (``progress``: a bar while they train, then one line). Returns
    tidy rows like ``ImpResult.to_long_frame()`` with ``arm="one_shot"`` and the one-shot mask's own
    ``density``."""
    config = result.config
    if data is None:
        data = load_dataset(config.dataset, seed=config.data_seed, num_samples=config.num_samples)
    rounds = sorted({int(r) for r in rounds})
    bad = [r for r in rounds if not 1 <= r < result.num_rounds]
    if bad:
        raise ValueError(f"rounds {bad} are not pruned rounds of this run (1 to {result.num_rounds - 1})")
    keys = [(r, s) for r in rounds for s in result.seeds]
    masks = [matching_mask(result.network(data, s), result.trained_state(0, s), result.mask(r, s)) for r, s in keys]
    arms = [Arm(s, "one_shot", result.rewind_state(s), mask) for (_, s), mask in zip(keys, masks)]
    with progress_block(len(keys), unit="network", desc="one-shot pruning") if progress else nullcontext() as block:
        _, histories = train_together(result, data, arms, result.rewind_iteration)
        if block is not None:
            block.advance(len(keys))
            block.log(f"trained {len(keys)} one-shot tickets ({len(rounds)} densities x {len(result.seeds)} seeds) "
                      f"together in {time.perf_counter() - block.started:.0f} s")
    return pd.DataFrame([
        {"seed": s, "round": r, "density": mask.density(), "arm": "one_shot",
         "final_test_acc": h.final_test_acc, "early_stop_iteration": h.early_stop_iteration,
         "early_stop_test_acc": h.early_stop_test_acc, "early_stop_val_acc": h.early_stop_val_acc}
        for (r, s), mask, h in zip(keys, masks, histories)
    ])
