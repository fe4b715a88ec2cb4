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
from typing import Any

MAX_NESTING = 64  # levels of lists/maps; a plan needs 5, an Azure Monitor alert about 8
MAX_NUMBER_CHARS = 50  # characters of one number literal; an int64 has 20

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


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


def json_nesting(text: str) -> int:
    """How deep `[` and `{` nest in JSON text, outside strings (before parsing it)."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub('""', text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _number(literal: str, convert):
    if len(literal) > MAX_NUMBER_CHARS:
        raise InputTooComplex("NumberTooLong", number_message(literal))
    return convert(literal)


def _constant(name: str):
    raise InputTooComplex("InvalidNumber", f"holds {name}, which is not a JSON number (RFC 8259)")


def loads_json(text: str) -> Any:
    """`json.loads` within the limits: InputTooComplex, or json.JSONDecodeError as usual."""
    depth = json_nesting(text)
    if depth > MAX_NESTING:
        raise InputTooComplex("NestingTooDeep", nesting_message(depth))
    return json.loads(
        text,
        parse_int=lambda s: _number(s, int),
        parse_float=lambda s: _number(s, float),
        parse_constant=_constant,
    )
