"""A recommender narrows what it shows; the store sees it, says retrain, and a canary of a new
view version with an exploration feature brings the diversity back in its arm.

Run it with ``python examples/recsys_feedback_loop/run.py`` (or
``make example NAME=recsys_feedback_loop``). Safe to import: ``featurestore apply`` imports every
top-level ``*.py`` of a repo, this one too.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script: make `examples` importable
    sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from examples._shared import UTC_US, Say, main, open_store, prepare_workdir, say_to  # noqa: E402
from examples.recsys_feedback_loop import _generate as gen  # noqa: E402
from featurestore import Feature, FeatureStore, FeatureView, col  # noqa: E402

VIEW = "user_taste"
USERS = list(range(gen.USERS))


def taste_rows(favorites: np.ndarray, week: int, at: dt.datetime) -> pl.DataFrame:
    """One week's batch of the source: every user's favorite item as of ``at``."""
    return pl.DataFrame(
        {
            "user_id": USERS,
            "favorite": favorites.tolist(),
            "week": [week] * gen.USERS,
            "updated_at": pl.Series([at] * gen.USERS, dtype=UTC_US),
        }
    )


def candidate(store: FeatureStore) -> FeatureView:
    """Version 2 of the view: the same favorite, plus an item to explore that rotates weekly."""
    current = store.get_feature_view(VIEW)
    explore = Feature("explore_item", (col("user_id") * 7 + col("week") * 3) % gen.ITEMS)
    return FeatureView(
        VIEW,
        entities=current.entities,
        source=current.source,
        ttl=current.ttl,
        features=[*current.features, explore],
    )


def recommend(values: dict[str, list[Any]], user: int, rng: np.random.Generator) -> int:
    """The model: a control user gets a random item; the others their favorite, or the item to
    explore when the view version serving them has one."""
    if gen.is_control(user):
        return int(rng.integers(0, gen.ITEMS))
    explore = values.get("explore_item", [None])[0]
    return int(explore if explore is not None else values["favorite"][0])


def serve_week(
    store: FeatureStore,
    rng: np.random.Generator,
    *,
    features: list[str],
    at: dt.datetime | None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Serve every user once, send feedback (timestamped ``at``; None: now); the items shown,
    the clicks and the request ids."""
    shown = np.zeros(gen.USERS, dtype=np.int64)
    clicked = np.zeros(gen.USERS, dtype=np.int64)
    ids = []
    for user in USERS:
        answer = store.get_online_features(features, entities={"user_id": [user]})
        shown[user] = recommend(answer.to_dict(), user, rng)
        clicked[user] = int(rng.random() < gen.CLICK)
        store.log_feedback(
            answer.request_id,
            prediction=int(shown[user]),
            label=int(clicked[user]),
            timestamp=at,
            group="control" if gen.is_control(user) else None,
        )
        ids.append(answer.request_id)
    return shown, clicked, ids


def _diversity(shown: np.ndarray) -> dict[str, Any]:
    model = np.array([s for u, s in enumerate(shown) if not gen.is_control(u)])
    counts = np.bincount(model, minlength=gen.ITEMS)
    return {"distinct": int((counts > 0).sum()), "top_share": float(counts.max() / counts.sum())}


def _weeks(store: FeatureStore, rng: np.random.Generator, first: dt.datetime, say: Say) -> Any:
    """Five weeks of serving on version 1; returns the weeks' diversity and the week-1 shown."""
    favorites = gen.first_favorites(rng)
    weeks, shown_first = [], None
    for week in range(1, gen.WEEKS + 1):
        start = gen.week_start(first, week)
        store.ingest(VIEW, taste_rows(favorites, week, start))
        store.materialize(end=start + dt.timedelta(hours=1))
        served_at = start + dt.timedelta(days=3)
        shown, clicked, _ = serve_week(store, rng, features=[f"{VIEW}:favorite"], at=served_at)
        if week == 1:
            shown_first = shown
            spine = pl.DataFrame(
                {
                    "user_id": USERS,
                    "event_timestamp": pl.Series([served_at] * gen.USERS, dtype=UTC_US),
                    "prediction": shown.tolist(),
                }
            )
            store.get_training_frame(spine, service="recs", save_as="recs_train_week1")
        weeks.append({"week": week, **_diversity(shown)})
        say(
            f"week {week}: {weeks[-1]['distinct']} items shown, top share {weeks[-1]['top_share']:.2f}"
        )
        favorites = gen.next_favorites(favorites, shown, clicked, rng)
    return weeks, shown_first


def run(workdir: Path, quiet: bool = False) -> dict[str, Any]:
    """Five weeks of a narrowing recommender; the feedback-loop report, the retraining policy,
    then a canary of the view's version 2 with an exploration feature.

    Args:
        workdir: where the repo copy, its generated data and all state go (emptied first).
        quiet: print nothing.

    Returns:
        The weeks' diversity, the report's flags, the policy's decisions in week 1 and week 5,
        and the rollout report's diversity per arm.
    """
    say = say_to(quiet)
    repo = prepare_workdir(HERE, workdir)
    rng = np.random.default_rng(gen.SEED)
    # the simulated weeks end yesterday: feedback may not be later than now
    first = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=7 * gen.WEEKS + 1)
    with open_store(repo) as store:
        say(f"== recsys_feedback_loop: project {store.project!r} in {repo}")
        taste_rows(gen.first_favorites(np.random.default_rng(0)), 0, first).write_parquet(
            repo / "data" / "taste.parquet"
        )  # the source's file, so `apply` can check its columns
        store.apply()
        weeks, _ = _weeks(store, rng, first, say)

        loops = store.feedback_loop_report(window="7d")
        say(f"feedback-loop report: narrowing={loops.narrowing}, flags={loops.flags}")
        early = store.evaluate_policies(now=gen.week_start(first, 2))
        late = store.evaluate_policies(now=gen.week_start(first, gen.WEEKS + 1))
        for when, decisions in (("after week 1", early), ("after week 5", late)):
            say(f"policy {when}: {decisions[0]}")

        version = store.apply([candidate(store)]).items[0].new_version
        store.start_rollout(VIEW, version=version, stage="canary", fraction=0.3)
        say(f"canary of {VIEW} version {version} for 30% of users")
        features = [f"{VIEW}:favorite", f"{VIEW}:explore_item"]
        serve_week(store, rng, features=features, at=None)
        report = store.rollout_report(VIEW)
        say(str(report))
        arms = {a.arm: a.to_dict() for a in report.arms}
        return {
            "project": store.project,
            "weeks": weeks,
            "narrowing": loops.narrowing,
            "flags": [f["flag"] for f in loops.flags],
            "policy_after_week1": early[0].to_dict(),
            "policy_after_week5": late[0].to_dict(),
            "candidate_version": version,
            "arms": arms,
        }


if __name__ == "__main__":
    main(HERE, run)
