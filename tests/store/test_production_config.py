"""The production-like setup: PostgreSQL registry, Redis online store, and ingestion from a SQL query."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandera.polars as pa
import pytest
import sqlalchemy as sa

from featurestore import Entity, Feature, FeatureStore, FeatureView, SqlSource, col


class Orders(pa.DataFrameModel):
    customer_id: int = pa.Field(ge=0)
    amount: float = pa.Field(ge=0)


def test_postgres_registry_redis_online_and_sql_ingestion(
    tmp_path: Path, postgres_url: str, redis_url: str, project_name: str
) -> None:
    engine = sa.create_engine(postgres_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE orders (customer_id bigint, amount double precision, ts timestamptz)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO orders VALUES (1, 10.5, :t1), (2, 20.0, :t2), (3, -1.0, :t2)"),
            {"t1": now - dt.timedelta(hours=2), "t2": now - dt.timedelta(hours=1)},
        )
    engine.dispose()
    source = SqlSource(
        "orders", query="SELECT customer_id, amount, ts FROM orders", timestamp_field="ts"
    )
    view = FeatureView(
        "orders",
        entities=[Entity("customer", join_keys=["customer_id"], value_type=int)],
        source=source,
        contract=Orders,
        ttl=dt.timedelta(days=1),
        features=[Feature("amount", col("amount")), Feature("big", col("amount") > 15)],
    )
    (tmp_path / "featurestore.toml").write_text(
        f'project = "{project_name}"\nregistry = "{postgres_url}"\nonline_store = "{redis_url}"\n'
    )
    with FeatureStore(tmp_path) as store:
        plan = store.apply([view])
        assert {i.name for i in plan.items if i.action == "add"} >= {"orders", "customer"}
        report = store.ingest("orders", query=source.query, url=postgres_url)
        assert (report.rows_in, report.rows_written, report.rows_quarantined) == (3, 2, 1)
        assert report.source.startswith("sql:")
        store.materialize()
        answer = store.get_online_features(
            ["orders:amount", "orders:big"], entities={"customer_id": [1, 2, 3]}
        )
        assert answer.to_dict() == {
            "customer_id": [1, 2, 3],
            "amount": [10.5, 20.0, None],
            "big": [False, True, None],
        }
        assert answer.statuses["amount"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
        store.online.delete_view("orders")

    # the CLI reads the same query with --query/--url into the same registry
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurestore.cli",
            "--repo",
            str(tmp_path),
            "ingest",
            "orders",
            "--query",
            "SELECT customer_id, amount, ts FROM orders WHERE amount > 0",
            "--url",
            postgres_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "2 in, 2 written" in result.stdout


def test_bad_sql_is_one_clear_error(tmp_path: Path, postgres_url: str, project_name: str) -> None:
    source = SqlSource("orders", query="SELECT 1", timestamp_field="ts")
    view = FeatureView(
        "orders",
        entities=[Entity("customer", join_keys=["customer_id"])],
        source=source,
        features=[Feature("amount", col("amount"))],
    )
    (tmp_path / "featurestore.toml").write_text(f'project = "{project_name}"\n')
    with FeatureStore(tmp_path) as store:
        store.apply([view])
        from featurestore import RequestError

        with pytest.raises(RequestError, match=r"query on .* failed: .*no_such_table"):
            store.ingest("orders", query="SELECT * FROM no_such_table", url=postgres_url)
