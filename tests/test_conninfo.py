"""The pure-Python libpq connection-string parser agrees with libpq itself."""

from __future__ import annotations

import psycopg
import psycopg.pq
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from monitor.conninfo import KEYWORDS, ConninfoError, parse_conninfo

UNDECODABLE: dict[str, str] = {"": "psycopg cannot show a value that is not UTF-8"}


def libpq(text: str) -> dict[str, str] | None:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(text).items()}
    except psycopg.ProgrammingError:
        return None
    except UnicodeDecodeError:
        return UNDECODABLE


def ours(text: str) -> dict[str, str] | None:
    try:
        return parse_conninfo(text)
    except ConninfoError:
        return None


def test_keywords_are_libpqs() -> None:
    assert {o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults()} == KEYWORDS


CASES = [
    "", "host=a port=5432 dbname=test user=postgres",
    "host=a  port = 5 password='x y\\' z'", "password='unterminated", "host", "host=a b",
    "password=a\\ b", "nosuch=1", "=x", "host= 'a'", "sslmode=require application_name=''",
    "postgresql://", "postgres://h", "postgresql:///d", "postgresql://u:p@ss@h/db",
    "postgresql://u:p%40ss@h:5432/db", "postgres://h1:1,h2:2/db?sslmode=require",
    "postgresql://[::1]:5432/x", "postgresql://%41@h", "postgresql://h?ssl=true",
    "postgresql://u@h/d?application_name=a%20b", "postgresql://h/d?nosuch=1",
    "postgresql://h/d?connect_timeout", "postgresql://h/%zz", "postgresql://h/%00",
    "postgresql://u:@h", "postgresql://:p@h", "postgresql://h:/d", "postgresql://h,/d",
    "postgresql://h/d?", "postgresql://h/d?&sslmode=disable&", "postgresql://[::1/x",
]


@pytest.mark.parametrize("text", CASES)
def test_agrees_with_libpq(text: str) -> None:
    assert ours(text) == libpq(text)


_ALPHABET = "ab=' \\%@:/?,[]&1"


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.text(_ALPHABET, max_size=24).map(lambda t: "host=" + t),
    st.text(_ALPHABET, max_size=24).map(lambda t: "postgresql://" + t),
    st.text(_ALPHABET + "pdsw", max_size=30),
))
@example("password=\\")
def test_agrees_with_libpq_on_any_text(text: str) -> None:
    expected = libpq(text)
    assume(expected is not UNDECODABLE)
    assert ours(text) == expected
