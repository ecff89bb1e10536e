"""Hostile input on every endpoint, beyond what schemathesis generates from the schema:
integers past 64 bits, huge and tiny floats, deep nesting, huge strings, odd unicode (lone
surrogates, NUL, right-to-left marks, combining marks), raw bytes that are not JSON, and
report queries with far dates and windows. No answer is a 5xx, no error detail is long, and
after each endpoint's cases every report (skew, performance, drift, contracts) still answers 200.

The server has a repo of its own (on the shared Redis): fuzzed ``/materialize`` and ``/push``
calls change its data, which the shared repo's tests must not see.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import Served, serve_new_repo

from featurestore.quickstart.sample import sample_spine

REFERENCE = "fuzz_reference"
REPORTS = (
    "/reports/skew",
    "/reports/performance",
    f"/reports/drift?reference={REFERENCE}",
    "/reports/contracts",
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, httpx.Client]]:
    """A served repo with a saved drift reference, served values and feedback, so every report
    has something to answer with."""
    with serve_new_repo(tmp_path_factory.mktemp("hostile")) as live:
        live.store.get_training_frame(sample_spine(n=200), service="ranking_v1", save_as=REFERENCE)
        with httpx.Client(base_url=live.url, timeout=120) as client:
            for driver in range(5):
                body = {
                    "feature_service": "ranking_v1",
                    "entities": {"driver_id": [driver]},
                    "request_data": {"distance_km": [3.0]},
                }
                served = client.post("/get-online-features", json=body)
                assert served.status_code == 200, served.text
                rid = served.json()["metadata"]["request_id"]
                feedback = {"request_id": rid, "prediction": 0.4, "label": float(driver % 2)}
                assert client.post("/feedback", json=feedback).status_code == 200
            reports_answer(client)
            yield live, client


def reports_answer(client: httpx.Client) -> None:
    for path in REPORTS:
        reply = client.get(path)
        assert reply.status_code == 200, f"{path} -> {reply.status_code} {reply.text[:500]}"


def check(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    reply = client.request(method, path, **kwargs)
    shown = repr(kwargs)[:300]
    assert reply.status_code < 500, f"{method} {path} {shown} -> {reply.status_code} {reply.text}"
    assert "Traceback" not in reply.text
    if reply.status_code >= 400:
        assert len(reply.content) < 1500, f"{path}: a {len(reply.content)}-byte error"
    return reply


# -- hostile values -------------------------------------------------------------------------
big_ints = st.one_of(
    st.integers(min_value=2**63, max_value=2**200),
    st.integers(min_value=-(2**200), max_value=-(2**63) - 1),
    st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1]),
)
odd_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, -0.0, 1.7976931348623157e308]),
)
# surrogates come from the list below only: one in a body makes the whole body invalid JSON
odd_chars = st.characters(categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co"])
odd_text = st.one_of(
    st.text(odd_chars, max_size=20),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\u202eevil\u202c",  # right-to-left override
            "\u200f\u05e9\u05dc\u05d5\u05dd",  # right-to-left mark, Hebrew
            "\ud800",  # a lone high surrogate
            "\udfff",
            "e\u0301\u0301\u0301",
            "\ufeff",
            "driver_id\n",
            "ranking_v1\n",
            "driver_trips:fare_log\n",
        ]
    ),
)
huge_text = st.sampled_from([1_000, 100_000, 2_000_000]).map(lambda n: "x" * n)
times = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31",
        "2026-13-01T00:00:00Z",
        "2026-01-01T00:00:00+14:00",
        "2026-01-01T00:00:00-23:59",
        "now",
        "",
    ]
)
scalars = st.one_of(st.none(), st.booleans(), big_ints, st.integers(), odd_floats, odd_text, times)


def nested(levels: int, inner: Any) -> Any:
    for _ in range(levels):
        inner = [inner]
    return inner


deep = st.builds(
    nested, st.integers(min_value=20, max_value=1100), st.one_of(st.none(), st.just({}))
)
hostile_values = st.one_of(
    scalars,
    huge_text,
    deep,
    st.lists(scalars, max_size=5),
    st.dictionaries(odd_text, scalars, max_size=3),
)


def encode(body: Any) -> bytes:
    """JSON as a client would send it; lone surrogates become \\ud800 escapes, which the server
    must refuse (they cannot be stored as UTF-8)."""
    return json.dumps(body, ensure_ascii=True).encode()


def post(client: httpx.Client, path: str, body: Any) -> httpx.Response:
    try:
        raw = encode(body)
    except (RecursionError, ValueError):  # nested past what the json module writes
        raw = b"[" * 5000
    return check(client, "POST", path, content=raw)


# -- bodies: a valid body of the repo's own names with one or two values made hostile ---------
def paths(body: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``body`` a value can be put: each existing value, and a new key in each
    object (``None`` stands for "a new key", drawn later)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(body, dict):
        out.append((*prefix, None))
        for key, value in body.items():
            out.append((*prefix, key))
            out += paths(value, (*prefix, key))
    elif isinstance(body, list):
        for i, value in enumerate(body):
            out.append((*prefix, i))
            out += paths(value, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        *parents, last = draw(st.sampled_from(paths(body)))
        target = body
        for step in parents:
            target = target[step]
        if last is None:
            last = draw(st.sampled_from(["x", "driver_id", "rider_id", "start_ts"]) | odd_text)
        target[last] = draw(hostile_values)
    return body


BODY_PATHS = [
    "/get-online-features",
    "/push",
    "/feedback",
    "/materialize",
    "/materialize-incremental",
    "/write-to-online-store",
]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def bases(client: httpx.Client, path: str) -> list[Any]:
    """Valid bodies of ``path`` (a fresh request id for feedback)."""
    if path == "/get-online-features":
        return [
            {
                "features": ["driver_trips:fare_log", "driver_trips:trips_1h"],
                "entities": {"driver_id": [1, 2]},
            },
            {
                "feature_service": "ranking_v1",
                "entities": {"driver_id": [3]},
                "request_data": {"distance_km": [2.5]},
                "full_feature_names": True,
            },
            {"features": ["rider_stats:rating"], "entities": {"rider_id": ["a", "b"]}},
        ]
    if path == "/push":
        rows = {"rider_id": ["a", "b"], "rating": [1.0, 4.5], "event_ts": [now(), now()]}
        return [{"push_source_name": "rider_events", "df": rows, "to": "online"}]
    if path == "/feedback":
        body = {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1]}}
        rid = client.post("/get-online-features", json=body).json()["metadata"]["request_id"]
        return [
            {"request_id": rid, "prediction": 0.5, "label": 1.0, "timestamp": now(), "group": "b"}
        ]
    if path == "/write-to-online-store":  # Feast's write: feature values as given
        rows = {"rider_id": ["a"], "rating": [2.0], "rating_x2": [4.0], "event_timestamp": [now()]}
        driver = {"driver_id": [1], "fare_log": [0.5], "is_night": [True], "last_fare": [2.0]}
        driver |= {"fare_sum_7d": [9.5], "trips_1h": [1], "event_timestamp": [now()]}
        return [
            {"feature_view_name": "rider_stats", "df": rows, "allow_registry_cache": False},
            {"feature_view_name": "driver_trips", "df": driver},  # windows too
        ]
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    if path == "/materialize-incremental":
        return [{"end_ts": now(), "feature_views": ["driver_trips"]}]
    return [
        {"views": ["driver_trips"], "start": start, "end": now()},
        {"feature_views": ["driver_trips"], "start_ts": start, "end_ts": now()},  # Feast's names
    ]


@pytest.mark.parametrize("path", BODY_PATHS)
def test_hostile_bodies_never_get_a_server_error(
    hostile: tuple[Served, httpx.Client], path: str
) -> None:
    _, client = hostile
    examples = 15 if path.startswith("/materialize") else 50

    @settings(FUZZ, max_examples=examples)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        base = data.draw(st.sampled_from(bases(client, path)))
        post(client, path, data.draw(mutated(base)))

    run()
    reports_answer(client)


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"\xff\xfe{}",
                b'{"entities": {"driver_id": [1]}, "features": ["\\ud800"]}',
                b'{"a": 1e999}',
                b'{"a": NaN}',
                b'{"a": -Infinity}',
                b"[" * 2000,
                b'{"entities": {"driver_id": [' + b"9" * 5000 + b"]}}",
                b'{"a": "\x00"}',
                b"\x00" * 100,
            ]
        ),
    ),
    path=st.sampled_from(BODY_PATHS),
    content_type=st.sampled_from(
        [
            None,
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain; charset=latin-1",
        ]
    ),
)
def test_raw_bytes_never_get_a_server_error(
    hostile: tuple[Served, httpx.Client], raw: bytes, path: str, content_type: str | None
) -> None:
    _, client = hostile
    headers = {"content-type": content_type} if content_type else {}
    check(client, "POST", path, content=raw, headers=headers)


windows = st.one_of(
    st.sampled_from(["1000000w", "0s", "0.0000001s", "99999999999999999999d", "1d", "-1d", "1e9w"]),
    odd_text,
    st.integers().map(lambda n: f"{n}d"),
)
stamps = st.one_of(times, odd_text, st.integers().map(str))


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/reports/skew",
            "/reports/performance",
            "/reports/drift",
            "/reports/contracts",
            "/reports/feedback-loop",
            "/policies/decisions",
        ]
    ),
    params=st.fixed_dictionaries(
        {},
        optional={
            "window": windows,
            "since": stamps,
            "until": stamps,
            "latest": st.sampled_from(["true", "false", "maybe"]),
            "reference": st.sampled_from([REFERENCE]) | odd_text,
            "view": st.sampled_from(["driver_trips"]) | odd_text,
            "limit": st.integers().map(str),
            "control": odd_text,
        },
    ),
)
def test_hostile_report_queries_never_get_a_server_error(
    hostile: tuple[Served, httpx.Client], path: str, params: dict[str, str]
) -> None:
    _, client = hostile
    safe = {
        k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in params.items()
    }
    check(client, "GET", path, params=safe)


@pytest.mark.parametrize(
    "path",
    [
        "/reports/drift?reference={long}",
        "/ui/{long}",
        "/rollouts/{long}/report",
    ],
)
def test_errors_quote_at_most_100_characters_of_a_long_input(
    hostile: tuple[Served, httpx.Client], path: str
) -> None:
    """An error names the input it refuses, quoting at most 100 characters of it (DESIGN 8),
    on the JSON endpoints and on the UI's HTML pages alike."""
    _, client = hostile
    reply = client.get(path.format(long="q" * 5000))
    assert 400 <= reply.status_code < 500, reply.text[:300]
    assert "q" * 100 in reply.text
    assert "q" * 101 not in reply.text


def test_reports_answer_after_everything(hostile: tuple[Served, httpx.Client]) -> None:
    _, client = hostile
    reports_answer(client)
