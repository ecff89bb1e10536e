"""Request ids: UUID4 hex strings that carry their project's tag."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from featurestore.serving.requestids import is_request_id, new_request_id


def test_ids_are_uuid4_hex_and_recognised_by_their_project_only() -> None:
    ids = {new_request_id("rides") for _ in range(1000)}
    assert len(ids) == 1000
    for rid in list(ids)[:50]:
        parsed = uuid.UUID(rid)
        assert parsed.hex == rid and parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert is_request_id("rides", rid)
        assert not is_request_id("fraud", rid)


@given(st.text(max_size=40))
def test_anything_else_is_refused(text: str) -> None:
    assert not is_request_id("rides", text)


def test_random_uuids_are_refused() -> None:
    assert not any(is_request_id("rides", uuid.uuid4().hex) for _ in range(10_000))
    assert not is_request_id("rides", None)
