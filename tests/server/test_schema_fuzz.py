"""Schemathesis against the live server's OpenAPI schema: no generated request gets a 5xx.

The fuzzed server has a repo of its own: generated ``/materialize`` calls move watermarks and
may materialize the far future, which the shared repo's tests must not see.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from server_helpers import Served, serve_new_repo

# Materialize may touch every view; it gets fewer examples so the suite stays quick.
EXAMPLES = {"POST /materialize": 8, "POST /materialize-incremental": 8}
DEFAULT_EXAMPLES = 40


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_new_repo(tmp_path_factory.mktemp("fuzzed")) as live:
        yield live


def test_the_schema_documents_every_body(fuzzed: Served) -> None:
    schema = httpx.get(fuzzed.url + "/openapi.json").json()
    for path in ("/get-online-features", "/push", "/materialize"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"], path
    online = schema["paths"]["/get-online-features"]["post"]["requestBody"]["content"]
    assert set(online["application/json"]["schema"]["properties"]) == {
        "features",
        "feature_service",
        "entities",
        "request_data",
        "full_feature_names",
        "include_feature_view_version_metadata",
    }


def fuzz(operation: Any, mode: GenerationMode, url: str, session: requests.Session) -> list[str]:
    """Run generated requests against one operation; the 5xx answers, described."""
    label = f"{operation.method.upper()} {operation.path}"
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES.get(label, DEFAULT_EXAMPLES),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, session=session, timeout=30)
        if response.status_code >= 500:
            failures.append(f"{label} {case.body!r} -> {response.status_code} {response.text}")
        assert "Traceback" not in response.text

    try:
        call()
    except Unsatisfiable:  # nothing to make invalid (an endpoint without input)
        assert mode is GenerationMode.NEGATIVE
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(fuzzed: Served, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(fuzzed.url + "/openapi.json")
    with requests.Session() as session:
        failures = [
            failure
            for result in schema.get_all_operations()
            for failure in fuzz(result.ok(), mode, fuzzed.url, session)
        ]
    assert not failures, "\n".join(failures[:5])


# Schemathesis rarely guesses a real feature name; these bodies use the repo's own names with
# arbitrary JSON around them, to reach the store's deeper checks.
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
refs = st.sampled_from(
    [
        "driver_trips:fare_log",
        "driver_trips:trips_1h",
        "ride_features:fare_per_km_est",
        "rider_stats:rating",
    ]
)
online_bodies = st.fixed_dictionaries(
    {
        "entities": st.dictionaries(
            st.sampled_from(["driver_id", "rider_id", "x"]),
            st.lists(json_scalar, max_size=4) | json_value,
            max_size=2,
        )
    },
    optional={
        "features": st.lists(refs, max_size=4, unique=True) | json_value,
        "feature_service": st.sampled_from(["ranking_v1", "nope"]) | json_value,
        "request_data": st.dictionaries(
            st.sampled_from(["distance_km", "x"]), json_value, max_size=2
        )
        | json_value,
        "full_feature_names": st.booleans() | json_value,
    },
)
push_bodies = st.fixed_dictionaries(
    {
        "push_source_name": st.sampled_from(["rider_events", "nope"]),
        "df": st.dictionaries(
            st.sampled_from(["rider_id", "rating", "event_ts", "x"]),
            st.lists(
                json_scalar | st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01", "x"]),
                min_size=1,
                max_size=3,
            ),
            max_size=4,
        ),
    },
    optional={"to": st.sampled_from(["online", "offline", "online_and_offline"])},
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    path_and_body=st.tuples(st.just("/get-online-features"), online_bodies)
    | st.tuples(st.just("/push"), push_bodies)
)
def test_bodies_with_real_names_never_get_a_server_error(
    fuzzed: Served, path_and_body: tuple[str, Any]
) -> None:
    path, body = path_and_body
    reply = fuzzed.post(path, body)
    assert reply.status_code < 500, f"{path} {body!r} -> {reply.status_code} {reply.text}"
    if reply.status_code == 200 and path == "/get-online-features":
        assert set(reply.json()) == {"metadata", "results"}
