"""The HTTP feature server (FastAPI): ``create_app(store)`` and the uvicorn factory ``app_from_env``."""

from featurestore.server.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
