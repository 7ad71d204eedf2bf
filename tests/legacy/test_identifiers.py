"""The identifier keys agree with python-stdnum and with published examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.fr import nir as stdnum_nir

from ecluse.legacy.identifiers import (
    finess_with_key,
    is_valid_finess,
    is_valid_nir,
    is_valid_rpps,
    luhn_check_digit,
    luhn_valid,
    nir_key,
    nir_with_key,
    rpps_with_key,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=20)


def nir_bodies() -> st.SearchStrategy[str]:
    dept = st.one_of(
        st.sampled_from(["2A", "2B", "20", "99", "97"]),
        st.integers(1, 95).map(lambda d: f"{d:02d}"),
    )
    return st.builds(
        lambda sex, yy, mm, d, c, o: f"{sex}{yy:02d}{mm:02d}{d}{c:03d}{o:03d}",
        st.sampled_from("12"),
        st.integers(0, 99),
        st.integers(1, 12),
        dept,
        st.integers(0, 999),
        st.integers(1, 999),
    )


@pytest.mark.parametrize("nir", ["253072B07300470", "253072A07300443", "279035121518989", "295109912611193"])
def test_published_nirs_are_valid(nir: str) -> None:
    assert is_valid_nir(nir)
    assert nir_key(nir[:13]) == nir[13:]


@given(nir_bodies())
def test_nir_key_matches_stdnum(body: str) -> None:
    assert nir_key(body) == stdnum_nir.calc_check_digits(body + "00")
    full = nir_with_key(body)
    assert is_valid_nir(full)
    assert stdnum_nir.is_valid(full)


@given(nir_bodies(), st.integers(0, 14), st.sampled_from("0123456789"))
def test_any_single_digit_change_breaks_the_nir(body: str, pos: int, digit: str) -> None:
    full = nir_with_key(body)
    if full[pos] == digit or not full[pos].isdigit():
        return
    assert not is_valid_nir(full[:pos] + digit + full[pos + 1 :])


@given(st.text(max_size=16))
def test_is_valid_nir_never_accepts_what_stdnum_rejects(s: str) -> None:
    if is_valid_nir(s):
        assert stdnum_nir.is_valid(s)


@pytest.mark.parametrize("bad", ["", "1234", "253072C07300470", "353072A07300443", "253132A07300443"])
def test_malformed_nirs_are_rejected(bad: str) -> None:
    assert not is_valid_nir(bad)


@given(digits)
def test_luhn_matches_stdnum(payload: str) -> None:
    assert luhn_check_digit(payload) == luhn.calc_check_digit(payload)
    assert luhn_valid(payload + luhn_check_digit(payload))
    assert luhn_valid(payload) == luhn.is_valid(payload) or len(payload) < 2


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_rpps_key_is_luhn(prefix: str) -> None:
    rpps = rpps_with_key(prefix)
    assert len(rpps) == 11
    assert is_valid_rpps(rpps)
    assert luhn.is_valid(rpps)


@given(
    st.one_of(st.sampled_from(["2A", "2B"]), st.integers(1, 95).map(lambda d: f"{d:02d}")),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
)
def test_finess_key_is_luhn(dept: str, rest: str) -> None:
    finess = finess_with_key(dept + rest)
    assert len(finess) == 9
    assert is_valid_finess(finess)
    assert luhn.is_valid(finess.replace("2A", "20", 1).replace("2B", "20", 1))


def test_published_finess_is_valid() -> None:
    assert is_valid_finess("540002698")
    assert not is_valid_finess("540002699")


@pytest.mark.parametrize("bad", ["", "12", "123456789x", "2C0000000"])
def test_malformed_identifiers_are_rejected(bad: str) -> None:
    assert not is_valid_finess(bad)
    assert not is_valid_rpps(bad)
    assert not luhn_valid(bad)


def test_builders_refuse_wrong_lengths() -> None:
    with pytest.raises(ValueError):
        nir_key("123")
    with pytest.raises(ValueError):
        finess_with_key("35")
    with pytest.raises(ValueError):
        rpps_with_key("1")
