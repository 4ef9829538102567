"""Parser of lavaan's model syntax (the subset a CFA needs).

Supported, as in lavaan:

- ``f =~ x1 + x2 + x3``      measurement (first loading fixed to 1 unless given a modifier)
- ``x1 ~~ x2``, ``f ~~ f``    variances and covariances
- ``x1 ~ 1``, ``f ~ 1``       intercepts and latent means
- modifiers ``0.5*x`` (fixed), ``NA*x`` (free), ``a*x`` (label: equal labels are equal
  parameters), ``c(a, b)*x`` / ``c(1, NA)*x`` (one value per group), ``start(0.5)*x``
- comments ``#`` and ``!``; statements end at a newline or ``;``; a statement whose right-hand
  side ends with ``+`` (or a line that starts with ``+``) continues on the next line.

Regressions (``y ~ x``), thresholds (``|``: with ``ordered=`` they are added automatically),
defined parameters (``:=``) and explicit constraints (``==``, ``<``, ``>``) are rejected with a
:class:`~rctscale.errors.ModelError` that names the line and token, so no statement is silently
ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rctscale.errors import ModelError

# one modifier entry: a fixed number, ``None`` for NA (free), or a label
ModifierEntry = float | str | None

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Modifier:
    """A pre-multiplier of one right-hand-side term, possibly one entry per group."""

    kind: str  # "value" (fixed number / NA / label) or "start"
    entries: tuple[ModifierEntry, ...]


@dataclass(frozen=True)
class Term:
    """One parsed parameter statement ``lhs op rhs`` with its modifiers."""

    lhs: str
    op: str
    rhs: str
    modifiers: tuple[Modifier, ...]
    line: int


def _strip_comment(line: str) -> str:
    cut = len(line)
    for mark in ("#", "!"):
        position = line.find(mark)
        if position >= 0:
            cut = min(cut, position)
    return line[:cut]


def _statements(text: str) -> list[tuple[str, int]]:
    """Split the model text into (statement, first line number) pairs."""
    pieces: list[tuple[str, int]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        for part in _strip_comment(raw).split(";"):
            part = part.strip()
            if part:
                pieces.append((part, number))
    statements: list[tuple[str, int]] = []
    for part, number in pieces:
        continues = statements and (
            statements[-1][0].endswith(("+", "=~", "~~", "~", "*")) or part.startswith("+")
        )
        if continues:
            previous, first = statements[-1]
            statements[-1] = (previous + " " + part, first)
        else:
            statements.append((part, number))
    return statements


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_entry(token: str, line: int) -> ModifierEntry:
    token = token.strip()
    if token in ("NA", "na"):
        return None
    if _NUMBER.match(token):
        return float(token)
    if _NAME.match(token):
        return token
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    raise ModelError(f"line {line}: cannot read the modifier '{token}' (expected a number, NA or a label)")


def _parse_modifier(token: str, line: int) -> Modifier:
    token = token.strip()
    call = re.match(r"^(c|start|label|equal)\s*\((.*)\)$", token, flags=re.DOTALL)
    if call:
        function, inside = call.group(1), call.group(2)
        entries = tuple(_parse_entry(entry, line) for entry in _split_top_level(inside, ","))
        if function == "start":
            if not all(isinstance(entry, float) for entry in entries):
                raise ModelError(f"line {line}: start() takes numbers, got '{token}'")
            return Modifier("start", entries)
        if function in ("label", "equal") and not all(isinstance(entry, str) for entry in entries):
            raise ModelError(f"line {line}: {function}() takes labels, got '{token}'")
        return Modifier("value", entries)
    return Modifier("value", (_parse_entry(token, line),))


def parse_model(text: str) -> list[Term]:
    """Parse lavaan model syntax into a list of :class:`Term`.

    Raises :class:`ModelError` naming the line and the offending token.
    """
    if not isinstance(text, str) or not text.strip():
        raise ModelError("the model is empty; write it in lavaan syntax, e.g. 'f =~ x1 + x2 + x3'")
    terms: list[Term] = []
    for statement, line in _statements(text):
        # locate the first operator by position (=~ and ~~ before ~)
        positions = []
        for op in ("=~", "~~", ":=", "==", "|", "<", ">", "~"):
            position = statement.find(op)
            if position >= 0:
                positions.append((position, -len(op), op))
        if not positions:
            raise ModelError(
                f"line {line}: no operator in '{statement}'; expected =~ (measured by), "
                "~~ (variance/covariance) or ~ 1 (intercept)"
            )
        position, _, op = min(positions)
        lhs, rhs_text = statement[:position].strip(), statement[position + len(op):].strip()
        if op in (":=", "==", "<", ">"):
            raise ModelError(f"line {line}: operator '{op}' (defined parameters / explicit constraints) "
                             "is not supported; use equal labels (a*x1 + a*x2) for equality constraints")
        if op == "|":
            raise ModelError(f"line {line}: thresholds ('|') cannot be written in the model; with "
                             "ordered items (cfa(..., ordered=...)) every threshold is added and estimated "
                             "automatically, and group_equal=('thresholds',) equates them across groups")
        if not _NAME.match(lhs):
            raise ModelError(f"line {line}: '{lhs}' is not a valid variable name on the left of '{op}'")
        if not rhs_text:
            raise ModelError(f"line {line}: nothing after '{op}' in '{statement}'")
        for raw_term in _split_top_level(rhs_text, "+"):
            raw_term = raw_term.strip()
            if not raw_term:
                raise ModelError(f"line {line}: empty term (a doubled or trailing '+') in '{statement}'")
            pieces = _split_top_level(raw_term, "*")
            name = pieces[-1].strip()
            modifiers = tuple(_parse_modifier(piece, line) for piece in pieces[:-1])
            if op == "~":
                if name != "1":
                    raise ModelError(
                        f"line {line}: regression '{lhs} ~ {name}' is not supported by cfa(); only "
                        "intercepts ('~ 1') are"
                    )
            elif not _NAME.match(name):
                raise ModelError(f"line {line}: '{name}' is not a valid variable name in '{statement}'")
            terms.append(Term(lhs=lhs, op=op, rhs=name if op != "~" else "", modifiers=modifiers, line=line))
    if not terms:
        raise ModelError("the model is empty (only comments); write it in lavaan syntax, e.g. 'f =~ x1 + x2 + x3'")
    return terms
