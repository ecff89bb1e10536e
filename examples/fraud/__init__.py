"""The fraud example (a feature repo; see README.md)."""
