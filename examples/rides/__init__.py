"""The rides example (a feature repo; see README.md)."""
