"""Schemathesis over every service's OpenAPI document: no input is a server error.

Each operation of each service gets generated requests, valid by the schema and not
(negative mode: wrong types, missing fields, out-of-range values), sent over real HTTP with
an admin token (every role, every wilaya, so the handlers run past the authorisation
checks). Any 5xx answer, or an error that is not an RFC 9457 problem, fails the test with
the request that caused it. Kept small per operation so the whole run stays under a minute on
two cores; the attack tests beside it pin the cases found so far. The fuzzer runs in a process
of its own (conftest: Hypothesis and the services must not share the global ``random``).
"""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from sila_common.problems import MEDIA_TYPE
from tests.integration.security.conftest import (
    STACK_SERVICES,
    Stack,
    busy_neighbours,
    in_a_fuzzer_process,
)

EXAMPLES_PER_OPERATION = 8
# Operations whose side effects would stop the run itself (rotating the signing keys
# invalidates nothing, but logging out everywhere revokes the fuzzer's own session).
SKIPPED = {("identity", "POST", "/v1/auth/logout")}


def fuzz_service(name: str, document: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Every operation of one service; the failures found, as readable lines."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            continue
        operation = result.ok()
        if (name, operation.method.upper(), operation.path) in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def probe(case: Any) -> None:
                response = case.call(base_url=base_url, session=session, headers=headers)
                media_type = (response.headers.get("content-type") or [""])[0]
                # TMF621 answers errors in its own Error shape, as the standard asks; the
                # platform's refusals before routing (a NUL) are problems there too.
                tmf = case.path.startswith("/tmf-api")
                expected = ("application/json", MEDIA_TYPE) if tmf else (MEDIA_TYPE,)
                if response.status_code >= 500 or (
                    response.status_code >= 400 and not media_type.startswith(expected)
                ):
                    failures.append(
                        f"{name} {case.method} {case.formatted_path} "
                        f"path={case.path_parameters} query={case.query} body={case.body!r:.300}"
                        f" -> {response.status_code} {response.text[:200]}"
                    )

            try:
                probe()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters)
    session.close()
    return failures


def fuzz_every_service(
    documents: dict[str, dict[str, Any]], urls: dict[str, str], token: str
) -> list[str]:
    """Every service in turn (in the fuzzer's process)."""
    return [
        failure
        for name in STACK_SERVICES
        for failure in fuzz_service(name, documents[name], urls[name], token)
    ]


async def test_no_generated_request_is_a_server_error(stack: Stack) -> None:
    documents = {name: stack.services[name].app.openapi() for name in STACK_SERVICES}
    async with busy_neighbours():
        failures = await in_a_fuzzer_process(
            fuzz_every_service, documents, stack.urls, stack.admin_token
        )
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:60])
