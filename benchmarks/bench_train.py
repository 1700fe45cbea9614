#!/usr/bin/env python
"""Training-speed benchmark for lottery_core (a measurement, not a test: it always exits 0).

In one run, on the same data and iterations, it times LeNet-300-100 trained by

* ``train``: :func:`lottery_core.train` with a real 50%-magnitude-pruned mask, evaluating the
  validation and test splits every 100 iterations;
* the reference loop: the pattern of common public lottery-ticket code, a ``torch.utils.data.Dataset``
  of uint8 28x28 images converted and normalised per example (ToTensor + Normalize), a shuffling
  ``DataLoader`` of batch 60, the mask multiplied into the weights after every optimiser step, and
  evaluation of the validation and test splits through ``DataLoader``s every 100 iterations, and
  ``torch.optim.Adam`` with torch's defaults;
* the bare loop: the same model and ``torch.optim.Adam`` as plain PyTorch code creates it, tensor
  indexing by the same batch order, no mask, no evaluation (the floor a reader's own loop sets);
  a second bare loop takes ``train``'s fused Adam kernel (the floor of the steps alone);
* S networks: ``train_batched`` against S sequential ``train`` runs.

Run ``python benchmarks/bench_train.py --help`` for the options; benchmarks/README.md explains the rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.data

import lottery_core as lc
from lottery_core.training import batch_order, make_optimizer

LR = 1.2e-3  # Frankle & Carbin (2019), Figure 2: LeNet-300-100 with Adam
BATCH_SIZE = 60
EVAL_EVERY = 100
EVAL_BATCH_SIZE = 1000  # the reference loop's evaluation DataLoader
PRUNE_RATE = 0.5
MODEL = "lenet_300_100"
PAPER_ITERATIONS = 50_000  # the lenet_mnist_paper preset
MNIST_SIZES = (55_000, 5_000, 10_000)  # train / validation / test, as MNIST with 5K held out

BARE = "bare loop"
BARE_FUSED = "bare loop, fused Adam"
MNIST1D = "MNIST-1D (40)"
MNIST_SHAPED = "MNIST-shaped (28x28)"


# --------------------------------------------------------------------------- data


@dataclass
class ImageSplits:
    """uint8 images (N, 28, 28) and int64 labels of each split, on the CPU (the reference loop's input)."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    mean: float
    std: float


def synthetic_mnist(seed: int = 0) -> ImageSplits:
    """MNIST-shaped synthetic data: 55,000 / 5,000 / 10,000 uint8 28x28 images of 10 classes.

    Each class has a fixed template of bright strokes on a dark background; an example is its
    class template at a random brightness plus noise, clipped to [0, 255], so the task is learnable
    and, like MNIST, most pixels are 0.
    """
    gen = torch.Generator().manual_seed(seed)
    templates = (torch.rand(10, 28, 28, generator=gen) > 0.8).float() * 255.0
    splits = []
    for n in MNIST_SIZES:
        labels = torch.randint(0, 10, (n,), generator=gen)
        brightness = torch.empty(n, 1, 1).uniform_(0.5, 1.0, generator=gen)
        noise = torch.randn(n, 28, 28, generator=gen) * 60.0
        images = (templates[labels] * brightness + noise).clamp_(0, 255).round_().to(torch.uint8)
        splits.append((images, labels))
    train_images = splits[0][0].float().div_(255.0)
    return ImageSplits(*splits, mean=float(train_images.mean()), std=float(train_images.std()))


def as_lottery_dataset(images: ImageSplits, device: torch.device) -> lc.Dataset:
    """The same images as a lottery_core Dataset: float (N, 1, 28, 28), normalised, on ``device``."""

    def floats(x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).float().div_(255.0).sub_(images.mean).div_(images.std).to(device)

    return lc.Dataset(
        name="mnist_shaped_synthetic",
        x_train=floats(images.train[0]), y_train=images.train[1].to(device),
        x_val=floats(images.val[0]), y_val=images.val[1].to(device),
        x_test=floats(images.test[0]), y_test=images.test[1].to(device),
        num_classes=10,
    )


class UInt8ImageDataset(torch.utils.data.Dataset):
    """A torchvision-style dataset: uint8 images stored as they are, converted per example.

    ``__getitem__`` does what ``ToTensor()`` followed by ``Normalize(mean, std)`` does to a 28x28
    grey image (float in [0, 1], shape (1, 28, 28), then standardised), written with tensor
    operations; ``pil=True`` goes through PIL and torchvision's transforms exactly as
    ``torchvision.datasets.MNIST`` does (several times slower per example).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: float, std: float, pil: bool = False):
        self.images, self.labels = images, labels
        self.mean, self.std = mean, std
        self.transform = None
        if pil:
            import torchvision.transforms as T

            self.arrays = images.numpy()
            self.transform = T.Compose([T.ToTensor(), T.Normalize((mean,), (std,))])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = int(self.labels[index])
        if self.transform is not None:
            from PIL import Image

            return self.transform(Image.fromarray(self.arrays[index], mode="L")), label
        x = self.images[index].unsqueeze(0).float().div_(255.0)
        return x.sub_(self.mean).div_(self.std), label


# --------------------------------------------------------------------------- the variants


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], object]) -> float:
    """Wall-clock seconds of ``fn()``; on a GPU, queued work is finished before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def fresh_model(data: lc.Dataset, seed: int = 0) -> torch.nn.Module:
    return lc.build_model(MODEL, data.input_shape, data.num_classes, seed=seed)


def pruned_mask(data: lc.Dataset, seed: int = 0) -> lc.Mask:
    """A real mask: 50% of every layer's weights removed by magnitude (at initialisation)."""
    model = fresh_model(data, seed)
    return lc.magnitude_prune(model, lc.Mask.ones_like(model), PRUNE_RATE)


def time_train(data: lc.Dataset, mask: lc.Mask, iterations: int, eval_every: int = EVAL_EVERY,
               cuda_graph: bool | None = None) -> float:
    model = fresh_model(data).to(data.device)
    return timed(data.device, lambda: lc.train(
        model, data, mask=mask, iterations=iterations, batch_size=BATCH_SIZE, lr=LR,
        eval_every=eval_every, seed=0, progress=False, cuda_graph=cuda_graph,
    ))


def plain_adam(model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam as plain PyTorch code creates it: ``torch.optim.Adam(model.parameters(), lr)``, torch's defaults."""
    return torch.optim.Adam(model.parameters(), lr=LR)


def time_bare(data: lc.Dataset, iterations: int, fused: bool = False) -> float:
    """The floor: the same batches, no mask, no evaluation. ``fused=True`` takes ``train``'s optimiser
    (``make_optimizer``: Adam's fused kernel); otherwise plain ``torch.optim.Adam``."""
    model = fresh_model(data).to(data.device)

    def loop() -> None:
        opt = make_optimizer("adam", model.parameters(), LR) if fused else plain_adam(model)
        order = batch_order(0, len(data.x_train), BATCH_SIZE, iterations, data.device)
        model.train()
        for step in range(iterations):
            idx = order[step]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return timed(data.device, loop)


def time_reference(images: ImageSplits, data: lc.Dataset, mask: lc.Mask, iterations: int, pil: bool) -> float:
    """The common public loop: per-example transforms, DataLoader, mask after every step."""
    device = data.device
    model = fresh_model(data).to(device)

    def evaluate(loader: torch.utils.data.DataLoader) -> tuple[float, float]:
        model.eval()
        total_loss, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                total_loss += F.cross_entropy(logits, y, reduction="sum").item()
                correct += (logits.argmax(1) == y).sum().item()
                count += len(y)
        model.train()
        return total_loss / count, correct / count

    def loop() -> None:
        def dataset(split: tuple[torch.Tensor, torch.Tensor]) -> UInt8ImageDataset:
            return UInt8ImageDataset(*split, images.mean, images.std, pil=pil)

        train_loader = torch.utils.data.DataLoader(dataset(images.train), batch_size=BATCH_SIZE, shuffle=True,
                                                   num_workers=0)
        val_loader = torch.utils.data.DataLoader(dataset(images.val), batch_size=EVAL_BATCH_SIZE, num_workers=0)
        test_loader = torch.utils.data.DataLoader(dataset(images.test), batch_size=EVAL_BATCH_SIZE, num_workers=0)
        params = lc.prunable_parameters(model)
        masks = [(params[k], m.to(device=device, dtype=params[k].dtype)) for k, m in mask.items()]
        with torch.no_grad():
            for p, m in masks:
                p.mul_(m)
        opt = plain_adam(model)
        model.train()
        step = 0
        while step < iterations:
            for x, y in train_loader:
                x, y = x.to(device), y.to(device)
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    for p, m in masks:
                        p.mul_(m)
                step += 1
                if step % EVAL_EVERY == 0 or step == iterations:
                    evaluate(val_loader)
                    evaluate(test_loader)
                if step == iterations:
                    break

    return timed(device, loop)


def time_sequential(data: lc.Dataset, masks: list[lc.Mask], iterations: int) -> float:
    models = [fresh_model(data, seed).to(data.device) for seed in range(len(masks))]

    def runs() -> None:
        for seed, (model, mask) in enumerate(zip(models, masks)):
            lc.train(model, data, mask=mask, iterations=iterations, batch_size=BATCH_SIZE, lr=LR,
                     eval_every=EVAL_EVERY, seed=seed, progress=False)

    return timed(data.device, runs)


def time_batched(data: lc.Dataset, masks: list[lc.Mask], iterations: int) -> float:
    models = [fresh_model(data, seed).to(data.device) for seed in range(len(masks))]
    return timed(data.device, lambda: lc.train_batched(
        models, data, masks=masks, seeds=list(range(len(masks))), iterations=iterations,
        batch_size=BATCH_SIZE, lr=LR, eval_every=EVAL_EVERY, progress=False,
    ))


# --------------------------------------------------------------------------- the run


@dataclass
class Variant:
    key: str
    label: str
    data: str
    networks: int
    run: Callable[[int], float]  # iterations -> seconds
    times: list[float] | None = None

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


@dataclass
class Check:
    name: str
    value: float
    target: str
    passed: bool | None  # None: no target, reported for information

    @property
    def verdict(self) -> str:
        return "—" if self.passed is None else ("PASS" if self.passed else "FAIL")


def machine_info(device: torch.device) -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    usable = usable_cores()
    info = [
        ("CPU", f"{cpu}, {usable} usable cores ({os.cpu_count()} online), torch threads {torch.get_num_threads()}"),
        ("Software", f"Python {platform.python_version()}, torch {torch.__version__}, {platform.system()} "
                     f"{platform.release()}"),
    ]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.append(("Device", f"{torch.cuda.get_device_name(device)} ({props.total_memory / 2**30:.0f} GiB), "
                               f"CUDA {torch.version.cuda}"))
    else:
        info.append(("Device", "cpu"))
    return info


def load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_summary(seconds: float, before: float | None, after: float | None) -> tuple[str, str]:
    text = f"{seconds:.0f} s in all"
    if before is not None and after is not None:
        text += f"; load average {before:.1f} before, {after:.1f} after"
        # this benchmark keeps about one core busy; much more load means other processes shared the CPU
        if max(before, after) > usable_cores() + 0.5:
            text += " (other processes were using the CPU: timings are noisy)"
    return "Run", text


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=str(lc.default_device()),
                        help="cpu, cuda, cuda:1, ... (default: cuda if available, else cpu)")
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"training iterations of every variant (default 2000; {PAPER_ITERATIONS} with "
                             f"--paper-scale)")
    parser.add_argument("--paper-scale", action="store_true",
                        help="the lenet_mnist_paper shape for GPUs: 784 inputs, 50,000 iterations, batch 60; times "
                             "train, the bare loop and train_batched on the MNIST-shaped data only")
    parser.add_argument("--networks", type=int, default=8,
                        help="S, the networks trained batched and sequentially (default 8)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs of every variant, interleaved; the table shows the best (default 2, which "
                             "keeps a CPU run near 2 minutes; 1 with --paper-scale)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="iterations of the untimed warm-up run of each variant (default 200)")
    parser.add_argument("--pil", action="store_true",
                        help="the reference loop converts every example through PIL and torchvision's ToTensor and "
                             "Normalize, as torchvision.datasets.MNIST does (much slower; default: the same "
                             "conversion with tensor operations)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, usually one per core)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown (for the README)")
    args = parser.parse_args(argv)
    if args.iterations is None:
        args.iterations = PAPER_ITERATIONS if args.paper_scale else 2000
    if args.repeats is None:
        args.repeats = 1 if args.paper_scale else 2
    for name in ("iterations", "networks", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def build_variants(args: argparse.Namespace, device: torch.device) -> list[Variant]:
    log("building data ...")
    images = synthetic_mnist()
    mnist = as_lottery_dataset(images, device)
    mnist_mask = pruned_mask(mnist)
    s = args.networks
    if args.paper_scale:
        masks = [pruned_mask(mnist, seed) for seed in range(s)]
        return [
            Variant("train", "train (masked)", MNIST_SHAPED, 1, lambda n: time_train(mnist, mnist_mask, n)),
            Variant("train_eager", "train (masked), cuda_graph=False", MNIST_SHAPED, 1,
                    lambda n: time_train(mnist, mnist_mask, n, cuda_graph=False)),
            Variant("bare_fused", BARE_FUSED, MNIST_SHAPED, 1, lambda n: time_bare(mnist, n, fused=True)),
            Variant("batched", f"train_batched, S={s} (masked)", MNIST_SHAPED, s,
                    lambda n: time_batched(mnist, masks, n)),
        ]
    oned = lc.load_dataset("mnist1d", device=device)
    oned_mask = pruned_mask(oned)
    oned_masks = [pruned_mask(oned, seed) for seed in range(s)]
    reference = "reference loop, PIL (masked)" if args.pil else "reference loop (masked)"
    return [
        Variant("train_1d", "train (masked)", MNIST1D, 1, lambda n: time_train(oned, oned_mask, n)),
        Variant("bare_1d", BARE, MNIST1D, 1, lambda n: time_bare(oned, n)),
        Variant("bare_1d_fused", BARE_FUSED, MNIST1D, 1, lambda n: time_bare(oned, n, fused=True)),
        Variant("sequential", f"{s} x sequential train (masked)", MNIST1D, s,
                lambda n: time_sequential(oned, oned_masks, n)),
        Variant("batched", f"train_batched, S={s} (masked)", MNIST1D, s, lambda n: time_batched(oned, oned_masks, n)),
        Variant("train", "train (masked)", MNIST_SHAPED, 1, lambda n: time_train(mnist, mnist_mask, n)),
        Variant("train_end", "train (masked), evaluation at the end only", MNIST_SHAPED, 1,
                lambda n: time_train(mnist, mnist_mask, n, eval_every=n)),
        Variant("reference", reference, MNIST_SHAPED, 1,
                lambda n: time_reference(images, mnist, mnist_mask, n, args.pil)),
        Variant("bare", BARE, MNIST_SHAPED, 1, lambda n: time_bare(mnist, n)),
        Variant("bare_fused", BARE_FUSED, MNIST_SHAPED, 1, lambda n: time_bare(mnist, n, fused=True)),
    ]


def checks(args: argparse.Namespace, v: dict[str, Variant]) -> list[Check]:
    if args.paper_scale:
        s = args.networks
        return [
            # the target is for a full run; a shorter one is reported without a verdict
            Check(f"one train run, {args.iterations:,} iterations (s)", v["train"].best,
                  f"< 60 s for {PAPER_ITERATIONS:,} iterations on an H100-class GPU",
                  v["train"].best < 60 if args.iterations == PAPER_ITERATIONS else None),
            Check(f"train_batched S={s} / one train", v["batched"].best / v["train"].best, "< 2",
                  v["batched"].best / v["train"].best < 2),
            Check(f"train / {BARE_FUSED}", v["train"].best / v["bare_fused"].best, "(for information)", None),
            Check("train with cuda_graph=False / train", v["train_eager"].best / v["train"].best,
                  "(for information)", None),
        ]
    s = args.networks
    evaluation = v["train"].best - v["train_end"].best  # the 20 evaluations, the only work the floor skips
    out = [
        Check(f"reference loop / train, {MNIST_SHAPED}", v["reference"].best / v["train"].best, ">= 3",
              v["reference"].best / v["train"].best >= 3),
        Check(f"train / {BARE}, {MNIST1D}", v["train_1d"].best / v["bare_1d"].best, "<= 1.25",
              v["train_1d"].best / v["bare_1d"].best <= 1.25),
        Check(f"train / {BARE}, {MNIST_SHAPED}", v["train"].best / v["bare"].best, "<= 1.25",
              v["train"].best / v["bare"].best <= 1.25),
        Check(f"{s} sequential / {s} batched, {MNIST1D}", v["sequential"].best / v["batched"].best, ">= 2",
              v["sequential"].best / v["batched"].best >= 2),
        Check(f"train / {BARE_FUSED}, {MNIST1D}", v["train_1d"].best / v["bare_1d_fused"].best,
              "(for information)", None),
        Check(f"train / {BARE_FUSED}, {MNIST_SHAPED}", v["train"].best / v["bare_fused"].best,
              "(for information)", None),
        Check(f"train, evaluation at the end only / {BARE_FUSED}, {MNIST_SHAPED}",
              v["train_end"].best / v["bare_fused"].best, "(for information)", None),
        Check(f"evaluations alone (train minus the row above) / {BARE_FUSED}, {MNIST_SHAPED}",
              evaluation / v["bare_fused"].best, "(for information)", None),
    ]
    return out


def render(args: argparse.Namespace, device: torch.device, variants: list[Variant], results: list[Check],
           run_info: list[tuple[str, str]]) -> str:
    stat = f"best of {args.repeats}"
    head = ["variant", "data", "networks", "iterations", f"seconds ({stat})", "median s", "ms / iteration"]
    rows = [[x.label, x.data, str(x.networks), f"{args.iterations:,}", f"{x.best:.2f}", f"{x.median:.2f}",
             f"{1e3 * x.best / args.iterations:.3f}"] for x in variants]
    check_head = ["ratio", "value", "target", "result"]
    check_rows = [[c.name, f"{c.value:.2f}", c.target, c.verdict] for c in results]
    machine = machine_info(device) + run_info
    setting = "paper scale (lenet_mnist_paper shape)" if args.paper_scale else "targets set for a 2-core CPU"
    title = (f"LeNet-300-100, Adam lr {LR}, batch {BATCH_SIZE}, evaluation every {EVAL_EVERY} iterations, "
             f"mask {PRUNE_RATE:.0%} pruned; device {device}; {setting}")
    lines = []
    if args.markdown:
        lines += [title, ""]
        lines += [f"- {k}: {val}" for k, val in machine]
        lines += ["", *markdown_table(head, rows), "", *markdown_table(check_head, check_rows)]
    else:
        lines += [title]
        lines += [f"{k}: {val}" for k, val in machine]
        lines += ["", *text_table(head, rows), "", *text_table(check_head, check_rows)]
    missed = [c.name for c in results if c.passed is False]
    lines += ["", f"targets missed: {', '.join(missed)}" if missed else "all targets met"]
    return "\n".join(lines)


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def text_table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*head), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and not torch.cuda.is_available():
        log("CUDA is not available; use --device cpu")
        return 2
    started, load_before = time.perf_counter(), load_average()
    variants = build_variants(args, device)
    warmup = min(args.warmup, args.iterations)
    if warmup:
        for x in variants:
            log(f"warm-up: {x.label}, {x.data}, {warmup} iterations")
            x.run(warmup)
    for x in variants:
        x.times = []
    for r in range(args.repeats):  # interleaved, so a slow spell of the machine touches every variant alike
        for x in variants:
            seconds = x.run(args.iterations)
            x.times.append(seconds)
            log(f"repeat {r + 1}/{args.repeats}: {x.label}, {x.data}: {seconds:.2f} s")
    run_info = [run_summary(time.perf_counter() - started, load_before, load_average())]
    print(render(args, device, variants, checks(args, {x.key: x for x in variants}), run_info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
