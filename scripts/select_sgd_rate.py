"""Choose chapter 7's high SGD learning rate on validation data, and record the choice.

Liu et al. (ICLR 2019, "Rethinking the Value of Network Pruning") train with SGD at the large rate
usually used, a rate at which the dense network trains well. Chapter 7 needs that rate for the book's
LeNet-300-100 on MNIST-1D. This script trains the dense network (book preset, 3,000 iterations, batch
60) with SGD and momentum 0.9 at every rate of a small grid, for seeds 0 to 4, and reads only the
validation split. The rule, fixed before the run: the high rate is the LARGEST rate of the grid whose
mean validation accuracy at early stopping (minimum validation loss) is within 2 percentage points of
the best rate's. The preset's Adam at 1.2e-3 is trained beside it for reference (not a candidate).

    PYTHONPATH=. python scripts/select_sgd_rate.py --out benchmarks/results/cpu_sgd_rate_selection.md
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from pathlib import Path

import torch

import lottery_core as lc

GRID = (0.01, 0.03, 0.1, 0.3)
WITHIN = 0.02  # the rule: within 2 points of the best rate's mean validation accuracy


def dense_val_acc(config: lc.ExperimentConfig, data: lc.Dataset, seeds: list[int]) -> list[float] | None:
    """Validation accuracy at early stopping of the dense network per seed; None when training diverged."""
    models = [lc.build_model(config.model, data.input_shape, data.num_classes, seed=s) for s in seeds]
    try:
        histories = lc.train_batched(models, data, seeds=seeds, iterations=config.iterations,
                                     batch_size=config.batch_size, lr=config.lr, optimizer=config.optimizer,
                                     eval_every=config.eval_every, progress=False)
    except ValueError:  # a non-finite loss
        return None
    return [h.early_stop_val_acc for h in histories]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    book = lc.get_preset("book")
    data = lc.load_dataset(book.dataset, seed=book.data_seed, num_samples=book.num_samples)
    started, rows = time.perf_counter(), []
    for optimizer, lr in [("adam", book.lr)] + [("sgd_momentum", lr) for lr in GRID]:
        accs = dense_val_acc(lc.get_preset("book", optimizer=optimizer, lr=lr), data, seeds)
        rows.append((optimizer, lr, accs))
        print(optimizer, lr, accs, flush=True)
    means = {lr: statistics.mean(a) for o, lr, a in rows if o == "sgd_momentum" and a is not None}
    best = max(means.values())
    chosen = max(lr for lr, m in means.items() if m >= best - WITHIN)
    lines = ["# Chapter 7's high SGD rate, chosen on validation data (recorded run)", "",
             f"Recorded on {datetime.date.today()} on a 2-core CPU shared with other jobs; "
             f"Python {platform.python_version()}, torch {torch.__version__}; {time.perf_counter() - started:.0f} s.",
             "", "Command: `PYTHONPATH=. python scripts/select_sgd_rate.py --out "
             "benchmarks/results/cpu_sgd_rate_selection.md`", "",
             f"Dense LeNet-300-100 on MNIST-1D (book preset: {book.iterations} iterations, batch {book.batch_size}), "
             f"seeds {', '.join(map(str, seeds))}; validation accuracy at early stopping (minimum validation loss). "
             "The test split is not read.", "",
             "Rule, fixed before the run: the largest SGD rate (momentum 0.9) of the grid whose mean validation "
             f"accuracy is within {100 * WITHIN:.0f} points of the best rate's.", "",
             "| optimizer | lr | mean val acc (%) | min (%) | max (%) |", "| --- | --- | --- | --- | --- |"]
    for optimizer, lr, accs in rows:
        cells = ("diverged", "", "") if accs is None else (
            f"{100 * statistics.mean(accs):.1f}", f"{100 * min(accs):.1f}", f"{100 * max(accs):.1f}")
        lines.append(f"| {optimizer} | {lr:g} | " + " | ".join(cells) + " |")
    lines += ["", f"Chosen: SGD with momentum 0.9 at {chosen:g}."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
