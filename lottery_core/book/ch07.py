"""Chapter 7, rewinding and the learning rate: the arms it trains beside two IMP runs, its tables, its
metrics and the claims its prose makes about the default run.

The two runs are chapter 3's (Adam at the preset's rate) and one with SGD and momentum at a large rate at
which the dense network trains well, the setting of Liu et al. (ICLR 2019, "Rethinking the Value of
Network Pruning"). At one density every run gets the ticket rewound to θk (Frankle et al. 2019, 2020),
its random reinitialisation, learning-rate rewinding (Renda, Frankle & Carbin, ICLR 2020) and, at a
moderate density, Liu et al.'s Scratch-E and Scratch-B.
"""


from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..arms import Arm, arm_seed, train_together
from ..data import Dataset
from ..history import History
from ..masks import Mask
from ..results import ImpResult, State, metrics
from ..rewind import snapshot
from ..starts import arm_init
from ..stats import Interval, paired_differences
from .claims import Check, Claims
from .paths import plain

claims = Claims("07_rewinding")

LR_REWIND, SCRATCH_E, SCRATCH_B = "LR rewinding", "Scratch-E", "Scratch-B"
SETTING_LABELS = {"default": "Adam, default rate", "sgd": "SGD with momentum, high rate"}


def ticket_at(k: int) -> str:
    """The arm name of the ticket rewound to θk (``"ticket"`` for θ0, as in the IMP run's own records)."""
    return "ticket" if k == 0 else f"ticket θ{k}"


def _train(result: ImpResult, data: Dataset, arms: Sequence[Arm], start: int, end: int,
           progress: bool | str = False, snapshot_at: Sequence[int] = ()) -> list[History]:
    """Train ``arms`` together from iteration ``start`` to ``end`` with the run's optimizer, rate and data orders."""
    longer = dataclasses.replace(result, config=dataclasses.replace(result.config, iterations=end))
    return train_together(longer, data, arms, start, snapshot_at=snapshot_at, progress=progress)[1]


def rewind_points(result: ImpResult, data: Dataset, ks: Sequence[int]) -> dict[int, dict[int, State]]:
    """θk for every k in ``ks`` and seed of ``result`` (a run rewound to θ0): its dense round 0 trained
    again from θ0 with the same data order up to max(ks), kept at every k (Frankle et al. 2019)."""
    ks = sorted({int(k) for k in ks if k > 0})
    if not ks:
        return {}
    arms = [Arm(s, "dense", result.initial_state(s), result.mask(0, s)) for s in result.seeds]
    histories = _train(result, data, arms, 0, ks[-1], snapshot_at=ks)
    return {k: {a.seed: h.snapshots[k] for a, h in zip(arms, histories)} for k in ks}


def _masked(result: ImpResult, data: Dataset, seed: int, state: State, mask: Mask) -> State:
    model = result.network(data, seed, state)
    mask.apply(model)
    return snapshot(model)


def round_arms(result: ImpResult, data: Dataset, round: int, thetas: Mapping[int, Mapping[int, State]],
               reinit: bool) -> dict[int, list[Arm]]:
    """The arms trained under every seed's ticket mask at ``round``, by start iteration: the ticket rewound
    to each θk (from k), learning-rate rewinding (Renda et al. 2020: the weights trained in round − 1, pruned,
    retrained from iteration 0 with the whole schedule) and, with ``reinit``, a fresh Glorot draw (from 0)."""
    groups: dict[int, list[Arm]] = {0: []}
    for s in result.seeds:
        mask = result.mask(round, s)
        if reinit:
            state, _ = arm_init("reinit", result.network(data, s), result.rewind_state(s), mask,
                                seed=arm_seed("reinit", s, round), init=result.recipe.reinit_draw())
            groups[0].append(Arm(s, "reinit", state, mask))
        groups[0].append(Arm(s, LR_REWIND, _masked(result, data, s, result.trained_state(round - 1, s), mask), mask))
        for k, by_seed in thetas.items():
            groups.setdefault(k, []).append(Arm(s, ticket_at(k), _masked(result, data, s, by_seed[s], mask), mask))
    return groups


def _rows(arms: Sequence[Arm], histories: Sequence[History], round: int, **names: str) -> list[dict]:
    return [{"seed": a.seed, "round": round, "arm": names.get(a.name, a.name), "density": a.mask.density(),
             **metrics(h)} for a, h in zip(arms, histories)]


def scratch_frame(result: ImpResult, data: Dataset, round: int, progress: bool | str = False) -> pd.DataFrame:
    """Liu et al. (2019) at ``round``: the ticket's mask with fresh weights trained for the whole IMP budget
    to that density, (round + 1) × T iterations (Scratch-B); its first T iterations are Scratch-E, the
    same network at the usual budget (a constant rate makes them the same run up to T)."""
    arms = []
    for s in result.seeds:
        mask = result.mask(round, s)
        state, _ = arm_init("reinit", result.network(data, s), result.rewind_state(s), mask,
                            seed=arm_seed("scratch", s, round), init=result.recipe.reinit_draw())
        arms.append(Arm(s, SCRATCH_B, state, mask))
    budget = result.config.iterations
    histories = _train(result, data, arms, 0, (round + 1) * budget, progress=progress)
    early = [History([e for e in h.evaluations if e.iteration <= budget]) for h in histories]
    return pd.DataFrame(_rows(arms, histories, round) + _rows(arms, early, round, **{SCRATCH_B: SCRATCH_E}))


def own_rows(result: ImpResult, round: int, arms: Sequence[str] = ("ticket", "reinit")) -> pd.DataFrame:
    """The run's own records: the dense network (round 0, as arm ``dense`` at ``round``) and ``arms`` at ``round``."""
    long = result.to_long_frame()
    dense = long[(long["round"] == 0) & (long["arm"] == "ticket")].assign(arm="dense", round=round)
    return pd.concat([dense, long[(long["round"] == round) & long["arm"].isin(arms)]], ignore_index=True)


def setting_frame(result: ImpResult, data: Dataset, *, round: int, rewind_iterations: Sequence[int],
                  scratch_round: int | None, progress: bool | str = False) -> pd.DataFrame:
    """Every arm of one run, tidy (one row per round, seed and arm): the run's own dense network, ticket and
    (when it trained one) reinit at ``round``; the arms of :func:`round_arms`, each group in one batched call;
    and at ``scratch_round`` the run's ticket beside :func:`scratch_frame`."""
    own = own_rows(result, round)
    groups = round_arms(result, data, round, rewind_points(result, data, rewind_iterations),
                        reinit=not (own["arm"] == "reinit").any())
    frames = [own] + [pd.DataFrame(_rows(arms, _train(result, data, arms, start, result.config.iterations,
                                                        progress=progress), round))
                      for start, arms in groups.items() if arms]
    if scratch_round is not None:
        frames += [own_rows(result, scratch_round, ["ticket"]).query("arm == 'ticket'"),
                   scratch_frame(result, data, scratch_round, progress=progress)]
    return pd.concat(frames, ignore_index=True)


def differences(frame: pd.DataFrame, *, round: int, scratch_round: int | None) -> pd.DataFrame:
    """Paired differences (mean over seeds and 95% t interval) per setting: at ``round`` every arm against
    the reinitialised copy, the ticket rewound to θ0 and the dense network; at ``scratch_round`` the ticket and
    Scratch-B against Scratch-E, and the ticket against Scratch-B."""
    at, arms = frame[frame["round"] == round], [a for a in frame["arm"].unique() if a != "dense"]
    parts = [_against(at, [a for a in arms if a != ref], ref) for ref in ("reinit", "ticket", "dense")]
    if scratch_round is not None:
        scratch = frame[frame["round"] == scratch_round]
        parts += [_against(scratch, ["ticket", SCRATCH_B], SCRATCH_E), _against(scratch, ["ticket"], SCRATCH_B)]
    return pd.concat(parts, ignore_index=True)


def _against(frame: pd.DataFrame, arms: Sequence[str], reference: str) -> pd.DataFrame:
    """:func:`~lottery_core.paired_differences` by setting and round, with ``arm`` and ``reference`` columns."""
    out = paired_differences(frame, list(arms), reference, by=["setting", "round"])
    return out.assign(arm=arms[0], reference=reference) if len(arms) == 1 else out


def chapter_frame(runs: Mapping[str, ImpResult], data: Dataset, *, round: int, rewind_iterations: Sequence[int],
                  scratch_round: int | None, scratch_settings: Sequence[str] = (),
                  progress: bool | str = False) -> pd.DataFrame:
    """:func:`setting_frame` of every run in ``runs`` (keyed by setting name), with a ``setting`` column;
    Scratch-E and Scratch-B at ``scratch_round`` for the settings in ``scratch_settings`` only."""
    return pd.concat([setting_frame(result, data, round=round, rewind_iterations=rewind_iterations,
                                    scratch_round=scratch_round if name in scratch_settings else None,
                                    progress=progress).assign(setting=name)
                      for name, result in runs.items()], ignore_index=True)


def _interval(row: Mapping[str, Any]) -> dict:
    return {c: row[c] for c in ("mean", "low", "high", "n")}


def rewinding_metrics(*, configs: Mapping[str, Any], seeds: Sequence[int], round: int,
                      rewind_iterations: Sequence[int], scratch_round: int | None, frame: pd.DataFrame,
                      diffs: pd.DataFrame) -> dict:
    """Chapter 7's metrics file: per setting its optimizer, rate and budget, the density of the margins
    (and of Scratch-B), every arm's mean test accuracy at early stopping by round, and every paired
    difference as ``"<arm> vs <reference>"``: {mean, low, high, n} (fractions, not points)."""
    means = frame.groupby(["setting", "round", "arm"])["early_stop_test_acc"].mean()
    density = frame[frame["arm"] == "ticket"].groupby(["setting", "round"])["density"].mean()
    settings = {}
    for name, config in configs.items():
        rounds = sorted({int(r) for r in frame.loc[frame["setting"] == name, "round"]})
        settings[name] = {
            "optimizer": config.optimizer, "lr": config.lr, "iterations": config.iterations,
            "density": {str(r): density[(name, r)] for r in rounds},
            "acc": {str(r): means[name][r].to_dict() for r in rounds},
            "differences": {str(r): {f"{d['arm']} vs {d['reference']}": _interval(d)
                                     for d in diffs[(diffs["setting"] == name) & (diffs["round"] == r)]
                                     .to_dict("records")} for r in rounds},
        }
    return plain({"seeds": list(seeds), "round": round, "rewind_iterations": sorted(rewind_iterations),
                  "scratch_round": scratch_round, "config": configs["default"].to_dict(), "settings": settings})


def _table(frame: pd.DataFrame, diffs: pd.DataFrame, round: int, references: Sequence[str]) -> pd.DataFrame:
    at = frame[frame["round"] == round]
    means = at.groupby(["setting", "arm"], sort=False)["early_stop_test_acc"].mean()
    rows = []
    for (setting, arm), acc in means.items():
        row = {"setting": SETTING_LABELS.get(setting, setting), "arm": arm, "test acc (%)": f"{100 * acc:.1f}"}
        for ref in references:
            hit = diffs[(diffs["setting"] == setting) & (diffs["round"] == round) & (diffs["arm"] == arm)
                        & (diffs["reference"] == ref)]
            row[f"− {ref}"] = Interval.of(hit.iloc[0]).format(unit="") if len(hit) else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index(["setting", "arm"])


def rewinding_table(frame: pd.DataFrame, diffs: pd.DataFrame, round: int) -> pd.DataFrame:
    """At ``round``, per setting and arm: the mean test accuracy and the paired differences against the
    reinitialised copy, the ticket rewound to θ0 and the dense network (percentage points, 95% intervals)."""
    return _table(frame, diffs, round, ("reinit", "ticket", "dense"))


def scratch_table(frame: pd.DataFrame, diffs: pd.DataFrame, round: int) -> pd.DataFrame:
    """At ``round``, per setting: the ticket, Scratch-E and Scratch-B (Liu et al. 2019), and the paired
    differences against Scratch-E and Scratch-B (percentage points, 95% intervals)."""
    return _table(frame, diffs, round, (SCRATCH_E, SCRATCH_B))


def rewinding_curves(runs: Mapping[str, ImpResult], rounds: int) -> pd.DataFrame:
    """The tickets (rewound to θ0) of every run in ``runs`` (keyed by setting) at rounds 0 to ``rounds``, tidy,
    with ``arm`` naming the setting: for figures of accuracy against density."""
    frames = []
    for setting, result in runs.items():
        long = result.to_long_frame()
        part = long[(long["arm"] == "ticket") & (long["round"] <= rounds)]
        frames.append(part.assign(arm=SETTING_LABELS.get(setting, setting)))
    return pd.concat(frames, ignore_index=True)


def forest(diffs: pd.DataFrame, round: int, reference: str) -> pd.DataFrame:
    """The rows of ``diffs`` at ``round`` against ``reference``, with ``run`` naming setting and arm: for
    :func:`~lottery_core.book.plots.plot_paired_differences`."""
    part = diffs[(diffs["round"] == round) & (diffs["reference"] == reference)]
    return part.assign(run=[f"{SETTING_LABELS.get(s, s)}: {a}" for s, a in zip(part["setting"], part["arm"])])


def _view(m: Mapping[str, Any], setting: str, round: int | None = None) -> tuple[dict, dict[str, Interval], float]:
    """One setting's mean accuracies, paired differences (as intervals) and ticket density at ``round``
    (default: the round of the comparisons)."""
    s, r = m["settings"][setting], str(m["round"] if round is None else round)
    return s["acc"][r], {k: Interval.of(v) for k, v in s["differences"][r].items()}, s["density"][r]


def _rewound(m: Mapping[str, Any]) -> list[str]:
    return [ticket_at(k) for k in m["rewind_iterations"]]


@claims("ch07-default-rate", "At the default rate the ticket rewound to θ0 is clearly ahead of its reinitialised copy "
        "at about 21% of the weights, by six to twelve points, and about as accurate as the dense network or a "
        "little better.")
def _default_rate(m: Mapping[str, Any]) -> Check:
    _, d, density = _view(m, "default")
    margin, vs_dense = d["ticket vs reinit"], d["ticket vs dense"]
    holds = (0.2 <= density <= 0.23 and margin.above() and 0.06 <= margin.mean <= 0.12
             and -0.005 < vs_dense.mean < 0.04)
    return Check(holds, f"at {density:.1%}: ticket − reinit {margin.format()}; ticket − dense {vs_dense.format()}")


@claims("ch07-sgd-dense", "With SGD at the high rate the dense network's test accuracy is within three points of its "
        "accuracy with Adam at the default rate.")
def _sgd_dense(m: Mapping[str, Any]) -> Check:
    sgd, default = _view(m, "sgd")[0]["dense"], _view(m, "default")[0]["dense"]
    return Check(abs(sgd - default) < 0.03, f"dense: SGD {sgd:.1%}, Adam {default:.1%}")


@claims("ch07-sgd-no-edge", "At that rate the ticket rewound to θ0 keeps little or none of its lead over its "
        "reinitialised copy: the mean margin lies within two points of zero and its whole interval below four points. "
        "Both are more accurate than the dense network at that rate.")
def _sgd_no_edge(m: Mapping[str, Any]) -> Check:
    _, d, _ = _view(m, "sgd")
    margin, ticket, reinit = d["ticket vs reinit"], d["ticket vs dense"], d["reinit vs dense"]
    holds = abs(margin.mean) < 0.02 and margin.high < 0.04 and ticket.above() and reinit.above()
    return Check(holds, f"ticket − reinit {margin.format()}; ticket − dense {ticket.format()}; "
                 f"reinit − dense {reinit.format()}")


def _rewound_differences(m: Mapping[str, Any], setting: str) -> tuple[dict, dict, str]:
    """The tickets rewound to θk at ``setting``: each minus the θ0 ticket, each minus reinit, and the evidence line."""
    _, d, _ = _view(m, setting)
    vs_ticket = {a: d[f"{a} vs ticket"] for a in _rewound(m)}
    vs_reinit = {a: d[f"{a} vs reinit"] for a in _rewound(m)}
    return vs_ticket, vs_reinit, "; ".join(f"{a}: − ticket {vs_ticket[a].format()}, − reinit {vs_reinit[a].format()}"
                                           for a in vs_ticket)


@claims("ch07-sgd-rewinding", "Rewinding to θ100 or θ500 instead of θ0 does not help at the high rate: no such ticket "
        "is measurably ahead of the ticket rewound to θ0 or of its reinitialised copy, and each lies within two points "
        "of the ticket rewound to θ0 on average.")
def _sgd_rewinding(m: Mapping[str, Any]) -> Check:
    vs_ticket, vs_reinit, evidence = _rewound_differences(m, "sgd")
    holds = bool(vs_ticket) and all(not iv.above() and abs(iv.mean) < 0.02 for iv in vs_ticket.values()) and not any(
        iv.above() for iv in vs_reinit.values())
    return Check(holds, evidence)


@claims("ch07-default-rewinding", "At the default rate rewinding to θ100 or θ500 changes little as well: each such "
        "ticket is within a point of the ticket rewound to θ0 on average and, like it, clearly ahead of its "
        "reinitialised copy.")
def _default_rewinding(m: Mapping[str, Any]) -> Check:
    vs_ticket, vs_reinit, evidence = _rewound_differences(m, "default")
    holds = bool(vs_ticket) and all(abs(iv.mean) < 0.01 for iv in vs_ticket.values()) and all(
        iv.above() for iv in vs_reinit.values())
    return Check(holds, evidence)


@claims("ch07-lr-rewinding", "Learning-rate rewinding is the most accurate arm at the high SGD rate, measurably ahead "
        "of both the ticket rewound to θ0 and the reinitialised copy. At the default rate it is level with the "
        "ticket rewound to θ0, within a point on average.")
def _lr_rewinding(m: Mapping[str, Any]) -> Check:
    acc, d, _ = _view(m, "sgd")
    sgd_ticket, sgd_reinit = d[f"{LR_REWIND} vs ticket"], d[f"{LR_REWIND} vs reinit"]
    default = _view(m, "default")[1][f"{LR_REWIND} vs ticket"]
    holds = (max(acc, key=acc.get) == LR_REWIND and sgd_ticket.above() and sgd_reinit.above()
             and abs(default.mean) < 0.01)
    return Check(holds, f"SGD: − ticket {sgd_ticket.format()}, − reinit {sgd_reinit.format()}; "
                 f"default: − ticket {default.format()}")


@claims("ch07-scratch-b", "At about 51% of the weights and the default rate, the longer budget helps the random "
        "reinitialisation a little: Scratch-B is ahead of Scratch-E, the same networks stopped at the usual budget, by "
        "about one to two points on average, and the ticket is not measurably ahead of Scratch-B.")
def _scratch_b(m: Mapping[str, Any]) -> Check:
    _, d, density = _view(m, "default", m["scratch_round"])
    longer, ticket = d[f"{SCRATCH_B} vs {SCRATCH_E}"], d[f"ticket vs {SCRATCH_B}"]
    holds = 0.48 <= density <= 0.54 and 0.005 < longer.mean < 0.025 and not ticket.above()
    return Check(holds, f"at {density:.1%}: Scratch-B − Scratch-E {longer.format()}; "
                 f"ticket − Scratch-B {ticket.format()}; ticket − Scratch-E {d[f'ticket vs {SCRATCH_E}'].format()}")
