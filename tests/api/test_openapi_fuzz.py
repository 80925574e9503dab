"""Property-based run of the whole API from its OpenAPI schema (schemathesis): no input
may cause a 5xx, and every response must match the schema it documents.

Each operation gets a bounded, derandomized hypothesis run, as the admin of the
organization (the widest surface) and as a customer.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import LiveApi

CHECKS = [schemathesis.checks.not_a_server_error, response_schema_conformance,
          status_code_conformance, content_type_conformance]
#: Operations not worth fuzzing here: they stream forever (the live stream has its own tests).
SKIP = {"GET /api/v1/live", "GET /api/v1/live/sse"}


def _fuzz(live_api: LiveApi, headers: dict[str, str], examples: int) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/api/v1/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIP:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            case.headers = {**(case.headers or {}), **headers}
            case.call_and_validate(checks=CHECKS, base_url=live_api.base_url, timeout=10)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{label}: {str(exc)[:600]}")
    return failures


@pytest.mark.slow
def test_api_as_admin(live_api: LiveApi) -> None:
    failures = _fuzz(live_api, live_api.admin_headers, examples=15)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_api_as_customer(live_api: LiveApi) -> None:
    failures = _fuzz(live_api, live_api.customer_headers, examples=6)
    assert not failures, "\n\n".join(failures)
