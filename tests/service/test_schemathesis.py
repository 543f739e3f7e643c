"""Property-based API test: requests generated from the service's own OpenAPI schema never
get a 5xx, and every error is JSON ``{"detail": ...}`` (bounded: few examples per operation,
derandomised, no example database)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from terrahash.service import create_app
from terrahash.service.batcher import BatchConfig

#: Generated requests per operation (the whole test stays within seconds).
EXAMPLES = 12


def test_no_server_errors_and_json_details(model_index_dir: Path) -> None:
    """Every operation of the schema of a served index with a trained model (so image and text
    queries really run) is called with generated parameters and bodies."""
    app = create_app(model_index_dir, batching=BatchConfig(window_ms=1))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/search", "/health", "/items/{item_id}"}
    failures: list[str] = []
    statuses: set[int] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call()
            statuses.add(response.status_code)
            where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
            if response.status_code >= 500:
                failures.append(where)
            elif response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if not (isinstance(body, dict) and "detail" in body):
                    failures.append(f"not JSON {{'detail': ...}}: {where}")

        call()
    assert not failures, failures[:5]
    assert 200 in statuses and statuses & {400, 404, 422}, statuses  # both paths were exercised
