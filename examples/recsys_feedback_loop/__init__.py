"""A recommender whose exposure narrows over weeks (see README.md)."""
