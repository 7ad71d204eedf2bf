"""Check keys of the French identifiers found in a legacy LIS: NIR, FINESS, RPPS.

Pure functions on compact strings (no spaces, no dots). Validation returns a bool here because
these are data-quality checks on legacy values, not security decisions; a caller that must
reject raises its own error naming the record and field, never the value.

* NIR (numéro d'inscription au répertoire, "numéro de sécu"): 13 characters + 2-digit key,
  ``key = 97 - (N13 mod 97)`` where Corsican departments ``2A``/``2B`` count as ``19``/``18``.
* FINESS: 9 characters, a 2-character department (``2A``/``2B`` for Corsica), 6 digits and a
  Luhn key. For Corsica the letter is read as ``0`` when computing the key (``2A`` → ``20``).
* RPPS: 11 digits, the last one a Luhn key.
"""

from __future__ import annotations

__all__ = [
    "finess_with_key",
    "is_valid_finess",
    "is_valid_nir",
    "is_valid_rpps",
    "luhn_check_digit",
    "luhn_valid",
    "nir_key",
    "nir_with_key",
    "rpps_with_key",
]

_DIGITS = frozenset("0123456789")
_CORSICA_NIR = {"2A": "19", "2B": "18"}
_CORSICA_FINESS = {"2A": "20", "2B": "20"}


def _is_digits(s: str) -> bool:
    return bool(s) and all(c in _DIGITS for c in s)


def nir_key(n13: str) -> str:
    """The two-digit key of a 13-character NIR body (``2A``/``2B`` allowed at positions 6–7)."""
    if len(n13) != 13:
        raise ValueError("a NIR body has 13 characters")
    dept = n13[5:7]
    if dept in _CORSICA_NIR:
        n13 = n13[:5] + _CORSICA_NIR[dept] + n13[7:]
    if not _is_digits(n13):
        raise ValueError("a NIR body has digits only, apart from 2A/2B")
    return f"{97 - int(n13) % 97:02d}"


def nir_with_key(n13: str) -> str:
    """The 15-character NIR: body followed by its key."""
    return n13 + nir_key(n13)


def is_valid_nir(s: str) -> bool:
    """True when ``s`` is a structurally valid 15-character NIR with the right key.

    Checks: sex digit 1/2 (3/4 and 7/8 are also issued: foreigners being registered, NIA),
    month 01–12 or the "unknown month" ranges 20–42 and 50–99, department digits or 2A/2B,
    order number 001–999, and the key.
    """
    if len(s) != 15:
        return False
    body, key = s[:13], s[13:]
    if s[0] not in "123478" or not _is_digits(s[1:5]) or not _is_digits(s[7:]):
        return False
    month = int(s[3:5])
    if not (1 <= month <= 12 or 20 <= month <= 42 or month >= 50):
        return False
    if not (_is_digits(s[5:7]) or s[5:7] in _CORSICA_NIR):
        return False
    if s[10:13] == "000":
        return False
    return nir_key(body) == key


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit to append to ``digits``."""
    if not _is_digits(digits):
        raise ValueError("Luhn applies to digits only")
    total = 0
    # Appending a check digit shifts parity: the rightmost digit of the payload is doubled.
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(s: str) -> bool:
    """True when ``s`` is all digits and passes the Luhn (mod 10) check."""
    if len(s) < 2 or not _is_digits(s):
        return False
    return luhn_check_digit(s[:-1]) == s[-1]


def _finess_digits(prefix: str) -> str:
    dept = prefix[:2]
    return _CORSICA_FINESS.get(dept, dept) + prefix[2:]


def finess_with_key(prefix8: str) -> str:
    """The 9-character FINESS number for an 8-character prefix (department + 6 digits)."""
    if len(prefix8) != 8:
        raise ValueError("a FINESS prefix has 8 characters")
    digits = _finess_digits(prefix8)
    if not _is_digits(digits):
        raise ValueError("a FINESS prefix has digits only, apart from 2A/2B")
    return prefix8 + luhn_check_digit(digits)


def is_valid_finess(s: str) -> bool:
    """True when ``s`` is a 9-character FINESS number with a correct Luhn key."""
    if len(s) != 9:
        return False
    return luhn_valid(_finess_digits(s))


def rpps_with_key(prefix10: str) -> str:
    """The 11-digit RPPS number for a 10-digit prefix."""
    if len(prefix10) != 10:
        raise ValueError("an RPPS prefix has 10 digits")
    return prefix10 + luhn_check_digit(prefix10)


def is_valid_rpps(s: str) -> bool:
    """True when ``s`` is 11 digits with a correct Luhn key."""
    return len(s) == 11 and luhn_valid(s)
