"""Many networks at once: S independent masked networks trained in one pass with ``torch.func``.

The paper averages five trials and trains controls at every density. Small networks leave most of
a CPU or GPU idle per step, so their parameters are stacked (``stack_module_state``) and one
``vmap``-ed ``functional_call`` runs all S forward and backward passes together. The loss is the
sum of the per-network mean losses, so each network receives exactly its own gradient, and Adam
is elementwise, so one optimiser over the stacked tensors is S independent optimisers. Each
network keeps its own data order (``batch_order(seed)``, as :func:`~lottery_core.train` uses) and
its own exact mask. Evaluation and early stopping are :class:`~lottery_core.training.Recorder`'s,
shared with :func:`~lottery_core.train`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import Dataset
from .masks import Mask, prunable_parameters
from .models import LeNet
from .steps import step_runner, use_cuda_graph
from .training import History, Recorder, batch_order, make_optimizer


def train_batched(
    models: Sequence[nn.Module],
    data: Dataset,
    *,
    masks: Sequence[Mask | None] | None = None,
    seeds: Sequence[int],
    iterations: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    eval_every: int = 100,
    snapshot_at: Iterable[int] = (),
    progress: bool = True,
    start_iteration: int = 0,
    cuda_graph: bool | None = None,
) -> list[History]:
    """Train every model of ``models`` (same architecture) as :func:`~lottery_core.train` would
    train it alone with ``seeds[i]`` and ``masks[i]``; the models are updated in place.

    Returns one :class:`~lottery_core.History` per model. Results match separate ``train`` runs up
    to floating-point summation order. ``cuda_graph`` as for :func:`~lottery_core.train`.
    """
    n = len(models)
    if n == 0:
        raise ValueError("train_batched needs at least one model")
    if len(seeds) != n:
        raise ValueError(f"got {n} models but {len(seeds)} seeds")
    masks = list(masks) if masks is not None else [None] * n
    if len(masks) != n:
        raise ValueError(f"got {n} models but {len(masks)} masks")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    device = data.device
    graph = use_cuda_graph(cuda_graph, device, iterations)
    for model, mask in zip(models, masks):
        model.to(device)
        if mask is not None:
            mask.apply(model)

    params, buffers = stack_module_state(list(models))
    forward_each, forward_shared = _stacked_forwards(models[0])

    prunable = prunable_parameters(models[0])
    stacked_masks = []
    if any(m is not None for m in masks):
        for key in prunable:
            ones = torch.ones_like(prunable[key], dtype=torch.bool)
            stacked = torch.stack([(m[key] if m is not None else ones).to(device) for m in masks])
            stacked_masks.append((params[key], stacked.to(params[key].dtype)))

    opt = make_optimizer(optimizer, params.values(), lr, capturable=graph)
    total = start_iteration + iterations
    orders = torch.stack([batch_order(s, len(data.x_train), batch_size, total)[start_iteration:] for s in seeds], 1)
    orders = orders.to(device)  # (iterations, networks, batch)
    step_losses = torch.empty(n, iterations, device=device)

    def evaluate_forward(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return forward_shared(params, buffers, x)

    recorder = Recorder(data, evaluate_forward, eval_every, start_iteration, iterations, step_losses, progress)
    wanted = {int(i) for i in snapshot_at}
    snapshots: list[dict[int, dict]] = [{} for _ in range(n)]
    def one_step(idx: torch.Tensor) -> torch.Tensor:
        """One step of every network; ``idx`` (networks, batch) holds each network's own batch."""
        logits = forward_each(params, buffers, data.x_train[idx])
        targets = data.y_train[idx]
        losses = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(n, -1).mean(1)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        for p, m in stacked_masks:
            p.grad.mul_(m)
        opt.step()
        return losses.detach()

    run_step = step_runner(one_step, orders, graph=graph)
    for step in range(iterations):
        if start_iteration + step in wanted:
            _snapshot_all(params, buffers, snapshots, start_iteration + step)
        step_losses[:, step] = run_step(step)
        if recorder.due(step):
            recorder.evaluate(step)
    if total in wanted:
        _snapshot_all(params, buffers, snapshots, total)
    with torch.no_grad():
        for i, model in enumerate(models):
            own = {k: v[i] for k, v in params.items()} | {k: v[i] for k, v in buffers.items()}
            model.load_state_dict(own, strict=False)
    return recorder.histories(snapshots)


def _stacked_forwards(model: nn.Module):
    """Forward functions over stacked parameters: (params, buffers, x) -> logits (S, N, classes).

    ``forward_each`` takes one batch per network (S, N, ...), ``forward_shared`` one batch for all
    (N, ...). A LeNet runs as batched matrix products (``baddbmm``), the fastest form on a CPU;
    any other network through ``vmap(functional_call)``.
    """
    if isinstance(model, LeNet):
        linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]

        def mlp(p, b, x):
            h = x.flatten(x.ndim - len(model.input_shape))
            if h.ndim == 2:  # shared inputs: broadcast over the networks
                h = h.expand(p[f"{linears[0]}.weight"].shape[0], *h.shape)
            for i, name in enumerate(linears):
                h = torch.baddbmm(p[f"{name}.bias"].unsqueeze(1), h, p[f"{name}.weight"].transpose(1, 2))
                if i < len(linears) - 1:
                    h = torch.relu(h)
            return h

        return mlp, mlp

    base = copy.deepcopy(model).to("meta")

    def call(p, b, x):
        return functional_call(base, (p, b), (x,))

    return vmap(call), vmap(call, in_dims=(0, 0, None))


def _snapshot_all(params: dict, buffers: dict, snapshots: list[dict[int, dict]], iteration: int) -> None:
    for i, snaps in enumerate(snapshots):
        snaps[iteration] = {k: v[i].detach().clone() for k, v in (params | buffers).items()}
