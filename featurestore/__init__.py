"""featurestore: define a feature once; train on it offline, serve it online, prove they agree."""

from featurestore.errors import FeatureStoreError

__version__ = "0.1.0"

__all__ = ["FeatureStoreError", "__version__"]
