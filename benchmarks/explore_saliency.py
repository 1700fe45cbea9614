#!/usr/bin/env python
"""Exploration (an experiment, not a test): pruning at initialisation against IMP on the book preset.

On LeNet-300-100 / MNIST-1D (``get_preset("book")``), for each seed, at the densities of IMP rounds 7 and 12
(about 21% and 7%), every mask below is trained from θ0 and so is the same mask shuffled within each layer
(``random_prune``: same per-layer counts, random positions), the sanity check of Frankle, Dziugaite, Roy &
Carbin (ICLR 2021):

- IMP's ticket (``run_imp``; its ``random_prune`` control is its shuffle);
- SNIP, GraSP (temperature 1, and 200 as the authors' code), SynFlow (100 rounds), magnitude at θ0: global
  scope, so each method picks its own per-layer densities;
- Zhou et al.'s ``large_final`` (one-shot magnitude of the dense θT) and ``magnitude_increase``, at the IMP
  ticket's per-layer densities.

SNIP and GraSP score one minibatch of the first ``--batch`` training examples. It prints, per density and method,
the mean early-stop test accuracy over seeds with its 95% t interval, the shuffled mask's, the paired difference
mask − shuffle, and the supermask accuracy (masked θ0, no training). ``--csv`` writes every run.
Single-threaded; about 25 minutes on a loaded 2-core machine with the defaults.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

import lottery_core as lc
from lottery_core.book.oneshot import masked_accuracy

ROUNDS = (7, 12)  # IMP densities ~21.6% and ~7.4% with the book's 20% / 10% (output) per round


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=None, help="default: the preset's")
    parser.add_argument("--batch", type=int, default=100, help="examples SNIP and GraSP score")
    parser.add_argument("--cache", default="/tmp/lottery_saliency_cache", help="IMP run cache folder")
    parser.add_argument("--csv", default=None, help="write every run's numbers here")
    return parser.parse_args()


def method_masks(model, theta0, trained, ticket: lc.Mask, batch) -> dict[str, lc.Mask]:
    """Every compared mask at the ticket's overall density (Zhou's criteria at its per-layer densities)."""
    model.load_state_dict(theta0)
    density, layers = ticket.density(), ticket.layer_densities()
    masks = {name: lc.prune_at_init(name, model, density, batch=batch) for name in ("snip", "synflow", "magnitude")}
    masks["grasp"] = lc.prune_at_init("grasp", model, density, batch=batch)
    masks["grasp_T200"] = lc.prune_at_init("grasp", model, density, batch=batch, temperature=200.0)
    for criterion in ("large_final", "magnitude_increase"):
        scores = lc.trained_scores(criterion, model, theta0, trained)
        masks[criterion] = lc.mask_from_scores(scores, layers, scope="layerwise")
    return masks


def train_group(config, data, seed: int, theta0, masks: dict[str, lc.Mask], iterations: int) -> list[dict]:
    """Each mask and its layer-wise shuffle trained from θ0 with the seed's data order, in one batched run."""
    arms = [(name, variant, mask if variant == "mask" else lc.random_prune(mask, seed=10_000 + seed))
            for name, mask in masks.items() for variant in ("mask", "shuffled")]
    models = []
    for _, _, mask in arms:
        model = lc.build_model(config.model, data.input_shape, data.num_classes, seed=seed)
        models.append(lc.rewind(model, theta0, mask))
    scratch = lc.build_model(config.model, data.input_shape, data.num_classes, seed=seed)
    supermask = [masked_accuracy(scratch, theta0, mask, data)["test_acc"] for _, _, mask in arms]
    histories = lc.train_batched(models, data, masks=[m for _, _, m in arms], seeds=[seed] * len(arms),
                                 iterations=iterations, batch_size=config.batch_size, lr=config.lr,
                                 eval_every=config.eval_every, progress=False)
    return [{"method": name, "variant": variant, "density": mask.density(), "supermask_test_acc": sm,
             "early_stop_test_acc": h.early_stop_test_acc, "final_test_acc": h.final_test_acc,
             **{f"density_{k}": v for k, v in mask.layer_densities().items()}}
            for (name, variant, mask), sm, h in zip(arms, supermask, histories)]


def imp_rows(imp: lc.ImpResult, data) -> list[dict]:
    rows = []
    for record in imp.rounds:
        if record.round not in ROUNDS:
            continue
        mask = imp.mask(record.round, record.seed)
        scratch = lc.build_model(imp.config.model, data.input_shape, data.num_classes, seed=record.seed)
        sm = masked_accuracy(scratch, imp.initial_state(record.seed), mask, data)["test_acc"]
        shuffle = record.controls["random_prune"]
        base = {"seed": record.seed, "round": record.round, "method": "imp", "density": record.density}
        rows.append({**base, "variant": "mask", "supermask_test_acc": sm, "early_stop_test_acc":
                     record.early_stop_test_acc, "final_test_acc": record.final_test_acc,
                     **{f"density_{k}": v for k, v in mask.layer_densities().items()}})
        rows.append({**base, "variant": "shuffled", "early_stop_test_acc": shuffle["early_stop_test_acc"],
                     "final_test_acc": shuffle["final_test_acc"]})
    return rows


def summary(frame: pd.DataFrame, metric: str = "early_stop_test_acc") -> pd.DataFrame:
    out = []
    for (rnd, method), group in frame.groupby(["round", "method"], sort=False):
        wide = group.pivot_table(index="seed", columns="variant", values=metric)
        sm = group[group.variant == "mask"].groupby("seed")["supermask_test_acc"].mean()
        cells = {"mask": lc.paired_interval(wide["mask"]), "shuffled": lc.paired_interval(wide["shuffled"]),
                 "mask - shuffled": lc.paired_interval(wide["mask"], wide["shuffled"]),
                 "supermask": lc.paired_interval(sm)}
        row = {"round": rnd, "density": group[group.variant == "mask"].density.mean(), "method": method}
        row.update({k: f"{100 * v['mean']:.1f} [{100 * v['low']:.1f}, {100 * v['high']:.1f}]"
                    for k, v in cells.items()})
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    args = parse()
    torch.set_num_threads(1)
    start = time.time()
    config = lc.get_preset("book", iterations=args.iterations)
    data = lc.load_dataset(config.dataset, seed=config.data_seed, num_samples=config.num_samples)
    seeds = list(range(args.seeds))
    imp = lc.run_imp(config, rounds=max(ROUNDS), seeds=seeds, control="random_prune", control_rounds=ROUNDS,
                     data=data, cache_dir=args.cache, verbose=False)
    print(f"IMP done after {time.time() - start:.0f} s", flush=True)
    rows = imp_rows(imp, data)
    batch = (data.x_train[: args.batch], data.y_train[: args.batch])
    for seed in seeds:
        theta0, trained = imp.initial_state(seed), imp.trained_state(0, seed)
        model = lc.build_model(config.model, data.input_shape, data.num_classes, seed=seed)
        for rnd in ROUNDS:
            masks = method_masks(model, theta0, trained, imp.mask(rnd, seed), batch)
            group = train_group(config, data, seed, theta0, masks, config.iterations)
            rows += [{"seed": seed, "round": rnd, **row} for row in group]
            print(f"seed {seed} round {rnd} done after {time.time() - start:.0f} s", flush=True)
    frame = pd.DataFrame(rows)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary(frame).to_string(index=False))
        layers = [c for c in frame.columns if c.startswith("density_")]
        print(frame[frame.variant == "mask"].groupby(["round", "method"])[layers].mean().round(4).to_string())


if __name__ == "__main__":
    main()
