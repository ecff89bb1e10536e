"""Training frames and saved datasets, each computed with chosen definition versions.

The store owns one :class:`Datasets`; its facade methods (``get_training_frame``,
``reproduce_dataset``, ``get_saved_dataset``) call it. The point-in-time join itself lives in
:mod:`featurestore.offline.training` and the per-bucket jobs in :mod:`featurestore.compute.jobs`;
this module chooses the definitions (current, older versions or a saved lineage), the committed
batches they read, and records what was saved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from featurestore.definitions import FeatureView, OnDemandFeatureView, from_spec
from featurestore.definitions.base import check_name
from featurestore.errors import RequestError
from featurestore.offline.inputs import read_file
from featurestore.offline.training import build_training_frame, prepare_spine
from featurestore.resolve import Lookup, Resolved, resolve

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["Datasets", "version_lookups"]


class Datasets:
    """Training frames of one store (see :meth:`FeatureStore.get_training_frame`)."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store

    def get_training_frame(
        self,
        spine: Any,
        *,
        features: Sequence[str] | None = None,
        service: str | None = None,
        full_feature_names: bool = False,
        point_in_time: Literal["known", "event"] = "known",
        save_as: str | None = None,
        versions: Mapping[str, int] | None = None,
    ) -> pl.DataFrame:
        """A point-in-time-correct training frame: one row per spine row, in order.

        Every feature is computed from the stored source rows with one definition version for
        all history: the current one, or the one ``versions`` names.

        Args:
            spine: entity keys, ``event_timestamp`` (UTC) and any extra columns (labels);
                a Polars/pandas/Arrow frame or a Parquet/CSV path.
            features: ``"view:feature"`` references, or
            service: a feature service name.
            full_feature_names: name columns ``view__feature``.
            point_in_time: "known" (default) uses only rows created by each spine time;
                "event" looks at event time only.
            save_as: save the frame and its lineage under this name (a drift reference);
                ``reproduce_dataset(name)`` recomputes it exactly.
            versions: ``{view: version}`` to compute some views with an older registered
                version (of a feature view or an on-demand view).
        """
        if isinstance(spine, str | Path):
            spine = read_file(self._store.repo_path / spine)  # an absolute path stays as it is
        return self._training_frame(
            spine,
            features=features,
            service=service,
            full_feature_names=full_feature_names,
            point_in_time=point_in_time,
            save_as=save_as,
            versions=versions,
        )

    def reproduce_dataset(self, name: str) -> pl.DataFrame:
        """Recompute a saved training frame from its lineage: the same spine, feature
        definitions (by version) and committed batches. Equal to the saved frame, column order
        and dtypes included, unless its source rows were deleted.

        Raises:
            NotFoundError: no dataset of that name.
            RequestError: it was saved before lineage was recorded.
        """
        store = self._store
        record = store.registry.get_dataset(name)
        lineage = record.get("lineage")
        if not lineage:
            raise RequestError(
                f"dataset {name!r} was saved without a lineage (by an older featurestore); "
                "save it again to make it reproducible"
            )
        saved = store.offline.read_url(record["path"])
        spine = saved.drop(lineage["columns"])
        if _spine_hash(spine) != record["spine_hash"]:
            raise RequestError(f"dataset {name!r}: its stored spine no longer matches its lineage")
        return self._training_frame(
            spine,
            features=lineage["features"],
            service=None,
            full_feature_names=lineage["full_feature_names"],
            point_in_time=lineage["point_in_time"],
            save_as=None,
            versions=lineage["versions"],
            snapshot=lineage["snapshot"],
        )

    def get_saved_dataset(self, name: str) -> pl.DataFrame:
        """A training frame saved with ``save_as``."""
        store = self._store
        return store.offline.read_url(store.registry.get_dataset(name)["path"])

    def _training_frame(
        self,
        spine: Any,
        *,
        features: Sequence[str] | None,
        service: str | None,
        full_feature_names: bool,
        point_in_time: Literal["known", "event"],
        save_as: str | None,
        versions: Mapping[str, int] | None,
        snapshot: int | None = None,
    ) -> pl.DataFrame:
        from featurestore.compute.jobs import training_values

        store = self._store
        if versions:
            resolved, used = self._resolve_versions(features, service, full_feature_names, versions)
        else:
            resolved = store.state.resolve(features, service, full_feature_names)
            used = self._versions_of(resolved)
        frame = prepare_spine(spine, resolved.join_keys, resolved.request_fields)
        if snapshot is None:
            snapshot = store.registry.last_commit()

        def values_of(
            view: FeatureView, names: list[str], keys: pl.DataFrame
        ) -> dict[str, pl.Series]:
            layout = store.layout(view, upto=snapshot)
            return training_values(store.engine, layout, names, keys, point_in_time)

        out = build_training_frame(frame, resolved, values_of, point_in_time)
        if save_as is not None:
            lineage = {
                "features": [f"{v}:{f}" for v, f in resolved.refs],
                "columns": list(resolved.names),
                "full_feature_names": full_feature_names,
                "point_in_time": point_in_time,
                "versions": used,
                "snapshot": snapshot,
            }
            self._save(save_as, frame, out, resolved, used, lineage)
        return out

    def _versions_of(self, resolved: Resolved) -> dict[str, int]:
        """The current version of every view a resolved request computes."""
        known = self._store.state.versions
        out = {name: known[("feature_view", name)] for name in resolved.views}
        out |= {name: known[("on_demand_feature_view", name)] for name in resolved.on_demand}
        return out

    def _resolve_versions(
        self,
        features: Sequence[str] | None,
        service: str | None,
        full_feature_names: bool,
        versions: Mapping[str, int],
    ) -> tuple[Resolved, dict[str, int]]:
        """Resolve a request with some views at older registered versions."""
        if not isinstance(versions, Mapping):
            raise RequestError("versions must map view names to version numbers")
        state = self._store.state
        chosen: dict[str, FeatureView | OnDemandFeatureView] = {}
        for name, version in versions.items():
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise RequestError(
                    f"versions[{name!r}] must be a positive version number, got {version!r}"
                )
            current = state.view_or_on_demand(name)
            stored = self._store.registry.get(current.kind, name, version)
            old = from_spec(stored.kind, stored.spec)
            assert isinstance(old, FeatureView | OnDemandFeatureView)
            chosen[name] = old

        def view(name: str) -> FeatureView | OnDemandFeatureView:
            return chosen.get(name) or state.view_or_on_demand(name)

        lookup = Lookup(view=view, service=state.service)
        resolved = resolve(
            lookup, features=features, service=service, full_feature_names=full_feature_names
        )
        used = self._versions_of(resolved)
        used |= {n: v for n, v in versions.items() if n in used}
        return resolved, used

    def _save(
        self,
        name: str,
        spine: pl.DataFrame,
        frame: pl.DataFrame,
        resolved: Resolved,
        versions: Mapping[str, int],
        lineage: Mapping[str, Any],
    ) -> None:
        check_name("dataset", name)
        store = self._store
        path = store.offline.write_file(store.offline.dataset_path(name), frame)
        store.registry.save_dataset(
            name,
            path=path,
            spine_hash=_spine_hash(spine),
            feature_refs={f"{v}:{f}": versions[v] for v, f in resolved.refs},
            rows=frame.height,
            overwrite=True,
            lineage=lineage,
        )


def version_lookups(store: FeatureStore) -> dict[str, Any]:
    """For the skew check: the version of a view in force at a time, and the definition of a
    view at a version (each read once from the registry's history)."""
    histories: dict[str, list[Any]] = {}

    def history(name: str) -> list[Any]:
        if name not in histories:
            kind = store.state.view_or_on_demand(name).kind
            histories[name] = store.registry.history(kind, name)
        return histories[name]

    held: dict[str, dict[int, dt.datetime | None]] = {}

    def in_force(name: str, at: dt.datetime) -> int:
        versions = history(name)
        if name not in held:  # a rollout's candidate is in force from its promotion only
            held[name] = store.rollout_steps.in_force_from(name)
        since = {v.version: held[name].get(v.version, v.created_at) for v in versions}
        applied = [n for n, t in since.items() if t is not None and t <= at]
        return int(max(applied) if applied else versions[0].version)

    def definition(name: str, version: int) -> FeatureView | OnDemandFeatureView:
        stored = next(v for v in history(name) if v.version == version)
        obj = from_spec(stored.kind, stored.spec)
        assert isinstance(obj, FeatureView | OnDemandFeatureView)
        return obj

    return {"in_force": in_force, "definition": definition}


def _spine_hash(spine: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(repr(spine.schema).encode())
    digest.update(spine.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()
