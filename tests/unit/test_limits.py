"""Hostile nesting and numbers are refused with the limit they hit, never a RecursionError or
ValueError from deep inside a parser (issue 10, item 1)."""

from __future__ import annotations

import json

import pytest

from vmdr.limits import MAX_NESTING, MAX_NUMBER_CHARS, InputTooComplex, json_nesting, loads_json
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
