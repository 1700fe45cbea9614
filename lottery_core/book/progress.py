"""Progress of long calls: a live bar for a reader, one text block for a record.

In a live notebook (Jupyter, Colab) a long call shows a tqdm bar; when it ends, the bar is replaced by
one block of text, the call's log. An executed notebook (the book build, papermill) therefore keeps one
output per call instead of one box per printed line. Outside a kernel the bar goes to the terminal and
the log is printed once at the end.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from typing import Any

from ..config import ExperimentConfig
from ..imp import run_imp
from ..results import ImpResult, RoundRecord


def in_kernel() -> bool:
    """Whether the code runs in a Jupyter kernel (a notebook, Colab, papermill, the book build)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class Block:
    """The progress of one call: a bar while it runs, its log (``log(line)``) when it ends."""

    def __init__(self, total: int | None, unit: str, desc: str, advance_for: Callable[[str], int] | None = None):
        self.lines: list[str] = []
        self.started = time.perf_counter()
        self.advance_for = advance_for
        self.handle = None
        self.bar = self._open(total, unit, desc)

    def _open(self, total: int | None, unit: str, desc: str):
        if in_kernel():
            try:
                from IPython.display import display
                from tqdm.notebook import tqdm as notebook_tqdm

                bar = notebook_tqdm(total=total, unit=unit, desc=desc, display=False, leave=False)
            except ImportError:  # no ipywidgets: the log alone
                return None
            self.handle = display(bar.container, display_id=True)
            return bar
        from tqdm.auto import tqdm

        return tqdm(total=total, unit=unit, desc=desc, leave=False)

    def advance(self, n: int = 1) -> None:
        """Move the bar ``n`` units on."""
        if self.bar is not None and n:
            self.bar.update(n)

    def log(self, line: str) -> None:
        """Add ``line`` to the log; with ``advance_for``, also move the bar as far as it says."""
        self.lines.append(line)
        if self.advance_for is not None:
            self.advance(self.advance_for(line))

    def finish(self) -> str:
        """Close the bar and show the log in its place (printed once outside a kernel)."""
        if self.bar is not None:
            self.bar.close()
        text = "\n".join(self.lines)
        if self.handle is not None:
            from IPython.display import Pretty

            self.handle.update(Pretty(text))
        else:
            print(text, flush=True)
        return text


@contextmanager
def progress_block(total: int | None = None, *, unit: str = "it", desc: str = "",
                   advance_for: Callable[[str], int] | None = None) -> Iterator[Block]:
    """A progress bar over ``total`` units while the block runs, then one text block: every line
    printed inside the block and every line given to ``Block.log``, in order. ``advance_for(line)``
    says how many units a printed line completes (default: none; call ``Block.advance``)."""
    block = Block(total, unit, desc, advance_for)
    writer = LineWriter(block.log)
    try:
        with redirect_stdout(writer):
            yield block
    finally:
        writer.close()
        block.finish()


class LineWriter(io.TextIOBase):
    """A text stream that hands every complete line written to it to ``on_line``."""

    def __init__(self, on_line: Callable[[str], Any]):
        super().__init__()
        self.on_line, self.pending = on_line, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *complete, self.pending = (self.pending + text).split("\n")
        for line in complete:
            self.on_line(line)
        return len(text)

    def close(self) -> None:
        """Hand over the last, unfinished line."""
        if self.pending:
            self.on_line(self.pending)
            self.pending = ""
        super().close()


def networks_per_round(rounds: int, seeds: int, controls: int, control_rounds: Iterable[int] | None) -> list[int]:
    """How many networks ``run_imp`` trains in each round 0..``rounds``: the tickets of every seed,
    and the controls at the pruned rounds in ``control_rounds`` (``None``: every pruned round)."""
    wanted = None if control_rounds is None else {int(r) for r in control_rounds}
    return [seeds * (1 + (controls if r > 0 and (wanted is None or r in wanted) else 0)) for r in range(rounds + 1)]


def run_imp_with_progress(config: ExperimentConfig, *, rounds: int, seeds: Sequence[int] | None = None,
                          control: str | Sequence[str] | None = None, control_rounds: Iterable[int] | None = None,
                          on_round: Callable[[list[RoundRecord]], Any] | None = None, **kwargs: Any) -> ImpResult:
    """:func:`~lottery_core.run_imp` with a progress bar over rounds x networks in a live notebook and
    its per-round log as one text block: the same arguments, the same result, the same cache. The bar
    moves through ``run_imp``'s ``on_round`` callback (a caller's ``on_round`` still runs after it)."""
    n_seeds = 1 if seeds is None else len(list(seeds))
    n_controls = 0 if control is None else (1 if isinstance(control, str) else len(list(control)))
    control_rounds = None if control_rounds is None else list(control_rounds)
    per_round = networks_per_round(rounds, n_seeds, n_controls, control_rounds)

    with progress_block(sum(per_round), unit="network", desc="iterative pruning") as block:

        def advance(records: list[RoundRecord]) -> None:
            block.advance(per_round[records[0].round])
            if on_round is not None:
                on_round(records)

        result = run_imp(config, rounds=rounds, seeds=seeds, control=control, control_rounds=control_rounds,
                         verbose=True, on_round=advance, **kwargs)
        block.lines.append(f"{sum(per_round)} networks in {len(per_round)} rounds, "
                           f"{time.perf_counter() - block.started:.0f} s in all")
    return result
