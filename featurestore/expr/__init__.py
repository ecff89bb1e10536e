"""The expression language: one feature definition, two compilers that agree exactly.

An expression is an immutable tree built from :func:`col`, :func:`lit`, :func:`when`,
operators and methods. :func:`to_polars` compiles it for offline jobs, :func:`to_python` into a
row function for online serving; Polars is the reference semantics (nulls, NaN, int64
wrapping, ``//`` and ``%`` by zero giving null), except that ``/`` is correctly rounded IEEE
division on both sides. Expressions round-trip through JSON (:meth:`Expr.to_json`,
:func:`from_json`).

Example::

    from featurestore.expr import col, to_polars, to_python

    fare_log = (col("fare") + 1).log1p()
    frame.select(to_polars(fare_log).alias("fare_log"))
    to_python(fare_log)({"fare": 9.0})
"""

from featurestore.expr._dtype import output_dtype
from featurestore.expr._json import from_dict, from_json
from featurestore.expr._nodes import (
    Expr,
    coalesce,
    col,
    lit,
    max_horizontal,
    min_horizontal,
    when,
)
from featurestore.expr._polars import to_polars
from featurestore.expr._python import to_python

__all__ = [
    "Expr",
    "coalesce",
    "col",
    "from_dict",
    "from_json",
    "lit",
    "max_horizontal",
    "min_horizontal",
    "output_dtype",
    "to_polars",
    "to_python",
    "when",
]
