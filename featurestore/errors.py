"""The one error root of featurestore and its subclasses.

Every error a user can cause is a :class:`FeatureStoreError`. The CLI prints its message as one
line and exits non-zero; the HTTP server answers ``{"detail": message}`` with ``status_code``.

Exception tree::

    FeatureStoreError                 (400) anything a user can get wrong
    ├── ConfigError                   (400) featurestore.toml / environment problems
    ├── DefinitionError               (422) an invalid Entity, source, view, feature or service
    │   └── ExpressionError           (422) an invalid expression (unknown node, bad operand)
    ├── RepoError                     (400) a feature repo that cannot be loaded (file fails to import)
    ├── NotFoundError                 (404) an unknown view, feature, service, dataset or request id
    ├── RequestError                  (422) bad input at run time: spine, entities, request data, feedback
    ├── ConflictError                 (409) a concurrent change (racing apply, duplicate feedback)
    ├── ContractError                 (422) a batch rejected by its data contract; ``.report`` tells why
    ├── RegistryError                 (500) the registry cannot be read or written
    │   └── RegistryUnavailableError  (503) the registry database does not answer (down, locked)
    ├── AuthError                     (401) a missing or invalid bearer token
    │   └── ForbiddenError            (403) a valid token without the needed scope
    └── StoreUnavailableError         (503) the online store (or another service) does not answer
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "ContractError",
    "DefinitionError",
    "ExpressionError",
    "FeatureStoreError",
    "ForbiddenError",
    "NotFoundError",
    "RegistryError",
    "RegistryUnavailableError",
    "RepoError",
    "RequestError",
    "StoreUnavailableError",
]


class FeatureStoreError(Exception):
    """The root of every error featurestore raises on purpose.

    Attributes:
        status_code: the HTTP status the server answers with for this error.
    """

    status_code: int = 400

    @property
    def message(self) -> str:
        """The one-line message shown to users."""
        return " ".join(str(self).split()) or type(self).__name__


class ConfigError(FeatureStoreError):
    """``featurestore.toml`` or a ``FEATURESTORE_*`` variable is invalid."""


class DefinitionError(FeatureStoreError):
    """A definition (entity, source, view, feature, service) is invalid."""

    status_code = 422


class ExpressionError(DefinitionError):
    """An expression is invalid or cannot be compiled."""


class RepoError(FeatureStoreError):
    """A feature repo cannot be loaded (missing folder, a definition file that fails to import)."""


class NotFoundError(FeatureStoreError):
    """An unknown view, feature, service, dataset, run or request id."""

    status_code = 404


class RequestError(FeatureStoreError):
    """Input given at run time is wrong: a spine, entity keys, request data, feedback."""

    status_code = 422


class ConflictError(FeatureStoreError):
    """A concurrent change won, or the same thing was submitted twice."""

    status_code = 409


class ContractError(FeatureStoreError):
    """A batch was rejected by its data contract.

    Attributes:
        report: the recorded ``IngestReport`` (``status="rejected"``).
    """

    status_code = 422

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class RegistryError(FeatureStoreError):
    """The registry database cannot be read or written."""

    status_code = 500


class RegistryUnavailableError(RegistryError):
    """The registry database does not answer (down, unreachable, locked); retry later."""

    status_code = 503


class AuthError(FeatureStoreError):
    """A request lacks a valid bearer token."""

    status_code = 401


class ForbiddenError(AuthError):
    """A valid token lacks the scope the endpoint needs."""

    status_code = 403


class StoreUnavailableError(FeatureStoreError):
    """The online store (or another backing service) does not answer; retry later."""

    status_code = 503
