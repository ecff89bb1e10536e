"""Running per-bucket jobs locally or on Ray (DESIGN §13)."""

from featurestore.compute.engine import Engine, LocalEngine, RayEngine, open_engine

__all__ = ["Engine", "LocalEngine", "RayEngine", "open_engine"]
