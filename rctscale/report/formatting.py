"""Number formatting shared by the reports: APA style, a true minus sign, a dash for "no value".

APA style drops the leading zero of numbers that cannot exceed 1 in absolute value
(correlations, reliability coefficients, fit indices, proportions, p values) and keeps it for
the others (chi-square, eigenvalues, scores). p values below .001 are written ``< .001``.
"""

from __future__ import annotations

import math
from typing import Any

import jinja2

MINUS = "\u2212"
NO_VALUE = "\u2014"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals (integers with thousands separators); a dash when missing."""
    if _missing(value):
        return NO_VALUE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace("-", MINUS)
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        if float(text) == 0:  # no "−0.00"
            text = text.lstrip("-")
        return text.replace("-", MINUS)
    return str(value)


def bounded(value: Any, digits: int = 2) -> str:
    """A number that cannot exceed 1 in absolute value, without its leading zero (APA): ``.91``, ``−.05``."""
    text = number(float(value) if isinstance(value, int) and not isinstance(value, bool) else value, digits)
    if text.startswith("0."):
        return text[1:]
    if text.startswith(MINUS + "0."):
        return MINUS + text[2:]
    return text


def p_value(value: Any) -> str:
    """A p value, APA style: three decimals without the leading zero, ``< .001`` below that."""
    if _missing(value):
        return NO_VALUE
    if value < 0.001:
        return "< .001"
    return bounded(float(value), 3)


def percent(value: Any, digits: int = 1) -> str:
    """A share as a percentage, ``12.5 %``."""
    if _missing(value):
        return NO_VALUE
    return f"{100 * float(value):.{digits}f} %".replace("-", MINUS)


def json_pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) into the results, written on the HTML element that shows the value.

    The report's tests follow these pointers to check that the page shows what the JSON holds.
    """
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def install_filters(environment: jinja2.Environment) -> None:
    environment.filters.update(num=number, bounded=bounded, p=p_value, pct=percent)
    environment.globals.update(ptr=json_pointer)
