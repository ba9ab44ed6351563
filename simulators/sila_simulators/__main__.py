"""``python -m sila_simulators <name> [options]``: one simulator, in the foreground."""

from __future__ import annotations

import importlib
import sys

# name -> module with a ``main(argv)``.
REGISTRY: dict[str, str] = {
    "satim": "sila_simulators.satim",
    "khlass": "sila_simulators.khlass",
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in REGISTRY:
        names = ", ".join(sorted(REGISTRY))
        raise SystemExit(f"usage: python -m sila_simulators <{names}> [options]")
    module = importlib.import_module(REGISTRY[args[0]])
    module.main(args[1:])


if __name__ == "__main__":
    main()
