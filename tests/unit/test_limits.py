"""Hostile nesting and numbers are refused with the limit they hit, never a RecursionError or
ValueError from deep inside a parser (issue 10, item 1), and in time linear in the text: the
work is counted, never timed (issue 21, item 7)."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmdr import limits
from vmdr.api.bodies import MAX_BODY_BYTES
from vmdr.limits import (
    MAX_NESTING,
    MAX_NUMBER_CHARS,
    InputTooComplex,
    Scan,
    ascii_number,
    json_nesting,
    loads_json,
    scan_json,
)
from vmdr.plan import check_text


def test_json_within_the_limits_parses_as_json_does():
    text = json.dumps({"a": [[{"b": "[[[{{{"}]], "n": 12345678901234567890, "f": 1.5e-7})
    assert loads_json(text) == json.loads(text)
    assert json_nesting(text) == 4  # brackets inside strings do not count
    assert json_nesting('{"a\\"[": 1}') == 1  # nor after an escaped quote


@pytest.mark.parametrize("text, code", [
    ("[" * 5000 + "]" * 5000, "NestingTooDeep"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "NestingTooDeep"),
    ("[" * 5000, "NestingTooDeep"),  # not even closed: still the limit, not a RecursionError
    ('{"n": ' + "1" * 5001 + "}", "NumberTooLong"),
    ('{"n": 1.' + "1" * 5001 + "}", "NumberTooLong"),
    ('{"n": NaN}', "InvalidNumber"),
    ("[-Infinity]", "InvalidNumber"),
])
def test_json_beyond_the_limits_is_refused_with_the_limit(text, code):
    with pytest.raises(InputTooComplex) as caught:
        loads_json(text)
    assert caught.value.code == code
    assert str(MAX_NESTING if code == "NestingTooDeep" else MAX_NUMBER_CHARS) in \
        caught.value.message or code == "InvalidNumber"


def test_json_at_exactly_the_nesting_limit_is_accepted():
    assert loads_json("[" * MAX_NESTING + "]" * MAX_NESTING) is not None
    with pytest.raises(InputTooComplex):
        loads_json("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))


@pytest.mark.parametrize("text, expected", [
    ("[" * 500, "nests too deep; at most 64 levels"),
    ('{"name": ' * 5000 + '"x"' + "}" * 5000, "nests too deep; at most 64 levels"),
    ("name: " + "1" * 5001, "a number of 5,001 characters; numbers are at most 50"),
    ("name: !!int " + "1:" * 3000 + "1", "numbers are at most 50 characters"),
    ("groups:\n" + "".join("  " * i + "- \n" for i in range(200)), "nests too deep"),
])
def test_plan_text_beyond_the_limits_is_one_problem_with_its_place(text, expected):
    plan, problems = check_text(text)
    assert plan is None and len(problems) == 1
    assert expected in problems[0].message and problems[0].message.startswith("line ")


# --- linear time (issue 21, item 7) --------------------------------------------------------------
# Worst bodies for the JSON scan: every character is one it must look at. A regex that skipped
# whole strings took 29 s of CPU on 48 KB of the first and 140 s on 96 KB. Each is exactly `size`
# characters (ASCII: as many bytes), the size limit of every JSON route at most.
WORST_JSON = {
    "unterminated escaped quotes": lambda size: '["' + '\\"' * ((size - 2) // 2),
    "escaped quotes": lambda size: '["' + '\\"' * ((size - 4) // 2) + '"]',
    "escaped backslashes": lambda size: '["' + "\\\\" * ((size - 4) // 2) + '"]',
    "quotes": lambda size: '"' * size,
    "open brackets": lambda size: "[" * size,
    "bracket pairs": lambda size: "[]" * (size // 2),
}


@pytest.mark.parametrize("shape", WORST_JSON)
def test_the_json_scan_looks_at_each_character_at_most_once(shape):
    steps = {}
    for size in (1024, 2048, MAX_BODY_BYTES // 2, MAX_BODY_BYTES):  # small first: fails fast
        text = WORST_JSON[shape](size)
        assert len(text) == size
        steps[size] = scan_json(text).steps
        assert steps[size] <= size, (shape, size, steps[size])
        if size // 2 in steps:  # twice the text, at most twice the work
            assert steps[size] <= 2 * steps[size // 2], (shape, steps)


@pytest.mark.parametrize("shape", WORST_JSON)
def test_the_limited_parser_scans_the_worst_body_once_and_answers_as_json_does(shape,
                                                                               monkeypatch):
    scans: list[Scan] = []

    def counted(text: str) -> Scan:
        scans.append(scan_json(text))
        return scans[-1]

    monkeypatch.setattr(limits, "scan_json", counted)
    loads_json('["\\"["]')  # first on a small body: a quadratic check fails here, not in minutes
    assert len(scans) == 1, "loads_json checks the nesting with the one linear scan"
    scans.clear()
    text = WORST_JSON[shape](MAX_BODY_BYTES)
    if shape == "open brackets":
        with pytest.raises(InputTooComplex, match="nests 262,144 levels deep; at most 64"):
            loads_json(text)
    elif shape in ("escaped quotes", "escaped backslashes"):
        assert loads_json(text) == json.loads(text)
    else:
        with pytest.raises(json.JSONDecodeError):
            loads_json(text)
    assert len(scans) == 1 and scans[0].steps <= len(text), "loads_json scans once, linearly"


def _depth(value) -> int:
    if isinstance(value, dict | list):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max(map(_depth, children), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet=st.sampled_from('"\\[]{}/ abé\u2028\x00'), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
    max_leaves=20)


@settings(max_examples=200, derandomize=True)
@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_the_scan_counts_nesting_as_the_parser_sees_it(value, ascii_only):
    """Quotes, backslashes and brackets inside strings, escaped or not, count for nothing."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_nesting(text) == _depth(value)


@pytest.mark.parametrize("text, depth", [
    ('["\\\\"]', 1),  # an escaped backslash: the quote after it closes the string
    ('["\\\\\\"[" ]', 1),  # backslash, then an escaped quote: the string goes on past the `[`
    ('["\\\\", ["\\\\"]]', 2),
    ('["[", "\\\\", "]", [[]]]', 3),
])
def test_the_scan_follows_escapes(text, depth):
    assert json.loads(text) is not None and json_nesting(text) == depth


@pytest.mark.parametrize("text, number", [
    ("0", 0), ("100", 100), ("007", 7), ("9" * MAX_NUMBER_CHARS, int("9" * MAX_NUMBER_CHARS)),
    ("²", None), ("①", None), ("١٢", None), ("٣", None), ("１", None),  # digits, not ASCII ones
    ("", None), (" 1", None), ("1\n", None), ("+1", None), ("-1", None), ("1_000", None),
    ("1.0", None), ("9" * (MAX_NUMBER_CHARS + 1), None), ("9" * 5000, None),
])
def test_ascii_number_reads_only_ascii_digits(text, number):
    assert ascii_number(text) == number


# The plan loader (PUT /api/plans/{plan}, `plan validate`) is PyYAML's pure-Python parser with
# vmdr's checks per node; its work is counted as the Python and C calls it makes. Not here: open
# brackets, where PyYAML's scanner looks at most 1,024 characters ahead for a simple key, so
# that the work is the same at any size past that (about 0.4 s of CPU) and the nesting limit
# refuses them.
WORST_YAML = {
    "flow sequence": lambda size: "a: [" + "1," * (size // 2) + "]",
    "flow mapping": lambda size: "a: {" + "".join(f"k{i}: 1, " for i in range(size // 9)) + "}",
    "block sequence": lambda size: "a:\n" + "- 1\n" * (size // 4),
    "distinct keys": lambda size: "".join(f"k{i}: 1\n" for i in range(size // 8)),
    "duplicate keys": lambda size: "a: 1\n" * (size // 5),
    "escaped quotes": lambda size: 'a: "' + '\\"' * (size // 2) + '"',
    "unterminated escaped quotes": lambda size: 'a: "' + '\\"' * (size // 2),
    "single quotes": lambda size: "a: '" + "''" * (size // 2) + "'",
    "comment lines": lambda size: "#\n" * (size // 2),
    "folded lines": lambda size: "a: b\n" + "  c\n" * (size // 4),
    "json strings": lambda size: '{"a": [' + '"x",' * (size // 4) + '"y"]}',
}


def _calls(text: str) -> int:
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(profile)
    try:
        check_text(text)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("shape", WORST_YAML)
def test_the_plan_check_does_twice_the_work_on_twice_the_text(shape):
    small, large = (_calls(WORST_YAML[shape](size)) for size in (2048, 4096))
    assert large <= 2.2 * small, (shape, small, large)
