"""Training with masks (Frankle & Carbin 2019, Section 2 and Figure 2): one network, or many at once.

The whole dataset lives as tensors on the training device; a batch is a row of a precomputed
index table, so a step makes no host-device copy and no synchronisation. One loop trains S
networks: :func:`train` is its one-network case, and :func:`train_batched` stacks S networks of
one architecture (``torch.func.stack_module_state``) so that one pass runs all S forward and
backward passes. The paper averages five trials and trains controls at every density; small
networks leave most of a CPU or GPU idle per step, so stacking them is much faster. The loss is
the sum of the per-network mean losses, so each network receives exactly its own gradient, and
Adam is elementwise, so one optimiser over the stacked tensors is S independent optimisers. Each
network keeps its own data order (``batch_order(seed)``) and its own exact mask.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.func import functional_call, stack_module_state, vmap

from .cuda_graph import step_runner, use_cuda_graph
from .data import Dataset
from .history import History, Recorder
from .history import loss_and_accuracy as loss_and_accuracy  # also importable from here, as chapter 2 does
from .masks import Mask
from .rewind import snapshot

OPTIMIZERS = ("adam", "sgd", "sgd_momentum")
CHAIN_LAYERS = (nn.Flatten, nn.Linear, nn.ReLU)  # a network made of these alone trains as batched matrix products
State = dict[str, torch.Tensor]


def make_optimizer(name: str, params: Iterable[torch.Tensor], lr: float, *,
                   capturable: bool = False) -> torch.optim.Optimizer:
    """``adam`` (the paper's choice for LeNet and Conv-2/4/6), ``sgd`` or ``sgd_momentum`` (0.9).

    ``capturable=True`` keeps Adam's step counter on the device, so its step can be recorded in a
    CUDA graph (SGD needs nothing)."""
    params = list(params)
    if name == "adam":
        # the fused kernel (CPU and CUDA) is the fastest; the arithmetic is Adam's either way
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.Adam(params, lr=lr, fused=fused or None, capturable=capturable)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}")


def batch_order(seed: int, num_examples: int, batch_size: int, iterations: int,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """Indices of the training examples of every batch, shape (iterations, batch_size).

    Reshuffled every epoch from ``seed``; batches run across epoch boundaries, so every batch is full.
    Iteration ``i`` of any run with the same seed uses row ``i``: a run rewound to iteration k
    continues with the data the original run saw after k.
    """
    if batch_size < 1 or batch_size > num_examples:
        raise ValueError(f"batch_size must be in [1, {num_examples}], got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    epochs = math.ceil(iterations * batch_size / num_examples)
    order = torch.cat([torch.randperm(num_examples, generator=gen) for _ in range(max(epochs, 1))])
    return order[: iterations * batch_size].view(iterations, batch_size).to(device)


class _One:
    """One network as itself: its own parameters, forward pass and mean loss (what :func:`train` runs)."""

    def __init__(self, model: nn.Module):
        self.model = model.train()
        self.params = dict(model.named_parameters())

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the batch ``x`` (B, ...), a scalar."""
        return F.cross_entropy(self.model(x), y)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        out = self.model(x)
        self.model.train()
        return out.unsqueeze(0)

    def state(self, i: int) -> State:
        return snapshot(self.model)

    def finish(self) -> None:
        """Nothing to do: the model trained in place."""


class _Stacked:
    """S networks of one architecture, their parameters stacked along a new first axis."""

    def __init__(self, models: Sequence[nn.Module]):
        self.models = models
        self.params, self.buffers = stack_module_state(list(models))
        self.each, self.shared = _stacked_forwards(models[0])

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each network's mean cross-entropy on its own batch: ``x`` (S, B, ...) -> (S,)."""
        logits = self.each(self.params, self.buffers, x)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(len(x), -1).mean(1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.shared(self.params, self.buffers, x)

    def state(self, i: int) -> State:
        return {k: v[i].detach().clone() for k, v in (self.params | self.buffers).items()}

    @torch.no_grad()
    def finish(self) -> None:
        """Copy each network's trained weights back into its model."""
        for i, model in enumerate(self.models):
            model.load_state_dict(self.state(i), strict=False)


def _stacked_forwards(model: nn.Module) -> tuple[Callable, Callable]:
    """Forward functions over stacked parameters: (params, buffers, x) -> logits (S, N, classes).

    The first takes one batch per network (S, N, ...), the second one batch for all (N, ...). A
    network whose forward pass is a chain of Flatten, Linear and ReLU layers (LeNet) runs as
    batched matrix products (``baddbmm``), the fastest form on a CPU; any other through
    ``vmap(functional_call)``.
    """
    chain = _layer_chain(model)
    if chain is not None:
        return (lambda p, b, x: _run_chain(chain, p, x)), (lambda p, b, x: _run_chain(chain, p, x, shared=True))
    training = copy.deepcopy(model).to("meta").train()  # batch statistics, running ones updated (BatchNorm)
    evaluating = copy.deepcopy(training).eval()  # running statistics, as _One evaluates

    def train_call(p, b, x):
        return functional_call(training, (p, b), (x,))

    def eval_call(p, b, x):
        return functional_call(evaluating, (p, b), (x,))

    return vmap(train_call), vmap(eval_call, in_dims=(0, 0, None))


def _layer_chain(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """(name, layer) of each layer when ``model``'s traced forward pass (``torch.fx``) applies
    Flatten, Linear and ReLU layers one after the other to its input; otherwise ``None``."""
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception:  # a forward pass tracing cannot follow is not a plain chain
        return None
    modules = dict(model.named_modules())
    chain: list[tuple[str, nn.Module]] = []
    last = None
    for node in graph.nodes:
        if node.op == "output":
            return chain if chain and node.args == (last,) else None
        if node.op == "placeholder" and last is None:
            last = node
            continue
        layer = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(layer, CHAIN_LAYERS) or node.args != (last,) or node.kwargs:
            return None
        chain.append((node.target, layer))
        last = node
    return None


def _run_chain(chain: list[tuple[str, nn.Module]], p: State, h: torch.Tensor, shared: bool = False) -> torch.Tensor:
    """The layers of ``chain`` over stacked weights ``p``; ``shared``: ``h`` is one batch for all networks."""
    for name, layer in chain:
        if isinstance(layer, nn.Linear):
            if shared:
                h, shared = h.expand(len(p[f"{name}.weight"]), *h.shape), False
            w = p[f"{name}.weight"].transpose(1, 2)
            h = torch.bmm(h, w) if layer.bias is None else torch.baddbmm(p[f"{name}.bias"].unsqueeze(1), h, w)
        elif isinstance(layer, nn.Flatten):  # its dimensions count within one network's batch
            start, end = (d + (d >= 0 and not shared) for d in (layer.start_dim, layer.end_dim))
            h = h.flatten(start, end)
        else:
            h = torch.relu(h)
    return h


def _gradient_masks(params: State, masks: Sequence[Mask | None]) -> list:
    """(parameter, float mask of its shape) of every masked parameter; none when nothing is pruned.
    Float masks: multiplying a float gradient by a bool tensor is several times slower."""
    given = [m for m in masks if m is not None]
    if not given:
        return []
    if any(set(m) != set(given[0]) for m in given):
        raise ValueError("the masks of networks trained together must cover the same parameters")
    pairs = []
    for key in given[0]:
        p = params[key]
        ones = torch.ones_like(given[0][key])  # a network without a mask keeps every weight
        keep = torch.stack([(m[key] if m is not None else ones).to(p.device) for m in masks])
        pairs.append((p, keep.view(p.shape).to(p.dtype)))
    return pairs


OptimizerFn = Callable[[list[torch.Tensor]], torch.optim.Optimizer]
SchedulerFn = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


@dataclass(frozen=True)
class Schedule:
    """How :func:`train` and :func:`train_batched` train (their keyword arguments, documented there)."""

    iterations: int
    batch_size: int
    lr: float
    optimizer: str = "adam"
    eval_every: int = 100
    snapshot_at: tuple[int, ...] = ()
    progress: bool = True
    start_iteration: int = 0
    cuda_graph: bool | None = None
    optimizer_fn: OptimizerFn | None = None
    scheduler_fn: SchedulerFn | None = None

    def stepper(self, params: Iterable[torch.Tensor], pairs: list, graph: bool) -> tuple[torch.optim.Optimizer,
                                                                                        Callable[[], None]]:
        """The optimiser and its step. A factory's optimiser (``optimizer_fn``) may move a pruned weight or
        its state (weight decay, a custom rule): the step zeroes them again, and steps the scheduler."""
        params = list(params)
        if self.optimizer_fn is None:
            opt = make_optimizer(self.optimizer, params, self.lr, capturable=graph)
        else:
            opt = self.optimizer_fn(params)
        scheduler = self.scheduler_fn(opt) if self.scheduler_fn is not None else None

        def step() -> None:
            opt.step()
            if self.optimizer_fn is not None:
                _zero_pruned(opt, pairs)
            if scheduler is not None:
                scheduler.step()

        return opt, step

    def graph(self, device: torch.device) -> bool:
        """Whether the step runs from a CUDA graph (never with a factory's optimiser or a scheduler)."""
        custom = self.optimizer_fn is not None or self.scheduler_fn is not None
        if custom and self.cuda_graph:
            raise ValueError("cuda_graph=True needs the built-in optimizers: a scheduler or an optimizer_fn "
                             "changes the step between replays")
        return use_cuda_graph(False if custom else self.cuda_graph, device, self.iterations)


@torch.no_grad()
def _zero_pruned(opt: torch.optim.Optimizer, pairs: list) -> None:
    """Zero the pruned entries of every masked weight and of each optimiser-state tensor of its shape."""
    for p, keep in pairs:
        p.mul_(keep)
        for value in opt.state.get(p, {}).values():
            if torch.is_tensor(value) and value.shape == p.shape:
                value.mul_(keep)


def _stackable(model: nn.Module, data: Dataset) -> bool:
    """Whether S copies of ``model`` train stacked: a Linear/ReLU chain, or a forward pass that
    ``vmap`` accepts (a BatchNorm layer updating its running statistics, or dropout, does not)."""
    if _layer_chain(model) is not None:
        return True
    params, buffers = stack_module_state([model, model])
    each, _ = _stacked_forwards(model)
    try:
        with torch.no_grad():
            each({k: v.to(data.device) for k, v in params.items()}, {k: v.to(data.device) for k, v in buffers.items()},
                 data.x_train[:2].expand(2, *data.x_train[:2].shape))
    except Exception:  # any refusal of vmap: train the networks one at a time
        return False
    return True


def _fit(models: Sequence[nn.Module], masks: Sequence[Mask | None], seeds: Sequence[int], data: Dataset,
         stacked: bool, how: Schedule) -> list[History]:
    """The training loop of :func:`train` and :func:`train_batched` (one network, or S stacked)."""
    if how.iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {how.iterations}")
    device, iterations, start_iteration = data.device, how.iterations, how.start_iteration
    graph = how.graph(device)
    for model, mask in zip(models, masks):
        model.to(device)
        if mask is not None:
            mask.apply(model)
    nets = _Stacked(models) if stacked else _One(models[0])
    pairs = _gradient_masks(nets.params, masks)
    opt, opt_step = how.stepper(nets.params.values(), pairs, graph)
    total = start_iteration + iterations
    orders = torch.stack([batch_order(s, len(data.x_train), how.batch_size, total)[start_iteration:] for s in seeds], 1)
    orders = orders if stacked else orders[:, 0]  # one network: its own batch, its loss a scalar
    dtype = next(iter(nets.params.values())).dtype
    step_losses = torch.empty(len(seeds), iterations, device=device, dtype=dtype)
    recorder = Recorder(data, nets.logits, how.eval_every, start_iteration, iterations, step_losses, how.progress)
    ones = torch.ones(len(seeds) if stacked else (), device=device, dtype=dtype)  # d(sum of losses) / d(each)

    def one_step(idx: torch.Tensor) -> torch.Tensor:
        """One optimiser step of every network on its own batch (row of ``idx``); pruned weights get no gradient."""
        losses = nets.losses(data.x_train[idx], data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        losses.backward(ones)
        for p, keep in pairs:
            p.grad.mul_(keep)
        opt_step()
        return losses.detach()

    run_step = step_runner(one_step, orders.to(device), graph=graph)
    wanted = {int(i) for i in how.snapshot_at}
    snapshots: list[dict[int, State]] = [{} for _ in seeds]
    for step in range(iterations + 1):
        if start_iteration + step in wanted:
            for i, snaps in enumerate(snapshots):
                snaps[start_iteration + step] = nets.state(i)
        if step < iterations:
            step_losses[:, step] = run_step(step)
            if recorder.due(step):
                recorder.evaluate(step)
    nets.finish()
    return recorder.histories(snapshots)


def _fit_alone(model: nn.Module, mask: Mask | None, seed: int, data: Dataset, how: Schedule) -> History:
    """One network. Its random layers (dropout) draw from ``seed`` through PyTorch's global generator
    (restored afterwards), so it trains the same alone as in a batch trained one network at a time."""
    with torch.random.fork_rng(devices=[data.device] if data.device.type == "cuda" else []):
        torch.manual_seed(seed)
        return _fit([model], [mask], [seed], data, False, how)[0]


def train(model: nn.Module, data: Dataset, *, mask: Mask | None = None, iterations: int, batch_size: int, lr: float,
          optimizer: str = "adam", eval_every: int = 100, seed: int = 0, snapshot_at: Iterable[int] = (),
          progress: bool = True, start_iteration: int = 0, cuda_graph: bool | None = None,
          optimizer_fn: OptimizerFn | None = None, scheduler_fn: SchedulerFn | None = None) -> History:
    """Train ``model`` in place on ``data`` with the pruned weights held at exactly zero.

    The mask zeroes pruned weights once, then every gradient of a pruned weight before each
    optimiser step, so neither the weights nor the optimiser state (Adam's moments) ever become
    non-zero. ``seed`` fixes the data order. ``snapshot_at`` lists iterations (0 = before training,
    ``iterations`` = the end) whose weights are kept in ``History.snapshots``. ``start_iteration``
    numbers the run from k and continues the seed's data order from there (rewinding to θk).
    A non-finite loss raises ``ValueError`` naming the iteration. On a CUDA device the step is
    replayed from a CUDA graph unless ``cuda_graph=False`` (see :mod:`lottery_core.cuda_graph`).

    Random layers (dropout) draw from ``seed`` too. ``optimizer_fn(params) -> torch.optim.Optimizer``
    replaces ``optimizer`` and ``lr`` (e.g. ``lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1e-2)``);
    after each of its steps the pruned weights and their optimiser state are zeroed again.
    ``scheduler_fn(optimizer) -> LRScheduler`` adds a learning-rate schedule, stepped once per iteration.
    """
    how = Schedule(iterations, batch_size, lr, optimizer, eval_every, tuple(snapshot_at), progress, start_iteration,
                   cuda_graph, optimizer_fn, scheduler_fn)
    return _fit_alone(model, mask, seed, data, how)


def train_batched(models: Sequence[nn.Module], data: Dataset, *, masks: Sequence[Mask | None] | None = None,
                  seeds: Sequence[int], iterations: int, batch_size: int, lr: float, optimizer: str = "adam",
                  eval_every: int = 100, snapshot_at: Iterable[int] = (), progress: bool = True,
                  start_iteration: int = 0, cuda_graph: bool | None = None, optimizer_fn: OptimizerFn | None = None,
                  scheduler_fn: SchedulerFn | None = None) -> list[History]:
    """Train every model of ``models`` (same architecture) as :func:`train` would train it alone
    with ``seeds[i]`` and ``masks[i]``, all in one stacked run; the models are updated in place.

    Returns one :class:`~lottery_core.History` per model. Results match separate ``train`` runs up
    to floating-point summation order. ``cuda_graph``, ``optimizer_fn`` and ``scheduler_fn`` as for
    :func:`train`; stacked, an ``optimizer_fn``'s optimiser sees the S networks' weights as one
    tensor each, so its rule must act elementwise (Adam, AdamW, SGD with momentum or weight decay).
    A model that ``vmap`` cannot stack (BatchNorm running statistics, dropout) trains one network at
    a time, with the same results.
    """
    n = len(models)
    masks = list(masks) if masks is not None else [None] * n
    if n == 0:
        raise ValueError("train_batched needs at least one model")
    if len(seeds) != n or len(masks) != n:
        raise ValueError(f"got {n} models but {len(seeds)} seeds and {len(masks)} masks")
    how = Schedule(iterations, batch_size, lr, optimizer, eval_every, tuple(snapshot_at), progress, start_iteration,
                   cuda_graph, optimizer_fn, scheduler_fn)
    if not _stackable(models[0], data):
        return [_fit_alone(m, k, s, data, how) for m, k, s in zip(models, masks, seeds)]
    return _fit(models, masks, seeds, data, True, how)
