"""The expression language: one feature definition, two compilers that agree exactly.

An expression is an immutable tree built from :func:`col`, :func:`lit`, :func:`when`,
operators and methods. :func:`to_polars` compiles it for offline jobs, :func:`to_python` into a
row function for online serving. Polars is the reference semantics: nulls propagate, NaN sorts
last and equals NaN, int64 arithmetic wraps, integer ``//`` and ``%`` by zero give null,
``round`` is half-to-even; the one exception is ``/``, correctly rounded IEEE division on both
sides (Polars' reciprocal shortcut for scalar divisors is compiled around). Expressions
round-trip through JSON (:meth:`Expr.to_json`, :func:`from_json`).

``x ** y`` takes a number or an expression as exponent:

* By a number literal (``col("x") ** 2``, ``** lit(-1.5)``), as Polars: a non-negative int
  exponent keeps an int64 base int64 (wrapping), any other computes in float64.
* By an expression (``col("x") ** col("y")``, ``2 ** col("y")``, ``x ** (lit(2) + lit(1))``)
  the result is always float64: Polars raises on negative integer powers of integers, and a
  dtype cannot depend on the data. Int64 operands are converted to float64 first. A null base
  or exponent gives null; otherwise each value is Polars' rule for a literal exponent
  (``_numeric.fpow``): y = 1 gives x, y = 0.5 the square root (``(-0.0) ** 0.5`` is -0.0,
  ``(-inf) ** 0.5`` NaN), an integral y in 2..9 multiplies out ``((x * x) * x)...``, and any
  other y, NaN and +-inf included, is C ``pow``: ``x ** 0`` is 1.0 even for NaN, ``1.0 ** NaN``
  and ``(-1.0) ** inf`` are 1.0, ``0.0 ** -1`` is inf and ``(-0.0) ** -1`` -inf, a negative
  base to a non-integer power is NaN, overflow gives +-inf. Polars itself applies that rule
  only to an exponent of length one (a literal, or any exponent on a one-row frame) and plain
  C ``pow`` to a longer column; :func:`to_polars` applies it on every frame, so the length of
  the frame never changes the answer (C ``pow`` and multiplying out differ in the last bit for
  about a quarter of random bases at ``** 3``, half at ``** 9``).

Where Polars raises, the language refuses the expression when it is built, or both compilers
raise:

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
