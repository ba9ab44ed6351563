"""``python -m sila_simulators <name> [options]``: one simulator, or the message viewer.

python -m sila_simulators smsc --port 8013
python -m sila_simulators viewer --port 8010 --source smsc=http://127.0.0.1:8013
"""

from __future__ import annotations

import sys

from sila_simulators.registry import NAMES, simulator


def main(argv: list[str]) -> None:
    choices = [*NAMES, "viewer"]
    if not argv or argv[0] not in choices:
        raise SystemExit(f"usage: python -m sila_simulators {{{','.join(choices)}}} [options]")
    name, rest = argv[0], argv[1:]
    if name == "viewer":
        from sila_simulators.viewer import main as viewer_main

        viewer_main(rest)
    else:
        simulator(name).main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
