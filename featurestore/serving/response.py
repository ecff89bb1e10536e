"""The answer to an online request: :class:`OnlineResponse`, its read-only columns and statuses.

The answer mirrors Feast's: join keys first, then the features in the requested order, each with
values, statuses and event timestamps. Over HTTP the join keys and the on-demand features carry
the Unix epoch as their event times, as Feast's feature server writes them (a zero protobuf
``Timestamp``); in Python they are None, as no stored row timed them. Statuses: ``PRESENT``,
``NOT_FOUND`` (no row for the entity), ``NULL_VALUE`` (a stored null), ``OUTSIDE_MAX_AGE`` (older
than the view's ttl at request time: the value is withheld as null, unlike Feast).

An answer is immutable: its mappings are read-only views and every column is a
:class:`~featurestore.online.Column` (a list that refuses changes). Features may share a column
object (the features of one view share their event times, all-present features one status
list), which is safe only because no caller can change it; ``to_dict()`` hands out copies.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
import polars as pl

from featurestore.limits import EPOCH
from featurestore.online import Column
from featurestore.reports import iso

__all__ = ["EPOCH", "OnlineResponse", "Statuses", "freeze", "need_pandas"]

#: the event time Feast's feature server gives join keys and on-demand features
EPOCH_TEXT = iso(EPOCH)


class Statuses:
    """The status of each served value."""

    PRESENT = "PRESENT"
    NOT_FOUND = "NOT_FOUND"
    NULL_VALUE = "NULL_VALUE"
    OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"


_MAPPINGS = ("values", "statuses", "event_timestamps", "request_data", "view_versions", "arms")
_SEQUENCES = ("names", "join_keys", "refs", "on_demand")

#: a stored feature's served values, statuses and event times
ColumnTriple = tuple[Sequence[Any], Sequence[str], Sequence[dt.datetime | None]]


def freeze(columns: Mapping[Any, Sequence[Any]]) -> Mapping[Any, Column[Any]]:
    """A read-only mapping of read-only columns (columns that already are pass through, and
    names that share one list share one column)."""
    if isinstance(columns, MappingProxyType):
        return columns
    frozen: dict[int, Column[Any]] = {}  # by identity, while ``columns`` holds them
    out: dict[Any, Column[Any]] = {}
    for name, column in columns.items():
        if type(column) is Column:
            out[name] = column
            continue
        copy = frozen.get(id(column))
        if copy is None:
            copy = frozen[id(column)] = Column(column)
        out[name] = copy
    return MappingProxyType(out)


@dataclass(frozen=True)
class OnlineResponse:
    """Online features for a batch of entities, column-oriented and read-only.

    ``to_dict()`` gives join keys first, then features in the requested order; ``statuses`` and
    ``event_timestamps`` are keyed the same way; ``request_id`` identifies the call for feedback.

    Attributes:
        names: the join keys, then the output name of each requested feature.
        join_keys: the entity join keys.
        values: name -> served values (one per entity).
        statuses: name -> the status of each value.
        event_timestamps: name -> the event time of each value (None where none).
        request_id: the UUID4 hex id of this answer.
        requested_at: when it was served.
        refs: the ``(view, feature)`` of each requested feature.
        inputs: stored features read only as inputs of on-demand features: (values, statuses,
            event times) per ``(view, feature)``; the serving log records them so the skew check
            can tell stale inputs from a transformation that differs.
        request_data: the request data the on-demand features used, one column per field.
        view_versions: per stored ``(view, feature)`` served or used as an input, the view
            version that computed each row's value (where no row was found, the version in
            force answered); the serving log records it, so the skew check can tell a value
            computed by an older version of its view.
        on_demand: the output names of the features computed on demand.
        arms: per view under a canary rollout, each row's arm (``"current"`` or
            ``"candidate"``); empty otherwise.
        shadow: under a shadow rollout, the candidate's answer for the shadow's sampled
            entities (logged, never served); None otherwise.
        shadow_rows: in a shadow answer, the row of each of its entities in the served answer.
    """

    names: Sequence[str]
    join_keys: Sequence[str]
    values: Mapping[str, Sequence[Any]]
    statuses: Mapping[str, Sequence[str]]
    event_timestamps: Mapping[str, Sequence[dt.datetime | None]]
    request_id: str
    requested_at: dt.datetime
    refs: Sequence[tuple[str, str]] = ()
    inputs: Mapping[tuple[str, str], ColumnTriple] = field(default_factory=dict)
    request_data: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    view_versions: Mapping[tuple[str, str], Sequence[int | None]] = field(default_factory=dict)
    #: event time -> its ISO text: the serving state's memo (answers share few event times),
    #: or None for one kept per call
    iso_texts: dict[dt.datetime, str | None] | None = field(default=None, repr=False, compare=False)
    on_demand: Sequence[str] = ()
    arms: Mapping[str, Sequence[str]] = field(default_factory=dict)
    shadow: OnlineResponse | None = field(default=None, repr=False, compare=False)
    shadow_rows: Sequence[int] = ()

    def __post_init__(self) -> None:
        # Serving hands over frozen parts already (checked by type, no call); an answer built
        # by hand is frozen here. The instance dict is written directly: the dataclass is
        # frozen to callers, not to itself.
        fields = self.__dict__
        for name in _MAPPINGS:
            value = fields[name]
            if type(value) is not MappingProxyType:
                fields[name] = freeze(value)
        for name in _SEQUENCES:
            value = fields[name]
            if type(value) is not Column:
                fields[name] = Column(value)
        if type(self.inputs) is not MappingProxyType:
            triples = {ref: tuple(map(Column, triple)) for ref, triple in self.inputs.items()}
            fields["inputs"] = MappingProxyType(triples)

    def to_dict(self) -> dict[str, list[Any]]:
        """Join keys, then features in the requested order: name -> a new list of values."""
        return {name: list(self.values[name]) for name in self.names}

    def to_polars(self) -> pl.DataFrame:
        """The values as a Polars frame (join keys first)."""
        return pl.DataFrame(self.to_dict(), strict=False)

    def to_pandas(self) -> Any:
        """The values as a pandas DataFrame (join keys first), like Feast's ``to_df()``.

        Raises:
            ImportError: pandas is not installed (``pip install 'featurestore[pandas]'``).
        """
        need_pandas("OnlineResponse.to_pandas()")
        return self.to_polars().to_pandas()

    def to_df(self) -> Any:
        """:meth:`to_pandas` under Feast's name."""
        return self.to_pandas()

    def _timeless(self, name: str) -> bool:
        """Whether Feast writes the epoch as ``name``'s event times (join keys, on-demand; both
        lists are short, shorter than a set would be to build)."""
        return name in self.join_keys or name in self.on_demand

    def _metadata(self, view_versions: Mapping[str, int] | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"feature_names": self.names, "request_id": self.request_id}
        if view_versions is not None:
            views = dict.fromkeys(view for view, _ in self.refs)  # in the requested order
            metadata["feature_view_metadata"] = [
                {"name": view, "version": view_versions.get(view, 0)} for view in views
            ]
        return metadata

    def to_feast(self, *, view_versions: Mapping[str, int] | None = None) -> dict[str, Any]:
        """The HTTP answer, in Feast's column-oriented shape.

        Args:
            view_versions: view name -> its version in force; when given,
                ``metadata.feature_view_metadata`` lists ``{name, version}`` of each view of
                the requested features (Feast's ``include_feature_view_version_metadata``).
        """
        return {
            "metadata": {**self._metadata(view_versions), "feature_names": list(self.names)},
            "results": [
                {
                    "values": [_json_value(v) for v in self.values[name]],
                    "statuses": list(self.statuses[name]),
                    "event_timestamps": [
                        EPOCH_TEXT if t is None and self._timeless(name) else iso(t)
                        for t in self.event_timestamps[name]
                    ],
                }
                for name in self.names
            ],
        }

    def to_feast_json(self, *, view_versions: Mapping[str, int] | None = None) -> bytes:
        """``to_feast()`` serialised to JSON bytes (what the server sends).

        Statuses and event times are written once per distinct column (features share them, see
        the module docstring) and spliced in as orjson fragments; orjson writes the values. NaN
        and infinite floats become ``null``, as JSON has no such numbers.
        """
        # Keyed by identity for this call only: the columns are alive and read-only meanwhile.
        written: dict[int, orjson.Fragment] = {}
        texts = self.iso_texts
        if texts is None or len(texts) > 100_000:
            texts = {} if texts is None else _cleared(texts)
        dumps, fragment = orjson.dumps, orjson.Fragment
        keys, on_demand = self.join_keys, self.on_demand  # see _timeless
        values_of, statuses_of, stamps_of = self.values, self.statuses, self.event_timestamps
        # Consecutive features nearly always share both columns (one view's features): the
        # previous feature's fragments are reused on identity, without a lookup.
        last_statuses: Any = None
        last_stamps: Any = None
        last_timeless = False
        status_json = stamps_json = _NO_FRAGMENT
        results: list[dict[str, Any]] = []
        append = results.append
        for name in self.names:
            statuses, stamps = statuses_of[name], stamps_of[name]
            if statuses is not last_statuses:
                last_statuses = statuses
                status_json = written.get(id(statuses))  # type: ignore[assignment]
                if status_json is None:
                    status_json = written[id(statuses)] = fragment(dumps(statuses))
            timeless = name in keys or name in on_demand
            if stamps is not last_stamps or timeless is not last_timeless:
                last_stamps, last_timeless = stamps, timeless
                key = _EPOCHS if timeless else id(stamps)
                stamps_json = written.get(key)  # type: ignore[assignment]
                if stamps_json is None:
                    texts_of = (
                        [EPOCH_TEXT] * len(stamps) if key == _EPOCHS else _iso_texts(stamps, texts)
                    )
                    stamps_json = written[key] = fragment(dumps(texts_of))
            append(
                {
                    "values": values_of[name],
                    "statuses": status_json,
                    "event_timestamps": stamps_json,
                }
            )
        answer = {"metadata": self._metadata(view_versions), "results": results}
        return dumps(answer, default=_orjson_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def need_pandas(what: str) -> None:
    """Raise an ImportError saying how to install pandas if it is missing (it is optional)."""
    try:
        importlib.import_module("pandas")
    except ImportError:
        raise ImportError(f"{what} needs pandas: pip install 'featurestore[pandas]'") from None


_EPOCHS = -1  # the key of the epochs column among the ids of written columns (never negative)
_NO_FRAGMENT = orjson.Fragment(b"null")  # before the first column is written


def _iso_texts(
    stamps: Sequence[dt.datetime | None], texts: dict[dt.datetime, str | None]
) -> list[str | None]:
    """The ISO text of each event time; the entities of a read often share one, written once.

    Looked up in one C-level pass; only new event times (and nulls) take the row loop."""
    out: list[str | None] = list(map(texts.get, stamps))  # type: ignore[arg-type]
    if None in out:
        for i, stamp in enumerate(stamps):
            if out[i] is None and stamp is not None:
                out[i] = texts[stamp] = iso(stamp)
    return out


def _cleared(texts: dict[dt.datetime, str | None]) -> dict[dt.datetime, str | None]:
    texts.clear()
    return texts


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
