"""Where is training unstable? The error barrier against the rewind iteration k on MNIST-1D (CPU).

Instability analysis (Frankle, Dziugaite, Roy & Carbin 2020): two copies of θk train with different
minibatch orders; the error barrier is the largest test error on the straight line between them
minus the mean of the two ends' errors. This script measures it for the dense network and, with
``--mask-rounds R``, for the IMP ticket of round R (rewound to θ0, one mask used at every k; with
``--rewind-masks``, the ticket of IMP rewound to each k, as the paper measures it, beside the test
accuracy that IMP run reaches), and prints the mean barrier per k with its 95% Student-t interval
over seeds and the wall time.

    python scripts/stability_exploration.py                                  # the book preset, dense
    python scripts/stability_exploration.py --mask-rounds 7                  # and the 21% ticket
    python scripts/stability_exploration.py --optimizer sgd_momentum --lr 0.1 --ks 0
    python scripts/stability_exploration.py --lr 0.01 --mask-rounds 7 --rewind-masks --seeds 0 1 2 --ks 0 100 1000
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

import lottery_core as lc


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (density, k): mean barrier with its 95% t interval over seeds, the mean end accuracy, the share of
    seeds under the paper's 2% and the mean test accuracy of the IMP run behind the mask (where known)."""
    rows = []
    for (density, k), group in frame.groupby(["density", "k"]):
        iv = lc.paired_interval(group["barrier"].tolist())
        rows.append({"density": density, "k": k, "n": len(group), "barrier": iv["mean"], "low": iv["low"],
                     "high": iv["high"], "end_acc": (group["acc_a"] + group["acc_b"]).mean() / 2,
                     "stable_share": (group["barrier"] < lc.STABLE_THRESHOLD).mean(),
                     "imp_acc": group["imp_test_acc"].mean() if "imp_test_acc" in group else float("nan")})
    return pd.DataFrame(rows)


def imp_masks(config: lc.ExperimentConfig, data: lc.Dataset, args: argparse.Namespace) -> tuple[dict, pd.DataFrame]:
    """The IMP ticket masks of round ``args.mask_rounds`` (by seed, or by (seed, k) with ``--rewind-masks``) and
    the final test accuracy of each ticket and of its dense network."""
    masks, rows = {}, []
    for k in (args.ks if args.rewind_masks else [0]):
        started = time.perf_counter()
        result = lc.run_imp(config, rounds=args.mask_rounds, rewind_iteration=k, seeds=args.seeds, data=data,
                            cache_dir=args.cache_dir, verbose=False)
        print(f"IMP to round {args.mask_rounds}, rewinding to {k}: {time.perf_counter() - started:.0f} s")
        for s in args.seeds:
            masks[(s, k) if args.rewind_masks else s] = result.mask(args.mask_rounds, s)
            rows.append({"seed": s, "k": k, "imp_test_acc": result.history(args.mask_rounds, seed=s).final_test_acc,
                         "dense_test_acc": result.history(0, seed=s).final_test_acc})
    return masks, pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--optimizer", default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--num-samples", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--ks", type=int, nargs="+", default=list(lc.stability.DEFAULT_REWIND_ITERATIONS))
    parser.add_argument("--mask-rounds", type=int, default=0, help="also the IMP ticket of this round (0: dense only)")
    parser.add_argument("--rewind-masks", action="store_true", help="one IMP run rewound to each k (mask per k)")
    parser.add_argument("--cache-dir", default="/tmp/stability_cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = lc.get_preset(args.preset, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                           iterations=args.iterations, num_samples=args.num_samples)
    print(config)
    data = lc.load_dataset(config.dataset, seed=config.data_seed, num_samples=config.num_samples)
    masks: list[dict | None] = [None]
    accuracies = pd.DataFrame(columns=["seed", "k"])
    if args.mask_rounds:
        ticket_masks, accuracies = imp_masks(config, data, args)
        masks.append(ticket_masks)
    frames = []
    for mask in masks:
        started = time.perf_counter()
        frames.append(lc.instability_curve(config, rewind_iterations=args.ks, seeds=args.seeds, masks=mask, data=data))
        print(f"barriers ({'dense' if mask is None else 'ticket'}): {time.perf_counter() - started:.0f} s")
    frame = pd.concat(frames, ignore_index=True)
    if len(frames) > 1:  # the ticket rows get the accuracy of the IMP run their mask comes from
        ticket = frames[1].merge(accuracies, on=["seed", "k"], how="left")
        frame = pd.concat([frames[0], ticket], ignore_index=True)
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(frame.to_string(index=False))
        print(summary(frame).to_string(index=False))


if __name__ == "__main__":
    main()
