"""Serving a rollout of a new view version: which arm serves an entity, shadow reads, canary reads.

A running rollout is part of the immutable :class:`~featurestore.serving.ServingState`. Its
candidate's online values live under their own record (``<view>@v<version>``, see
:func:`candidate_record`), next to the baseline's in the same entity hash, so one round trip
reads both and neither overwrites the other.

- **Which arm.** An entity's place in ``[0, 1)`` is a keyed BLAKE2b hash of its online key
  (keyed by the view, so it does not change when a rollout of the view is aborted and started
  again): in a ``canary``, entities below ``fraction`` are served the candidate, always the same
  ones.
- **Shadow** computes the candidate for a ``sample`` of requests (drawn per request, so the
  requests not drawn cost one random number) and never changes the answer: the candidate's
  reads ride along in the same round trip and the candidate answer is attached to the response
  (``OnlineResponse.shadow``) for the serving log, nothing else.
- **Canary** reads both records of the canary's entities and serves each row from its arm; the
  response records each row's arm (``OnlineResponse.arms``), the stored rows their version, and
  the request id which arm the request fell in (:func:`arm_code`), so feedback finds it.

Requests whose plan touches no rollout never come here: their path is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from featurestore.definitions import FeatureView
from featurestore.online import Column, ReadRequest, ReadResult, window_record

__all__ = [
    "CANDIDATE",
    "CURRENT",
    "MIXED",
    "SHADOW",
    "Routing",
    "ServingRollout",
    "arm_code",
    "candidate_record",
    "decode_arm",
    "merge_arms",
]

CURRENT, CANDIDATE, MIXED, SHADOW = "current", "candidate", "mixed", "shadow"
_ARM_STATE = {CURRENT: 1, CANDIDATE: 2, MIXED: 3}
_STATE_ARM = {v: k for k, v in _ARM_STATE.items()}
_SCALE = float(1 << 64)
_MEMO_MAX = 1_000_000


def candidate_record(view: str, version: int) -> str:
    """The online record of a candidate version's values (``@`` cannot occur in a view name)."""
    return f"{view}@v{version}"


def arm_code(rollout_id: int, arm: str) -> int:
    """The byte a request id carries: which rollout (one of 63 slots) and which arm; 0 for none."""
    return ((rollout_id - 1) % 63 + 1) * 4 + _ARM_STATE[arm]


def decode_arm(code: int) -> tuple[int, str] | None:
    """``(slot, arm)`` of a request id's arm byte; None when the request met no canary."""
    slot, state = divmod(code, 4)
    if slot == 0 or state == 0:
        return None
    return slot, _STATE_ARM[state]


def rollout_slot(rollout_id: int) -> int:
    """The slot :func:`arm_code` gives a rollout."""
    return (rollout_id - 1) % 63 + 1


@dataclass(frozen=True, eq=False)
class ServingRollout:
    """A running rollout as serving sees it.

    Attributes:
        id: the rollout's id in the registry.
        view: the view rolled out.
        baseline: the version in force (served outside the canary).
        candidate: the candidate version.
        stage: ``"shadow"`` or ``"canary"``.
        fraction: the canary's share of entities.
        sample: the shadow's share of requests.
        definition: the candidate version's definition.
    """

    id: int
    view: str
    baseline: int
    candidate: int
    stage: str
    fraction: float
    sample: float
    definition: FeatureView
    # online key -> its canary place: entities come back again and again
    _places: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def record(self) -> str:
        """The online record of the candidate's plain features."""
        return candidate_record(self.view, self.candidate)

    def _place(self, key: str) -> float:
        place = self._places.get(key)
        if place is None:
            digest = hashlib.blake2b(
                key.encode(), key=b"canary:" + self.view.encode()[:48], digest_size=8
            ).digest()
            place = int.from_bytes(digest, "big") / _SCALE
            if len(self._places) > _MEMO_MAX:
                self._places.clear()
            self._places[key] = place
        return place

    def in_canary(self, keys: Sequence[str]) -> list[bool]:
        """Per online entity key: is it served the candidate (always the same answer)?"""
        fraction = self.fraction
        return [self._place(k) < fraction for k in keys]


@dataclass(frozen=True, slots=True)
class Canary:
    """One read of a canary view: where its candidate values are and who gets them."""

    rollout: ServingRollout
    record: str


def canary_read(rollout: ServingRollout, record: str) -> Canary:
    """The canary of a read of ``record`` (the view's plain record or its windows')."""
    windows = record != rollout.view
    return Canary(rollout, window_record(rollout.record) if windows else rollout.record)


@dataclass(frozen=True)
class Routing:
    """How a request touching a rollout was split: what :func:`finish` puts back together.

    Attributes:
        main: how many reads the main answer has (they come first).
        canary: per main read index: (its candidate read's index, which rows are candidate).
        arms: view -> each row's arm, for the canary views.
        code: the arm byte of the request id.
        shadow: the candidate's pending answer for the shadow's entities (its reads come last).
        shadow_rows: the row of each of the shadow's entities in the request.
    """

    main: int
    canary: Mapping[int, tuple[int, list[bool], int]]
    arms: Mapping[str, Column[str]]
    code: int
    shadow: Any = None  # a serving.answer.Pending
    shadow_rows: Sequence[int] = ()

    def merged(self, results: Sequence[ReadResult]) -> list[ReadResult]:
        """The main reads' results, each canary row taken from its candidate read."""
        out = list(results[: self.main])
        for index, (extra, mask, version) in self.canary.items():
            out[index] = merge_arms(out[index], results[extra], mask, version)
        return out

    def shadow_results(self, results: Sequence[ReadResult]) -> Sequence[ReadResult]:
        """The results of the shadow's reads."""
        return results[self.main + len(self.canary) :]


def merge_arms(
    current: ReadResult, candidate: ReadResult, mask: Sequence[bool], version: int
) -> ReadResult:
    """One read's rows: the candidate's where ``mask`` is True (a missing candidate row counts as
    version ``version``, the candidate), else the baseline's."""
    if True not in mask:
        return current
    if False not in mask:
        chosen = candidate
        versions = [version if v is None else v for v in candidate.view_versions]
        return ReadResult(
            chosen.found, chosen.event_timestamps, chosen.values, chosen.nulls, Column(versions)
        )
    rows = list(zip(mask, range(len(mask)), strict=True))

    def pick(a: Sequence[Any], b: Sequence[Any]) -> Column[Any]:
        return Column([b[i] if m else a[i] for m, i in rows])

    cand_versions = [version if v is None else v for v in candidate.view_versions]
    return ReadResult(
        found=pick(current.found, candidate.found),
        event_timestamps=pick(current.event_timestamps, candidate.event_timestamps),
        values={f: pick(current.values[f], candidate.values[f]) for f in current.values},
        nulls=current.nulls or candidate.nulls,
        view_versions=pick(current.view_versions, cand_versions),
    )


def canary_reads(
    reads: list[ReadRequest], canaries: Sequence[tuple[int, Canary]]
) -> tuple[dict[int, tuple[int, list[bool], int]], dict[str, Column[str]], int]:
    """Append a candidate read per canary read with an entity in the canary; returns the routing of the canary reads, each
    canary view's row arms and the request's arm byte."""
    routed: dict[int, tuple[int, list[bool], int]] = {}
    arms: dict[str, Column[str]] = {}
    code = 0
    for index, canary in canaries:
        read = reads[index]
        rollout = canary.rollout
        mask = rollout.in_canary(read.entity_keys)
        if True in mask:  # no entity in the canary: the candidate's record is not read
            routed[index] = (len(reads), mask, rollout.candidate)
            reads.append(ReadRequest(canary.record, read.entity_keys, read.features))
        if rollout.view not in arms:
            arms[rollout.view] = Column([CANDIDATE if m else CURRENT for m in mask])
            if code == 0 and mask:
                arm = CANDIDATE if False not in mask else CURRENT if True not in mask else MIXED
                code = arm_code(rollout.id, arm)
    return routed, arms, code
