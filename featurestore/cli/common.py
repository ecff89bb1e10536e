"""What every command shares: the Typer apps, consoles, global options and error handling.

Every user mistake prints one line (``error: ...``) on stderr and exits 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from featurestore.errors import ContractError, FeatureStoreError
from featurestore.limits import clip
from featurestore.reports import parse_iso

__all__ = [
    "CHECK_FAILED",
    "JsonOption",
    "app",
    "check_failed",
    "command",
    "err",
    "fail",
    "open_store",
    "out",
    "parity_app",
    "parse_when",
    "print_json",
    "reports_app",
    "state",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The exit code of a check that ran and failed (a gate for CI jobs and schedulers).
CHECK_FAILED = 3

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the to_dict() shape).")]

app = typer.Typer(
    help=(
        "featurestore: define a feature once; train on it offline, serve it online, prove they agree.\n\n"
        "Example: featurestore quickstart"
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
parity_app = typer.Typer(
    help="Train-serve parity checks.\n\nExample: featurestore parity skew", no_args_is_help=True
)
reports_app = typer.Typer(
    help="Read recorded reports.\n\nExample: featurestore reports contracts --json",
    no_args_is_help=True,
)
app.add_typer(parity_app, name="parity")
app.add_typer(reports_app, name="reports")

# No markup: what the commands print holds users' names, paths and values, which may contain
# brackets ("[/tmp/x]"); styles are given as Text styles instead.
out = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False, markup=False)
state: dict[str, Any] = {"repo": Path("."), "debug": False}


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit to raise.

    The message is printed as plain text, never as Rich markup: a message holding ``[/path]``
    or ``[bold]`` (a file name, a user's value) is shown as it is, cut as the server cuts its
    errors (:func:`featurestore.limits.clip`: a quoted input shows at most 100 characters).
    """
    err.print(Text.assemble(("error:", "bold red"), " ", clip(message)), soft_wrap=True)
    return typer.Exit(code)


def check_failed(message: str) -> typer.Exit:
    """Say which check failed (one line on stderr) and exit with :data:`CHECK_FAILED`."""
    err.print(f"check failed: {message}", markup=False, soft_wrap=True)
    return typer.Exit(CHECK_FAILED)


def command(fn: F) -> F:
    """Turn FeatureStoreErrors into one line and exit code 1 (traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # exits, and usage errors Typer reports itself (exit 2)
        except FeatureStoreError as exc:
            if state["debug"]:
                raise
            if isinstance(exc, ContractError) and exc.report is not None:
                out.print(str(exc.report), markup=False)  # the details on stdout, the error below
            raise fail(exc.message) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Exception as exc:
            if state["debug"]:
                raise
            text = " ".join(str(exc).split())
            raise fail(
                f"unexpected {type(exc).__name__}: {text} (rerun with --debug for details)", 2
            ) from None

    return wrapper  # type: ignore[return-value]


def open_store() -> Any:
    from featurestore.store import FeatureStore

    return FeatureStore(state["repo"])


def parse_when(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise FeatureStoreError(f"--{what} {value!r} is not an ISO 8601 timestamp") from None


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))
