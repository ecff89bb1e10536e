"""The simulated users and the popularity loop that narrows what they are shown (seeded).

Week 1: each user's favorite item is uniform over ``ITEMS`` items. The recommender shows each
user their favorite; a user clicks a shown item with probability ``CLICK``. Each week, a share
``PULL`` of users adopt one of the week's three most-clicked items as their new favorite (what
"people like you clicked" does): the items shown collapse onto a few popular ones. The control
group (every tenth user) is shown a random item and keeps its favorite.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

USERS = 300
ITEMS = 20
WEEKS = 5
CLICK = 0.4
PULL = 0.6
SEED = 13


def is_control(user: int) -> bool:
    """Traffic served without the model: every tenth user."""
    return user % 10 == 0


def first_favorites(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, ITEMS, USERS)


def next_favorites(
    favorites: np.ndarray, shown: np.ndarray, clicked: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The popularity pull: the week's three most-clicked items take over a share of users."""
    counts = np.bincount(shown[clicked.astype(bool)], minlength=ITEMS)
    popular = np.argsort(-counts, kind="stable")[:3]
    pulled = rng.random(USERS) < PULL
    pulled &= np.array([not is_control(u) for u in range(USERS)])
    out = favorites.copy()
    out[pulled] = rng.choice(popular, int(pulled.sum()))
    return out


def week_start(first: dt.datetime, week: int) -> dt.datetime:
    """When week ``week`` (1-based) starts."""
    return first + dt.timedelta(days=7 * (week - 1))


def explore_item(user: int, week: int) -> int:
    """The candidate version's exploration feature, computed the same way as its expression."""
    return (user * 7 + week * 3) % ITEMS
