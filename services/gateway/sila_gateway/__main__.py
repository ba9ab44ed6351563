"""``python -m sila_gateway``: the edge on port 8000."""

from __future__ import annotations

import argparse
import os

import uvicorn

from sila_gateway.app import create_gateway
from sila_gateway.edges import write
from sila_gateway.routes import ROUTES

DEFAULT_PORTS = {
    "identity": 8001,
    "tickets": 8002,
    "billing": 8003,
    "loyalty": 8004,
    "notify": 8005,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sila_gateway")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "edges"],
        default="serve",
        help="serve (the default) or edges: regenerate nginx's and the Ingress's routes",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.command == "edges":
        for path in write():
            print(f"rewrote {path}")
        return
    upstreams = {
        name: os.environ.get(
            f"SILA_GATEWAY_{name.upper()}_URL", f"http://127.0.0.1:{DEFAULT_PORTS[name]}"
        )
        for name in ROUTES
    }
    # The message viewer, in the dev profile only (make run sets its URL).
    viewer = os.environ.get("SILA_GATEWAY_MESSAGES_URL")
    if viewer and os.environ.get("SILA_PROFILE", "dev") == "dev":
        upstreams["messages"] = viewer
    # One Date and one Server header per answer: the gateway's (services' are dropped).
    uvicorn.run(create_gateway(upstreams), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
