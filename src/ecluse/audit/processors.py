"""Processors applied to every audit event before it is written (structlog style).

A processor takes the event dict (``time``, ``actor``, ``action``, ``objects``, ``details``) and
returns it, possibly changed, or raises :class:`AuditError`. :data:`DEFAULT_PROCESSORS` is the
list an :class:`~ecluse.audit.AuditLog` runs unless told otherwise; each is tested alone.

Error messages name the field (``details['note']``), never the value: a rejected value may be a
patient's, and it must end up neither in the log file nor in an error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ecluse.errors import AuditError

__all__ = [
    "DEFAULT_PROCESSORS",
    "Event",
    "Processor",
    "check_shapes",
    "reject_patient_like_values",
    "require_fields",
]

Event = dict[str, Any]
Processor = Callable[[Event], Event]

MAX_KEYS = 32
MAX_STRING = 512
_ACTION = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
_HINT = "log a record id, a file name or a hash instead of the value itself"


def require_fields(event: Event) -> Event:
    """``time``, ``actor`` and ``action`` are non-empty strings; ``action`` is a dotted name."""
    for field in ("time", "actor", "action"):
        value = event.get(field)
        if not isinstance(value, str) or not value.strip():
            raise AuditError(
                f"an audit entry needs a non-empty '{field}'",
                hint="give the person's id or e-mail as actor (or 'system') and a dotted action name",
            )
    if not _ACTION.fullmatch(event["action"]):
        raise AuditError(
            "an audit action is a dotted lower-case name such as 'package.export'",
            hint="use <object>.<verb>, e.g. 'mandate.register'",
        )
    if len(event["actor"]) > MAX_STRING:
        raise AuditError(f"the actor is longer than {MAX_STRING} characters", hint="log the person's id")
    return event


def check_shapes(event: Event) -> Event:
    """``objects`` maps names to strings; ``details`` maps names to str, int, bool or None; both small."""
    for field, allowed in (("objects", (str,)), ("details", (str, int, bool, type(None)))):
        mapping = event.get(field)
        if not isinstance(mapping, Mapping):
            raise AuditError(f"'{field}' must be a mapping", hint="pass a dict or leave it out")
        if len(mapping) > MAX_KEYS:
            raise AuditError(f"'{field}' has more than {MAX_KEYS} keys", hint="log less detail per entry")
        for key, value in mapping.items():
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                raise AuditError(
                    f"a key of '{field}' is not a short identifier (letters, digits, '_', '.', '-')",
                    hint="keys name things such as 'migration' or 'package'; values go in the value",
                )
            if not isinstance(value, allowed) or isinstance(value, float):
                raise AuditError(
                    f"{field}['{key}'] has an unsupported type",
                    hint="objects hold strings; details hold str, int, bool or None",
                )
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise AuditError(f"{field}['{key}'] is longer than {MAX_STRING} characters", hint=_HINT)
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
                raise AuditError(f"{field}['{key}'] is outside the 64-bit range", hint=_HINT)
        event[field] = dict(mapping)
    return event


# A run of digits, single separators allowed between digits, not glued to letters or digits.
_NUMBER_RUN = re.compile(r"(?<![0-9A-Za-z])(\+?)(\d(?:[ .\-/]?\d)*)(?![0-9A-Za-z])")
# NIR with a Corsican department (2A, 2B), which the digit-run rule cannot see.
_NIR_CORSICA = re.compile(
    r"(?<![0-9A-Za-z])[12][ .]?\d\d[ .]?\d\d[ .]?2[AB][ .]?\d{3}[ .]?\d{3}(?:[ .]?\d\d)?(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


def _patient_like(text: str) -> str | None:
    """What ``text`` looks like (``'a NIR'``, ``'a phone number'``), or None."""
    if _NIR_CORSICA.search(text):
        return "a NIR (social security number)"
    for match in _NUMBER_RUN.finditer(text):
        plus, run = match.groups()
        digits = re.sub(r"\D", "", run)
        if len(digits) in (13, 15):
            return "a NIR (social security number)"
        if plus and 8 <= len(digits) <= 15:
            return "a phone number"
        if digits.startswith("00") and 11 <= len(digits) <= 15:
            return "a phone number"
        if digits.startswith("0") and len(digits) == 10:
            return "a phone number"
    return None


def _reject(where: str, kind: str) -> AuditError:
    return AuditError(f"{where} looks like {kind}; audit entries must not hold patient values", hint=_HINT)


def reject_patient_like_values(event: Event) -> Event:
    """Refuse NIR-shaped and phone-shaped numbers anywhere, and e-mail addresses in ``details``.

    Staff e-mail addresses are accepted as ``actor`` and in ``objects`` (e.g. the account a
    command acted on); ``details`` is free-form and may not hold one.
    """
    actor = event.get("actor")
    if isinstance(actor, str) and (kind := _patient_like(actor)):
        raise _reject("the actor", kind)
    for field in ("objects", "details"):
        for key, value in event.get(field, {}).items():
            where = f"{field}['{key}']"
            if isinstance(value, bool) or value is None:
                continue
            text = str(value)
            if kind := _patient_like(text):
                raise _reject(where, kind)
            if field == "details" and isinstance(value, str) and _EMAIL.search(value):
                raise _reject(where, "an e-mail address")
    return event


DEFAULT_PROCESSORS: tuple[Processor, ...] = (require_fields, check_shapes, reject_patient_like_values)
