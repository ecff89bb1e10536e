"""The expression language: one feature definition, two compilers that agree exactly.

An expression is an immutable tree built from :func:`col`, :func:`lit`, :func:`when`,
operators and methods. :func:`to_polars` compiles it for offline jobs, :func:`to_python` into a
row function for online serving. Polars is the reference semantics: nulls propagate, NaN sorts
last and equals NaN, int64 arithmetic wraps, integer ``//`` and ``%`` by zero give null,
``round`` is half-to-even; the one exception is ``/``, correctly rounded IEEE division on both
sides (Polars' reciprocal shortcut for scalar divisors is compiled around). Expressions
round-trip through JSON (:meth:`Expr.to_json`, :func:`from_json`).

Where Polars raises, the language refuses the expression when it is built, or both compilers
raise:

* ``x ** y``: the exponent must be a number literal. Polars raises on negative integer powers
  of integers, so only a non-negative int exponent keeps an int64 base int64; any other
  exponent computes in float64.
* ``cast``: str to bool or datetime and datetime to bool raise in Polars; they are refused when
  the input kind is known (a literal, or any column under ``output_dtype``/``schema=``), and
  the Python function raises ``ExpressionError`` on such a value otherwise. A cast to datetime
  outside years 1..9999 (what Python's ``datetime`` holds) gives null on both sides.
* Operations on values of the wrong kind (``"a" + 1``) are refused when built if the kinds are
  known, by ``output_dtype`` once the schema is, and raise ``ExpressionError`` in Python.

Example::

    from featurestore.expr import col, to_polars, to_python

    fare_log = (col("fare") + 1).log1p()
    frame.select(to_polars(fare_log).alias("fare_log"))
    to_python(fare_log, schema=frame.schema)({"fare": 9.0})
"""

from featurestore.expr._case import coalesce, max_horizontal, min_horizontal, when
from featurestore.expr._dtype import output_dtype
from featurestore.expr._json import from_dict, from_json
from featurestore.expr._nodes import Expr, col, lit
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
