"""Property-based tests from the OpenAPI schema (schemathesis): whatever the inputs, no
endpoint answers a server error, and answers match their documented schema. Run as a
global admin (the widest rights, so the deepest code paths) and as a household."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from citizenwatt.store.sqlite import SqliteStore

from .conftest import Clock
from .world import build_world

# Date ranges, tokens and names have rules the schema cannot say (end after start, a
# range length limit...): "valid per the schema, yet refused" is expected, so the checks
# are: never a server error, and every answer is one the schema documents.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
MAX_EXAMPLES = 8  # per operation: ~40 operations, a few hundred requests


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("st") / "readings.sqlite")
    world = build_world(store, Clock())
    yield world
    store.close()


@pytest.fixture(scope="module")
def api_schema(w):
    return schemathesis.openapi.from_asgi("/openapi.json", w.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_as_admin(case, w):
    case.call_and_validate(headers=w.bearer(w.staff_tokens["admin"]))


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_as_household(case, w):
    case.call_and_validate(headers=w.bearer(w.link("A")))
