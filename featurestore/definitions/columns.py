"""Apply-time checks: every column a view names must exist in what its source is known to hold.

What is known of a source, most certain first: the header of its file when the file exists at
apply time; else its declared ``schema`` (a ``PushSource`` always has one) together with its
contract's columns; else the columns of a *strict* contract. A non-strict contract alone says
nothing of the columns it leaves out, and a SQL source without a schema is not queried: then
nothing is checked here and ingestion names any missing column.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from featurestore.definitions.views import FeatureView
from featurestore.errors import DefinitionError

__all__ = ["check_view_columns", "known_columns"]


def known_columns(view: FeatureView, header: Iterable[str] | None) -> set[str] | None:
    """The columns ``view``'s source is known to have, or None when nothing is known.

    Args:
        header: the columns of the source's file, when it exists.
    """
    if header is not None:
        return set(header)
    declared = view.source.columns()
    if declared is not None:
        return declared | set(view.contract_columns)
    if view.contract is not None and view.contract_strict:
        return set(view.contract_columns)
    return None


def check_view_columns(view: FeatureView, known: set[str] | None) -> None:
    """Refuse a view naming a column its source lacks (keys, timestamps, features, contract).

    Raises:
        DefinitionError: one line naming the view, what names the column, the column and the
            columns that exist.
    """
    if known is None:
        return
    src = view.source
    named: list[tuple[str, AbstractSet[str]]] = [(f"join key {k!r}", {k}) for k in view.join_keys]
    named.append((f"timestamp_field {src.timestamp_field!r}", {src.timestamp_field}))
    if src.created_timestamp_field:
        named.append(
            (
                f"created_timestamp_field {src.created_timestamp_field!r}",
                {src.created_timestamp_field},
            )
        )
    named += [(f"feature {f.name!r}", f.expr.columns()) for f in view.features]
    named += [(f"contract column {c!r}", {c}) for c in view.contract_columns]
    for what, columns in named:
        missing = sorted(columns - known)
        if missing:
            raise DefinitionError(
                f"view {view.name!r}, {what}: column {missing[0]!r} is not in source "
                f"{src.name!r} (its columns: {', '.join(sorted(known)) or 'none'})"
            )
