"""People who act on a migration: one named person, one e-mail, one signing key each.

The Dedalus server was reached through accounts shared by several employees. Here a
generic name or mailbox (``admin``, ``labo``, ``test``…) is refused, and a signing key
can belong to one person only: every step is then attributable to someone who can be named.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Final

from ecluse.crypto.minisign import PublicKey
from ecluse.errors import IdentityError, KeyFileError
from ecluse.store import Store, StoredPerson

__all__ = ["GENERIC_NAMES", "ROLES", "check_personal_name", "register_person"]

ROLES: Final[tuple[str, ...]] = ("controller", "operator", "approver", "recipient")

#: Names and mailbox local parts that designate a function or a group, not a person.
GENERIC_NAMES: Final[frozenset[str]] = frozenset({
    "admin", "administrateur", "administrator", "root", "labo", "laboratoire", "lab", "test",
    "tests", "user", "utilisateur", "guest", "invite", "demo", "support", "contact", "info",
    "service", "accueil", "secretariat", "direction", "biologie", "maintenance", "ftp", "sftp",
    "system", "systeme", "operator", "operateur", "migration", "export", "import", "team",
    "equipe", "dev", "it", "informatique", "helpdesk", "hotline", "noreply", "no-reply", "compta",
    "commun", "partage", "shared", "generic", "generique", "default", "anonymous", "anonyme",
    "sil", "lis", "megabus", "kalisil", "dedalus", "ecluse", "recipient", "controller",
})

_EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def check_personal_name(name: str, email: str) -> None:
    """Raise IdentityError unless ``name`` and ``email`` designate one person."""
    words = [w for w in re.split(r"[\s._\-'0-9]+", _fold(name)) if w]
    if len(words) < 2:
        raise IdentityError("a person is registered with a first name and a last name",
                            hint="give the full name of the person, e.g. 'Claire Dubois'")
    if any(w in GENERIC_NAMES for w in words):
        raise IdentityError("this looks like a generic or shared account name, not a person",
                            hint="register each person under their own name; shared accounts are refused")
    if not _EMAIL.match(email):
        raise IdentityError("the e-mail address is not valid", hint="give the person's own address")
    local = _fold(email.split("@", 1)[0])
    parts = [p for p in re.split(r"[._+\-0-9]+", local) if p]
    if not parts or all(p in GENERIC_NAMES for p in parts) or local in GENERIC_NAMES:
        raise IdentityError("this mailbox is a shared or functional address, not a person's",
                            hint="use the person's own mailbox, e.g. claire.dubois@lab.example")


def register_person(store: Store, *, name: str, email: str, role: str, public_key_text: str,
                    now: datetime) -> StoredPerson:
    """Register a person with their minisign public key; refuse generic names and reused keys."""
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r}", hint=f"choose one of: {', '.join(ROLES)}")
    name = " ".join(name.split())
    email = email.strip().lower()
    check_personal_name(name, email)
    try:
        key = PublicKey.from_text(public_key_text)
    except KeyFileError as exc:
        raise IdentityError("the public key is not a minisign public key",
                            hint="give the .pub file written by 'ecluse keygen' or 'minisign -G'") from exc
    if store.person_by(email=email) is not None:
        raise IdentityError("a person with this e-mail is already registered",
                            hint="each person is registered once; see 'ecluse person list'")
    holder = store.person_by(key_id=key.key_id_hex)
    if holder is not None:
        raise IdentityError(f"this signing key is already registered to {holder.email}",
                            hint="each person needs their own key: run 'ecluse keygen' for this person")
    person = StoredPerson(id=_person_id(), name=name, email=email, role=role,
                          key_id=key.key_id_hex, public_key=key.to_text(),
                          created_at=now.isoformat())
    store.add_person(person)
    return person


def _person_id() -> str:
    """``P-`` and 12 hex digits with at least one letter (an all-digit id could look like a phone number
    to the audit log's patient-value guard)."""
    while True:
        tail = secrets.token_hex(6)
        if not tail.isdigit():
            return "P-" + tail
