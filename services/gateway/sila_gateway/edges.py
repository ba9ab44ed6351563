"""The production edges' routing, generated from ``ROUTES``: nginx's locations, the Ingress.

``python -m sila_gateway edges`` rewrites the block between the BEGIN and END markers of
deploy/nginx/nginx.conf and deploy/k8s/ingress.yaml; ``tests/unit/platform/
test_edge_routes.py`` fails when either file differs from what this module generates.
"""

from __future__ import annotations

import re
from pathlib import Path

from sila_gateway.routes import ROUTES

REPO = Path(__file__).resolve().parents[3]
NGINX = REPO / "deploy" / "nginx" / "nginx.conf"
INGRESS = REPO / "deploy" / "k8s" / "ingress.yaml"
PORTS = {"identity": 8001, "tickets": 8002, "billing": 8003, "loyalty": 8004, "notify": 8005}
BEGIN = "BEGIN generated from services/gateway/sila_gateway/routes.py"
END = "END generated"


def nginx_locations(indent: str = "        ") -> str:
    """One regex location per service: its prefixes, matched on whole segments.

    nginx matches locations on the normalised URI (dot segments resolved, %XX decoded,
    slashes merged), so an encoded ``..%2f`` cannot reach an unlisted path behind it.
    """
    lines: list[str] = []
    for service, prefixes in ROUTES.items():
        alternatives = "|".join(prefix.lstrip("/").replace(".", "\\.") for prefix in prefixes)
        lines += [
            f"{indent}# ---- {service} ----",
            f"{indent}location ~ ^/({alternatives})(/|$) {{",
            f"{indent}    proxy_pass http://{service};",
            f"{indent}}}",
        ]
    return "\n".join(lines) + "\n"


def ingress_paths(indent: str = "          ") -> str:
    lines: list[str] = []
    for service, prefixes in ROUTES.items():
        lines.append(f"{indent}# {service}")
        for prefix in prefixes:
            lines += [
                f"{indent}- path: {prefix}",
                f"{indent}  pathType: Prefix",
                f"{indent}  backend:",
                f"{indent}    service:",
                f"{indent}      name: {service}",
                f"{indent}      port:",
                f"{indent}        number: {PORTS[service]}",
            ]
    return "\n".join(lines) + "\n"


def with_block(text: str, block: str) -> str:
    """``text`` with the lines between its BEGIN and END marker lines replaced by ``block``."""
    pattern = re.compile(
        r"(^[^\n]*" + re.escape(BEGIN) + r"[^\n]*\n)(.*?)(^[^\n]*" + re.escape(END) + r")",
        re.MULTILINE | re.DOTALL,
    )
    if not pattern.search(text):
        raise ValueError("the generated-block markers are missing")
    return pattern.sub(lambda m: m.group(1) + block + m.group(3), text, count=1)


def expected() -> dict[Path, str]:
    """Each generated file's content as it should be."""
    return {
        NGINX: with_block(NGINX.read_text(), nginx_locations()),
        INGRESS: with_block(INGRESS.read_text(), ingress_paths()),
    }


def write() -> list[Path]:
    """Rewrite the files that are stale; the ones changed."""
    changed = []
    for path, content in expected().items():
        if path.read_text() != content:
            path.write_text(content)
            changed.append(path)
    return changed
