"""Limits on untrusted text before it becomes data: how deep it nests and how long a number is.

Python's parsers fail on hostile input in ways that are not parse errors: `json` and PyYAML's
composer recurse once per nesting level, so a few thousand `[` raise RecursionError; and `int()`
refuses strings of more than 4,300 digits with a ValueError (CPython's `int_max_str_digits`, since
3.11 — CVE-2020-10735). Request bodies, alerts and plans are held to limits far above anything real
and far below those, and each refusal says which limit it hit. The YAML side of these limits is
applied by the plan loader (`vmdr.plan.validation`), the JSON side here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_NESTING = 64  # levels of lists/maps; a plan needs 5, an Azure Monitor alert about 8
MAX_NUMBER_CHARS = 50  # characters of one number literal; an int64 has 20

# The only characters that change what the scan knows: brackets, and quotes and backslashes, which
# open, close and escape inside strings. Everything else is skipped by the regex engine.
_SCANNED = re.compile(r'[\[\]{}"\\]')
_ASCII_NUMBER = re.compile(rf"[0-9]{{1,{MAX_NUMBER_CHARS}}}")


class InputTooComplex(ValueError):
    """Text that nests too deep or holds a number too long; `code` names the limit."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def nesting_message(depth: int | None = None) -> str:
    found = f"nests {depth:,} levels deep" if depth else "nests too deep"
    return f"{found}; at most {MAX_NESTING} levels of lists and maps are accepted"


def number_message(literal: str) -> str:
    return (f"has a number of {len(literal):,} characters ({literal[:12]}…); numbers are at most "
            f"{MAX_NUMBER_CHARS} characters")


@dataclass(frozen=True)
class Scan:
    deepest: int  # how deep `[` and `{` nest outside strings
    steps: int  # characters the scan looked at: never more than the text has (tests count them)


def scan_json(text: str) -> Scan:
    """One pass over JSON text, before parsing it, tracking whether it is inside a string and
    whether a backslash escapes the next character. Linear: a regex that skips whole strings
    instead restarts at each quote of an unterminated one, quadratic on `"\\"\\"\\"…` (issue 21)."""
    depth = deepest = steps = 0
    in_string = False
    escaped = -1  # the position of the character a backslash in a string escapes
    for found in _SCANNED.finditer(text):
        steps += 1
        at, char = found.start(), found.group()
        if at == escaped:
            continue
        if in_string:
            if char == "\\":
                escaped = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif char in "]}":
            depth -= 1
    return Scan(deepest, steps)


def json_nesting(text: str) -> int:
    """How deep `[` and `{` nest in JSON text, outside strings (before parsing it)."""
    return scan_json(text).deepest


def ascii_number(text: str) -> int | None:
    """The whole number `text` writes in ASCII digits, or None. `str.isdigit()` is true of '²',
    '①' and '٣' as well: `int()` refuses the first two (a ValueError, a 500 in a route) and
    reads the third as 3."""
    return int(text) if _ASCII_NUMBER.fullmatch(text) else None


def _number(literal: str, convert):
    if len(literal) > MAX_NUMBER_CHARS:
        raise InputTooComplex("NumberTooLong", number_message(literal))
    return convert(literal)


def _constant(name: str):
    raise InputTooComplex("InvalidNumber", f"holds {name}, which is not a JSON number (RFC 8259)")


def loads_json(text: str) -> Any:
    """`json.loads` within the limits: InputTooComplex, or json.JSONDecodeError as usual."""
    deepest = scan_json(text).deepest
    if deepest > MAX_NESTING:
        raise InputTooComplex("NestingTooDeep", nesting_message(deepest))
    return json.loads(
        text,
        parse_int=lambda s: _number(s, int),
        parse_float=lambda s: _number(s, float),
        parse_constant=_constant,
    )
