"""Logging for the feature server, with the standard library's :mod:`logging`.

``featurestore serve`` hands :func:`log_config` to uvicorn, which applies it in every worker
process: one handler on stderr for featurestore's loggers and uvicorn's (its startup lines and,
when asked for, its access log), as text or as one JSON object per line. What is logged:

- a startup line (address, project, workers, the stores with any password hidden);
- one line per error answered: a 4xx as one line naming the request and the answer's detail,
  an unexpected exception as a 500 with its traceback (``featurestore.server``);
- the access log, one line per request, with ``--access-log`` (``uvicorn.access``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from featurestore.online.base import redact_url

__all__ = ["JsonFormatter", "log_config", "startup_line"]


_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# the loggers a server writes to: ours, and uvicorn's own (startup, errors, access)
_LOGGERS = ("featurestore", "uvicorn", "uvicorn.error", "uvicorn.access")
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``traceback`` when there is one; access-log records also carry ``client``,
    ``method``, ``path``, ``http_version`` and ``status``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            data |= dict(zip(_ACCESS_FIELDS, args, strict=True))
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["traceback"] = record.exc_text
        return json.dumps(data, default=str)


def log_config(*, level: str = "info", fmt: str = "text") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` configuration (what uvicorn's ``log_config`` takes).

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: ``text`` (``time LEVEL logger: message``) or ``json`` (one object per line).
    """
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": _TEXT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "featurestore",
        "stream": "ext://sys.stderr",
    }
    loggers = {
        name: {"handlers": ["featurestore"], "level": level.upper(), "propagate": False}
        for name in _LOGGERS
    }
    # uvicorn.error and uvicorn.access write through their own handler, not uvicorn's
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"featurestore": formatter},
        "handlers": {"featurestore": handler},
        "loggers": loggers,
    }


def startup_line(
    *, address: str, project: str, workers: int, registry: str, online: str, offline: str
) -> str:
    """The first line a server logs: where it listens and what it serves from, with any
    password in a store URL replaced by ``***``."""
    return (
        f"featurestore serving project {project!r} on {address} ({workers} "
        f"worker{'s' if workers != 1 else ''}); registry {redact_url(registry)}, "
        f"online store {redact_url(online)}, offline store {redact_url(offline)}"
    )
