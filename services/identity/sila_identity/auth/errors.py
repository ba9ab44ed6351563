"""RFC 6749 errors, carried in a problem detail with the ``error`` member clients expect."""

from __future__ import annotations

from typing import Any

from sila_common.problems import Problem


class OAuthError(Problem):
    status, slug, title = 400, "oauth-error", "Log-in refused"

    def __init__(self, detail: str, *, error: str, status: int = 400, **extensions: Any) -> None:
        headers = {"WWW-Authenticate": "Basic"} if error == "invalid_client" else None
        super().__init__(detail, status=status, error=error, headers=headers, **extensions)


def invalid_grant(detail: str) -> OAuthError:
    return OAuthError(detail, error="invalid_grant")
