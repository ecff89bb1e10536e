"""The pipeline_decay example (a feature repo; see README.md)."""
