"""The migration procedure as a state machine: the one place its states and steps live.

::

    planned ──approve×N──▶ approved ──export──▶ exported ──receipt──▶ received ──close──▶ closed
       │                      │                    │                     │
       └──────────────────────┴──── expire ────────┴─────────────────────┴──▶ expired
       (any state before closed, when the mandate expires: package deleted, certificate issued)

    approved / exported / received ── integrity error ──▶ failed (package deleted, certificate)

``closed``, ``expired`` and ``failed`` are terminal. A step out of order raises
:class:`TransitionError` naming the step that is due.
"""

from __future__ import annotations

from typing import Final

from ecluse.errors import TransitionError

__all__ = ["NEXT_STEP", "STATES", "TERMINAL", "TRANSITIONS", "check_step"]

STATES: Final = ("planned", "approved", "exported", "received", "closed", "expired", "failed")
TERMINAL: Final = frozenset({"closed", "expired", "failed"})

#: step name → (states it may start from, state it leads to)
TRANSITIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "approve": (frozenset({"planned"}), "approved"),
    "export": (frozenset({"approved"}), "exported"),
    "receipt": (frozenset({"exported"}), "received"),
    "close": (frozenset({"received"}), "closed"),
    "expire": (frozenset({"planned", "approved", "exported", "received"}), "expired"),
    "fail": (frozenset({"approved", "exported", "received"}), "failed"),
}

#: state → the command a person runs next
NEXT_STEP: Final[dict[str, str]] = {
    "planned": "approval by the required number of people: 'ecluse approve MIGRATION'",
    "approved": "the export: 'ecluse export MIGRATION'",
    "exported": "the recipient's signed receipt: 'ecluse record-receipt MIGRATION --receipt FILE'",
    "received": "the close: 'ecluse close MIGRATION'",
}


_VERB: Final = {"receipt": "record the receipt", "fail": "fail the migration"}


def check_step(step: str, state: str) -> str:
    """Return the state ``step`` leads to from ``state``, or raise TransitionError."""
    allowed, target = TRANSITIONS[step]
    verb = _VERB.get(step, step)
    if state in allowed:
        return target
    if state in TERMINAL:
        raise TransitionError(f"cannot {verb}: the migration is {state}, which is final",
                              hint="start a new migration from a new mandate")
    raise TransitionError(f"cannot {verb} now: the migration is {state}; the step due is "
                          f"{NEXT_STEP[state]}", hint="run 'ecluse status MIGRATION' to see where it stands")
