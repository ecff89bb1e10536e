"""What the registry holds, summarised for people: ``featurestore list``/``describe`` and the UI.

Every function reads through the public :class:`~featurestore.FeatureStore` API and returns
JSON-ready dicts (timestamps as ISO 8601 UTC strings), so the CLI's ``--json``, its tables and
the web UI show the same figures.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from featurestore.errors import NotFoundError, RequestError
from featurestore.reports import iso, parse_iso

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["LISTS", "describe", "list_datasets", "list_services", "list_views", "online_rows"]

VIEW_KINDS = ("feature_view", "on_demand_feature_view")
LISTS = ("views", "services", "datasets", "entities", "sources")


def _age(since: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if since is None else round((now - since).total_seconds(), 3)


def list_views(store: FeatureStore, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every current feature view and on-demand view: version, keys, features, ttl, the
    materialization watermark and its age (``freshness_seconds``), and the last ingestion run."""
    now = now or dt.datetime.now(dt.UTC)
    registry = store.registry
    latest: dict[str, dict[str, Any]] = {}
    for report in registry.ingestion_reports():
        latest.setdefault(report["view"], report)  # newest first
    out = []
    for kind in VIEW_KINDS:
        for obj in registry.list(kind):
            spec = obj.spec
            row: dict[str, Any] = {
                "name": obj.name,
                "kind": kind,
                "version": obj.version,
                "applied_at": iso(obj.created_at),
                "features": [f["name"] for f in spec.get("features", [])],
            }
            if kind == "feature_view":
                watermark = registry.watermark(obj.name)
                last = latest.get(obj.name)
                row |= {
                    "entities": [e["name"] for e in spec.get("entities", [])],
                    "join_keys": [k for e in spec.get("entities", []) for k in e["join_keys"]],
                    "ttl_seconds": None if spec.get("ttl_us") is None else spec["ttl_us"] / 1e6,
                    "source": spec.get("source", {}).get("name"),
                    "online": spec.get("online", True),
                    "watermark": iso(watermark),
                    "freshness_seconds": _age(watermark, now),
                    "last_ingestion": None
                    if last is None
                    else {
                        k: last[k]
                        for k in ("run_id", "status", "started_at", "rows_in", "rows_quarantined")
                    },
                }
            else:
                row["sources"] = [s.get("name") for s in spec.get("sources", [])]
            out.append(row)
    return out


def online_rows(store: FeatureStore, views: list[str]) -> dict[str, int | None]:
    """Rows each view has in the online store (None where the store cannot be read)."""
    counts: dict[str, int | None] = {}
    for view in views:
        try:
            counts[view] = store.online.count(view)
        except Exception:  # a down online store must not take the overview with it
            counts[view] = None
    return counts


def list_services(store: FeatureStore) -> list[dict[str, Any]]:
    """Every current feature service with its version and feature references."""
    return [
        {
            "name": o.name,
            "version": o.version,
            "applied_at": iso(o.created_at),
            "features": list(o.spec.get("features", [])),
        }
        for o in store.registry.list("feature_service")
    ]


def list_datasets(store: FeatureStore) -> list[dict[str, Any]]:
    """Every saved training frame with its lineage (rows, feature refs with versions)."""
    return [{**d, "created_at": iso(d["created_at"])} for d in store.registry.list_datasets()]


def _simple(store: FeatureStore, kind: str) -> list[dict[str, Any]]:
    return [
        {"name": o.name, "version": o.version, "applied_at": iso(o.created_at), "spec": o.spec}
        for o in store.registry.list(kind)
    ]


def listing(store: FeatureStore, what: str) -> list[dict[str, Any]]:
    """``views``, ``services``, ``datasets``, ``entities`` or ``sources``.

    Raises:
        RequestError: anything else.
    """
    if what == "views":
        return list_views(store)
    if what == "services":
        return list_services(store)
    if what == "datasets":
        return list_datasets(store)
    if what == "entities":
        return _simple(store, "entity")
    if what == "sources":
        return _simple(store, "data_source")
    raise RequestError(f"cannot list {what!r}; choose one of {', '.join(LISTS)}")


def describe(store: FeatureStore, name: str) -> dict[str, Any]:
    """Everything the registry knows about ``name``: a view, service, entity, source or dataset.

    A name used by several kinds (a view and its source, say) gives one entry per kind.

    Returns:
        ``{name, matches: [{kind, version, applied_at, versions, spec, ...}]}``; a feature view
        adds its watermark and its last five ingestion runs, a dataset its lineage.

    Raises:
        NotFoundError: nothing has that name.
    """
    registry = store.registry
    matches: list[dict[str, Any]] = []
    for obj in registry.list():
        if obj.name != name:
            continue
        entry: dict[str, Any] = {
            "kind": obj.kind,
            "version": obj.version,
            "applied_at": iso(obj.created_at),
            "versions": [
                {"version": h.version, "applied_at": iso(h.created_at)}
                for h in registry.history(obj.kind, name)
            ],
            "spec": obj.spec,
        }
        if obj.kind == "feature_view":
            entry["watermark"] = iso(registry.watermark(name))
            entry["ingestion_runs"] = [
                {k: r[k] for k in ("run_id", "status", "started_at", "rows_in", "rows_written")}
                | {"rows_quarantined": r["rows_quarantined"]}
                for r in registry.ingestion_reports(name, 5)
            ]
        matches.append(entry)
    for dataset in list_datasets(store):
        if dataset["name"] == name:
            matches.append({"kind": "dataset", **dataset})
    if not matches:
        raise NotFoundError(
            f"nothing is named {name!r} in project {store.project!r} "
            "(see `featurestore list views|services|datasets`)"
        )
    return {"name": name, "matches": matches}


def seconds_since(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from an ISO timestamp to ``now``; None for None."""
    when = parse_iso(value) if value else None
    return _age(when, now or dt.datetime.now(dt.UTC))
