"""The online store knows when it lost its data: a plain materialize after a Redis restart
without persistence (or a deleted SQLite file) reloads every view in full and says why.

The Redis test runs a redis-server of its own (no persistence) on a free loopback port and
kills and restarts it by PID, as an operator's restart would.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from online.redis_servers import RedisServer, free_port
from store_repo import T0, trips_view

from featurestore import FeatureStore
from featurestore.online.marker import has_marker
from featurestore.serving import Request, answer

UTC_US = pl.Datetime("us", "UTC")
FEATURES = ["driver_trips:fare", "driver_trips:fare_sum_1d", "driver_trips:trips_1d"]
DRIVERS = [1, 2, 3]


def _ingest(store: FeatureStore, view: str = "driver_trips") -> None:
    store.ingest(
        view,
        pl.DataFrame(
            {
                "driver_id": [1, 2, 3, 1],
                "fare": [10.0, 20.0, 30.0, 11.0],
                "city": ["ams"] * 4,
                "event_ts": [T0 + timedelta(hours=h) for h in (0, 1, 2, 3)],
                "created_ts": [T0 + timedelta(hours=h) for h in (0, 1, 2, 3)],
            },
            schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US},
        ),
    )


def _served(store: FeatureStore, at: object) -> tuple[dict[str, list[object]], list[str]]:
    response = answer(
        store.state,
        Request(features=FEATURES, entities={"driver_id": DRIVERS}),
        store.online,
        now=at,
    )
    statuses = [s for name in ("fare", "fare_sum_1d") for s in response.statuses[name]]
    return response.to_dict(), statuses


def _check_reload(store: FeatureStore, lose: object) -> None:
    """Materialize, lose the online data with ``lose()``, then a plain materialize (a later
    end, nothing new ingested) serves every value again."""
    _ingest(store)
    first_end = T0 + timedelta(hours=4)
    first = store.materialize(end=first_end)
    assert first.reloaded is None
    assert has_marker(store.online, project=store.project)
    before, statuses = _served(store, first_end)
    assert set(statuses) == {"PRESENT"}
    lose()  # type: ignore[operator]
    assert not has_marker(store.online, project=store.project)
    second_end = first_end + timedelta(minutes=5)
    report = store.materialize(end=second_end)
    assert report.reloaded is not None and "lost its data" in report.reloaded
    assert report.to_dict()["reloaded"] == report.reloaded
    assert "lost its data" in str(report)
    after, statuses = _served(store, second_end)
    assert set(statuses) == {"PRESENT"}, after
    assert after == before  # the latest values and the 1-day windows alike
    # the marker is back: the next plain run is incremental again and writes nothing
    again = store.materialize(end=second_end)
    assert again.reloaded is None and again.rows == 0


def test_redis_restart_without_persistence_reloads_every_view(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        (tmp_path / "featurestore.toml").write_text(f'project = "marker"\nonline_store = "{url}"\n')
        with FeatureStore(tmp_path) as store:
            store.apply([trips_view(ttl=None)])

            def restart() -> None:
                pid = server.process.pid if server.process else None
                server.stop()
                server.start()
                assert server.process is not None and server.process.pid != pid
                assert server.cli("DBSIZE").strip() == b"0"

            _check_reload(store, restart)
    finally:
        server.stop()


def test_sqlite_online_file_lost_reloads_every_view(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text(
        'project = "marker"\nonline_store = "sqlite:///online.db"\n'
    )
    with FeatureStore(tmp_path) as store:
        store.apply([trips_view(ttl=None)])

        def wipe() -> None:
            # what a deleted online file comes back as: the same store, no rows
            for name in ("driver_trips", "driver_trips@windows", "@marker"):
                store.online.delete_view(name)

        _check_reload(store, wipe)


def test_first_materialization_is_not_a_reload(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text('project = "marker"\n')
    with FeatureStore(tmp_path) as store:
        store.apply([trips_view(ttl=None)])
        _ingest(store)
        assert store.materialize(end=T0 + timedelta(hours=4)).reloaded is None


@pytest.mark.parametrize("subset", [["driver_trips"]])
def test_reload_covers_views_not_asked_for(tmp_path: Path, subset: list[str]) -> None:
    """A lost store is reloaded whole even when one view is asked for: the marker written
    after the run vouches for every view."""
    (tmp_path / "featurestore.toml").write_text('project = "marker"\n')
    with FeatureStore(tmp_path) as store:
        store.apply([trips_view(ttl=None), trips_view(name="driver_trips_b", ttl=None)])
        _ingest(store)
        _ingest(store, "driver_trips_b")
        store.materialize(end=T0 + timedelta(hours=4))
        for name in ("driver_trips", "driver_trips@windows", "@marker"):
            store.online.delete_view(name)
        for name in ("driver_trips_b", "driver_trips_b@windows"):
            store.online.delete_view(name)
        report = store.materialize(subset, end=T0 + timedelta(hours=5))
        assert report.reloaded is not None
        assert set(report.views) == {"driver_trips", "driver_trips_b"}
        assert all(n > 0 for n in report.views.values())
