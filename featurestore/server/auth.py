"""Optional bearer-token auth with ``read`` and ``write`` scopes (``serving.tokens``).

Without configured tokens every endpoint is open. With tokens, reading features and reports
needs ``read``; push, materialize and feedback need ``write``; ``/health`` and ``/metrics`` stay
open (probes and Prometheus scrapers; they expose no feature data). A missing or unknown token
is a 401 with ``WWW-Authenticate: Bearer``; a known token without the scope is a 403.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from featurestore.config import TokenConfig
from featurestore.errors import AuthError, ForbiddenError

__all__ = ["Scope", "TokenTable", "check_token", "require_scope"]

Scope = Literal["read", "write"]


def _digest(token: str) -> bytes:
    # Comparing fixed-length digests keeps the comparison constant-time whatever the lengths.
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class TokenTable:
    """The configured tokens, kept as digests with their scopes."""

    entries: tuple[tuple[bytes, frozenset[str]], ...]

    @classmethod
    def from_config(cls, tokens: Sequence[TokenConfig]) -> TokenTable:
        return cls(tuple((_digest(t.token), frozenset(t.scopes)) for t in tokens))

    def scopes_of(self, token: str) -> frozenset[str] | None:
        """The scopes of ``token``, or None when it is unknown. Every entry is compared."""
        given = _digest(token)
        found: frozenset[str] | None = None
        for digest, scopes in self.entries:
            if hmac.compare_digest(given, digest):
                found = scopes
        return found


def check_token(table: TokenTable, authorization: str | None, scope: Scope, path: str) -> None:
    """Let a request through only with a bearer token holding ``scope`` (when tokens are set).

    Args:
        table: the configured tokens (none: every request passes).
        authorization: the request's ``Authorization`` header, if any.
        scope: ``"read"`` or ``"write"``.
        path: the request path, for the error message.

    Raises:
        AuthError: no bearer token, or an unknown one (401).
        ForbiddenError: a known token without ``scope`` (403).
    """
    if not table.entries:
        return
    kind, _, token = (authorization or "").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise AuthError(f"{path} needs an 'Authorization: Bearer <token>' header")
    scopes = table.scopes_of(token.strip())
    if scopes is None:
        raise AuthError(f"the bearer token is not valid for {path}")
    if scope not in scopes:
        raise ForbiddenError(f"the bearer token lacks the {scope!r} scope {path} needs")


def require_scope(scope: Scope) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that lets a request through only with a token holding ``scope``.

    Args:
        scope: ``"read"`` or ``"write"``.

    Returns:
        The dependency (async, so it runs on the event loop, not in a thread).
    """

    async def check(request: Request) -> None:
        check_token(
            request.app.state.tokens, request.headers.get("authorization"), scope, request.url.path
        )

    return check
