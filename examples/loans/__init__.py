"""The loans example (a feature repo; see README.md)."""
