"""The sample feature repo (``featurestore init``) and the end-to-end demo (``featurestore quickstart``)."""

from featurestore.quickstart.sample import write_sample_repo

__all__ = ["write_sample_repo"]
