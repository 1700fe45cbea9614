"""Command line of lottery_core: ``python -m lottery_core sweep --help``."""

from __future__ import annotations

import sys

from .sweep import main as sweep_main

COMMANDS = {"sweep": sweep_main}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m lottery_core {{{','.join(COMMANDS)}}} ...  (try: python -m lottery_core sweep --help)")
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
