"""Column types with one meaning each: exact decimals for money, JSON-free text lists.

``Money`` is the one convention for contract prices, fees, cash, PnL and counts (the domain's
``Decimal`` dollars and ``Decimal`` contracts, see ``kbot.messages``):

- Values are kept to ``SCALE`` (6) decimal places. Wire values have at most 4 dp (prices,
  fees) or 2 dp (counts), so only derived ratios such as an average price are ever rounded,
  to a micro-dollar.
- PostgreSQL (and any backend with a real decimal type): ``NUMERIC(24, 6)``, exact.
- SQLite has no decimal storage class: the value is bound as the IEEE double nearest to it
  and read back by formatting that double with 6 decimals (so a derived value with more than
  6 dp reads back rounded to 6 dp, as PostgreSQL rounds it on the way in). A double carries
  15.95 significant decimal digits, so every decimal with at most 15 significant digits maps to
  a distinct double and ``"%.6f"`` recovers it exactly: lossless for |x| < 10**9 at 6 dp
  (a billion dollars or contracts; ``money_to_sqlite`` raises beyond that rather than lose a
  digit). SQL aggregates in SQLite reports (``SUM``) are binary floating point: the error of a
  sum of n terms is at most about ``n * 1.1e-16 * sum(|x|)``, i.e. ~1e-6 dollars for 10,000
  entries totalling $1,000,000, far below the 2-4 dp reports show. Where a total must be exact
  (a recovered cash balance), ``storage.queries`` adds the ``Decimal`` rows in Python.
- Values always come back as ``Decimal`` with 6 dp (``Decimal("0.450000")``, equal to
  ``Decimal("0.45")``), on every backend.

SQLAlchemy warns when a ``Numeric(asdecimal=True)`` is used on SQLite because it converts
through floats. ``Money`` does that conversion itself (exactly, as above), so on SQLite its
implementation type is a ``Numeric(asdecimal=False)`` and the warning never arises for it,
while it still does for any careless ``Numeric`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

SCALE = 6
PRECISION = 24
QUANTUM = Decimal(1).scaleb(-SCALE)  # Decimal("0.000001")
SQLITE_LIMIT = Decimal(10) ** 9  # |x| below this round-trips exactly through a double at 6 dp


class MoneyRangeError(ValueError):
    """A money value that SQLite's double storage could not hold exactly."""


def quantize(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def _to_decimal(value: Decimal | int | str | float) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the shortest decimal that reads back as this float
    d = quantize(value if isinstance(value, Decimal) else Decimal(value))
    if not d.is_finite():
        raise MoneyRangeError(f"money must be finite, got {value!r}")
    return d


_LIMIT = float(SQLITE_LIMIT)


def money_to_sqlite(value: Decimal | int | str | float | None) -> float | None:
    """The double nearest to ``value`` (``float(Decimal)`` is correctly rounded). No quantize:
    the writer converts ~6 money values per row at >= 100k rows/s, and reading back at 6 dp
    rounds a value with more decimals to the micro-dollar anyway."""
    if value is None:
        return None
    f = float(value)
    if -_LIMIT < f < _LIMIT:
        return f
    raise MoneyRangeError(f"{value!r} is outside the exact range of SQLite money storage (|x| < 1e9)")


def money_to_exact(value: Decimal | int | str | float | None) -> Decimal | None:
    if value is None:
        return None
    return _to_decimal(value)


def money_from_sqlite(value: float | int | str | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(f"{value:.{SCALE}f}")
    return quantize(Decimal(value))


def money_binder(dialect: Dialect) -> Callable[[Any], Any]:
    """The function turning a domain ``Decimal`` into what ``dialect``'s driver stores. The batch
    writer applies it directly (it bypasses SQLAlchemy's per-row processing); ``Money`` below
    applies the same function for ordinary Core statements."""
    return money_to_sqlite if dialect.name == "sqlite" else money_to_exact


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact decimal dollars / contracts (see the module docstring)."""

    impl = sa.Numeric(PRECISION, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(PRECISION, SCALE, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(PRECISION, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return money_binder(dialect)(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return money_from_sqlite(value)
        return quantize(value if isinstance(value, Decimal) else Decimal(str(value)))

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        return "NULL" if value is None else str(money_to_exact(value))

    @property
    def python_type(self) -> type:
        return Decimal


# Lists of codes (reasons, sources) are stored as one text column, comma-joined, in order.
# Codes are snake_case identifiers; a code containing the separator is refused at mapping time.
LIST_SEP = ","


def join_codes(codes: tuple[str, ...] | list[str]) -> str:
    if not codes:
        return ""
    for c in codes:
        if LIST_SEP in c:
            raise ValueError(f"code {c!r} contains {LIST_SEP!r}")
    return LIST_SEP.join(codes)


def split_codes(text: str | None) -> tuple[str, ...]:
    return tuple(text.split(LIST_SEP)) if text else ()
