"""Running training steps, eagerly or replayed from a CUDA graph (an engineering detail, no paper section).

On a GPU a LeNet-300-100 step is a few dozen tiny kernels, and launching them one by one from
Python costs far more than running them (about 1 ms a step on an H200, the same as a bare PyTorch
loop). A CUDA graph records the whole step once, forward, backward, mask and optimiser, and then
replays it with a single launch (``torch.cuda.CUDAGraph``, PyTorch's "whole-network capture").
The arithmetic is the same as the eager step's; only the launching changes.

:func:`step_runner` hides the difference from the training loop, which describes one step as a
function of the batch's index tensor and calls ``run(i)`` for iteration ``i``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

WARMUP_STEPS = 3  # eager steps on a side stream before capture, as PyTorch's CUDA-graph notes ask

Step = Callable[[torch.Tensor], torch.Tensor]


def use_cuda_graph(requested: bool | None, device: torch.device, iterations: int) -> bool:
    """``requested`` if given (``True`` on a non-CUDA device is an error); by default, CUDA graphs
    on a CUDA device whenever the run is longer than the warm-up."""
    if requested and device.type != "cuda":
        raise ValueError(f"cuda_graph=True needs a CUDA device, but the data is on {device}")
    if requested is None:
        return device.type == "cuda" and iterations > WARMUP_STEPS + 1
    return bool(requested)


def step_runner(step: Step, order: torch.Tensor, *, graph: bool) -> Callable[[int], torch.Tensor]:
    """``run(i)`` performs ``step(order[i])`` and returns its loss tensor, on the device.

    With ``graph=True`` the first :data:`WARMUP_STEPS` calls run eagerly on a side stream, the next
    one records ``step`` into a CUDA graph, and every call from then on copies ``order[i]`` into the
    graph's index buffer and replays it. The returned loss is then the graph's own output tensor,
    overwritten by the next replay: copy it before the next call. ``step`` must not synchronise
    with the host, and an optimiser it steps must be ``capturable`` (see ``make_optimizer``).
    """
    if not graph:
        return lambda i: step(order[i])
    return _GraphedStep(step, order)


class _GraphedStep:
    def __init__(self, step: Step, order: torch.Tensor):
        self.step, self.order = step, order
        self.warmups = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.index: torch.Tensor | None = None
        self.loss: torch.Tensor | None = None

    def __call__(self, i: int) -> torch.Tensor:
        if self.graph is None and self.warmups < WARMUP_STEPS:
            self.warmups += 1
            side = torch.cuda.Stream(self.order.device)
            side.wait_stream(torch.cuda.current_stream(self.order.device))
            with torch.cuda.stream(side):
                loss = self.step(self.order[i])
            torch.cuda.current_stream(self.order.device).wait_stream(side)
            return loss
        if self.graph is None:
            self.index = self.order[i].clone()
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):  # records the step; nothing runs until replay
                self.loss = self.step(self.index)
        else:
            self.index.copy_(self.order[i])
        self.graph.replay()
        return self.loss
