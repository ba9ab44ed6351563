"""Routes whose most frequent requests are given their arguments directly.

FastAPI solves a route's dependencies and parameters by a generic, recursive walk per
request: a third of a phone lookup's request path, a seventh of a timeline page's
(docs/benchmarks.md, "identity's request path" and "the timeline's request path"), a
fifth of an SMS delivery report's. A
``DirectRoute`` answers the plain requests its ``direct_arguments`` recognises by calling
the endpoint with them (the same dependencies, awaited directly); every other request is
solved by FastAPI. Both call the same endpoint, so the answers and problems are one; the
route still declares its parameters and response model for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class DirectRoute(APIRoute):
    async def direct_arguments(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's arguments for a plain request, as FastAPI would pass them; None
        for any other (FastAPI then solves it)."""
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved_by_fastapi = super().get_route_handler()

        async def handler(request: Request) -> Response:
            arguments = await self.direct_arguments(request)
            if arguments is None:
                return await solved_by_fastapi(request)
            answer: Response = await self.endpoint(**arguments)
            return answer

        return handler
