"""The answer to an online request: :class:`OnlineResponse` and the statuses it carries.

The answer mirrors Feast's: join keys first, then the features in the requested order, each with
values, statuses and event timestamps. Statuses: ``PRESENT``, ``NOT_FOUND`` (no row for the
entity), ``NULL_VALUE`` (a stored null), ``OUTSIDE_MAX_AGE`` (older than the view's ttl at request
time: the value is withheld as null, unlike Feast). :mod:`featurestore.serving` builds it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from featurestore.reports import iso

__all__ = ["OnlineResponse", "Statuses"]


class Statuses:
    PRESENT = "PRESENT"
    NOT_FOUND = "NOT_FOUND"
    NULL_VALUE = "NULL_VALUE"
    OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"


@dataclass(frozen=True)
class OnlineResponse:
    """Online features for a batch of entities, column-oriented.

    ``to_dict()`` gives join keys first, then features in the requested order; ``statuses`` and
    ``event_timestamps`` are keyed the same way; ``request_id`` identifies the call for feedback.
    The features of one view share one list of event times: treat the lists as read-only.
    """

    names: list[str]
    join_keys: list[str]
    values: dict[str, list[Any]]
    statuses: dict[str, list[str]]
    event_timestamps: dict[str, list[dt.datetime | None]]
    request_id: str
    requested_at: dt.datetime
    refs: list[tuple[str, str]] = field(default_factory=list)
    #: stored features read only as inputs of on-demand features: (values, statuses, timestamps)
    #: per (view, feature); the serving log records them so the skew check can tell stale inputs
    #: from a transformation that differs
    inputs: dict[tuple[str, str], tuple[list[Any], list[str], list[dt.datetime | None]]] = field(
        default_factory=dict
    )
    #: the request data the on-demand features used, one list per field (typed as declared)
    request_data: dict[str, list[Any]] = field(default_factory=dict)
    #: per stored (view, feature) served or used as an input: the view version that computed
    #: each row's value (None where no row was found: the version in force answered); the
    #: serving log records it, so the skew check can tell an outdated row
    view_versions: dict[tuple[str, str], list[int | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, list[Any]]:
        return {name: self.values[name] for name in self.names}

    def to_polars(self) -> pl.DataFrame:
        return pl.DataFrame(self.to_dict(), strict=False)

    def to_feast(self) -> dict[str, Any]:
        """The HTTP answer, in Feast's column-oriented shape."""
        return {
            "metadata": {"feature_names": self.names, "request_id": self.request_id},
            "results": [
                {
                    "values": [_json_value(v) for v in self.values[name]],
                    "statuses": self.statuses[name],
                    "event_timestamps": [iso(t) for t in self.event_timestamps[name]],
                }
                for name in self.names
            ],
        }

    def to_feast_json(self) -> bytes:
        """``to_feast()`` serialised to JSON bytes (what the server sends).

        Statuses and event times are written once per distinct list (the features of one view
        share their event times, and all-present features one status list) and spliced in as
        orjson fragments; orjson writes the values. NaN and infinite floats become ``null``, as
        JSON has no such numbers.
        """
        written: dict[int, orjson.Fragment] = {}
        dumps, fragment = orjson.dumps, orjson.Fragment
        results = []
        for name in self.names:
            statuses, stamps = self.statuses[name], self.event_timestamps[name]
            status_json = written.get(id(statuses))
            if status_json is None:
                status_json = written[id(statuses)] = fragment(dumps(statuses))
            stamps_json = written.get(id(stamps))
            if stamps_json is None:
                stamps_json = written[id(stamps)] = fragment(
                    dumps([None if t is None else _iso(t) for t in stamps])
                )
            results.append(
                {
                    "values": self.values[name],
                    "statuses": status_json,
                    "event_timestamps": stamps_json,
                }
            )
        answer = {
            "metadata": {"feature_names": self.names, "request_id": self.request_id},
            "results": results,
        }
        return dumps(answer, default=_orjson_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


#: served event time -> its ISO text; served rows share few distinct event times
_ISO_TEXT: dict[dt.datetime, str] = {}


def _iso(value: dt.datetime) -> str | None:
    """:func:`featurestore.reports.iso`, remembered (equal datetimes are written alike)."""
    text = _ISO_TEXT.get(value)
    if text is None:
        if len(_ISO_TEXT) > 100_000:
            _ISO_TEXT.clear()
        text = _ISO_TEXT[value] = iso(value)  # type: ignore[assignment]
    return text


def _json_value(value: Any) -> Any:
    return iso(value) if isinstance(value, dt.datetime) else value


def _orjson_default(value: Any) -> Any:
    """What orjson cannot write itself: datetimes as in ``to_feast``, durations as seconds."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"a served value of type {type(value).__name__} cannot be written as JSON")
