"""The procedure as a state machine, and the mandate and people checks around it (issue 2)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecluse.errors import IdentityError, MandateError, ScopeError, TransitionError
from ecluse.identity.people import register_person
from ecluse.migration import procedure
from ecluse.migration.states import TRANSITIONS, check_step

from .conftest import NOW, World


def test_happy_path_states_and_transitions_are_recorded(world: World) -> None:
    mig, summary = world.exported()
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "exported" and m.package_id == summary.package_id
    steps = [(t["from_state"], t["to_state"]) for t in world.sender.store.transitions(mig)]
    assert steps == [(None, "planned"), ("planned", "approved"), ("approved", "exported")]
    actions = [e.action for e in world.sender.audit.entries()]
    assert actions.count("migration.approve") == 2
    assert "package.export" in actions and "migration.plan" in actions


@pytest.mark.parametrize("step,state,due", [
    ("export", "planned", "approval"),
    ("close", "approved", "export"),
    ("receipt", "planned", "approval"),
    ("close", "exported", "receipt"),
    ("approve", "closed", "final"),
])
def test_step_out_of_order_names_the_step_due(step: str, state: str, due: str) -> None:
    with pytest.raises(TransitionError, match=due):
        check_step(step, state)


def test_every_state_before_closed_can_expire() -> None:
    assert TRANSITIONS["expire"][0] == {"planned", "approved", "exported", "received"}


def test_export_before_approval_is_refused(world: World) -> None:
    mig = world.planned()
    with pytest.raises(TransitionError, match="approval"):
        procedure.export(world.sender, mig, world.actor("op2"), now=NOW)
    assert not any(world.sender.staging.iterdir())


def test_same_person_approving_twice_is_refused(world: World) -> None:
    mig = world.planned()
    procedure.approve(world.sender, mig, world.actor("controller"), now=NOW)
    with pytest.raises(IdentityError, match="already approved"):
        procedure.approve(world.sender, mig, world.actor("controller"), now=NOW)
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "planned"


def test_unregistered_key_cannot_approve(world: World, tmp_path) -> None:
    from ecluse.crypto import minisign

    stranger = minisign.generate()
    path = tmp_path / "stranger.key"
    stranger.to_file(path, "correct horse battery", kdf=minisign.INTERACTIVE_KDF)
    with pytest.raises(IdentityError, match="no registered person"):
        world.sender.actor(path, "correct horse battery")


def test_exporter_cannot_be_an_approver(world: World) -> None:
    mig = world.planned()
    procedure.approve(world.sender, mig, world.actor("op1"), now=NOW)
    procedure.approve(world.sender, mig, world.actor("controller"), now=NOW)
    with pytest.raises(IdentityError, match="cannot also export"):
        procedure.export(world.sender, mig, world.actor("op1"), now=NOW)


def test_export_beyond_the_volume_ceiling_writes_nothing(world: World) -> None:
    small = world.write_mandate("small.toml", patients=10)
    mig = world.planned(small)
    procedure.approve(world.sender, mig, world.actor("controller"), now=NOW)
    procedure.approve(world.sender, mig, world.actor("approver"), now=NOW)
    with pytest.raises(ScopeError, match="ceiling"):
        procedure.export(world.sender, mig, world.actor("op2"), now=NOW)
    assert list(world.sender.staging.iterdir()) == []
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "approved"


def test_mandate_edited_after_signing_is_refused(world: World) -> None:
    path = world.write_mandate("edited.toml")
    path.write_text(path.read_text().replace('free_text = false', 'free_text = true'))
    with pytest.raises(MandateError, match="altered after signing"):
        world.planned(path)


def test_unsigned_mandate_is_refused(world: World) -> None:
    path = world.write_mandate("unsigned.toml", sign=False)
    with pytest.raises(MandateError, match="not signed"):
        world.planned(path)


def test_mandate_signed_by_someone_else_is_refused(world: World) -> None:
    from ecluse.migration.mandate import sign_mandate

    path = world.write_mandate("other.toml", sign=False)
    sign_mandate(path, world.keys["op1"])
    with pytest.raises(MandateError, match="controller's key"):
        world.planned(path)


def test_expired_mandate_is_refused(world: World) -> None:
    path = world.write_mandate("old.toml", expires=NOW - timedelta(days=1))
    with pytest.raises(MandateError, match="expired"):
        world.planned(path)


@pytest.mark.parametrize("edit,field", [
    (lambda t: t.replace("approvals_required = 2", "approvals_required = 1"), "approvals_required"),
    (lambda t: t.replace('free_text = false', 'free_text = "no"'), "scope.free_text"),
    (lambda t: t.replace('"pregnancy"]', '"astrology"]'), "scope.sensitive_categories"),
    (lambda t: t.replace('"birth_place"]', '"shoe_size"]'), "scope.patient_fields"),
    (lambda t: t.replace("[scope.ceiling]", "[scope.nothing]"), "scope.ceiling"),
    (lambda t: t.replace('age_recipient = "age1', 'age_recipient = "xyz'), "age_recipient"),
    (lambda t: t.replace("purpose =", "# purpose ="), "purpose"),
    (lambda t: t + "\n[[[broken", "TOML"),
])
def test_malformed_mandate_names_the_field(world: World, edit, field: str) -> None:
    path = world.write_mandate("bad.toml", edit=edit, sign=False)
    from ecluse.migration.mandate import parse_mandate

    with pytest.raises(MandateError, match=field.replace(".", r"\.")):
        parse_mandate(path.read_bytes())


@pytest.mark.parametrize("name,email", [
    ("admin", "admin@lab.example"),
    ("Labo Central", "labo@lab.example"),
    ("Claire Dubois", "contact@lab.example"),
    ("Test User", "t.user@lab.example"),
    ("Dubois", "claire.dubois@lab.example"),
])
def test_generic_or_shared_accounts_are_refused(world: World, name: str, email: str) -> None:
    from ecluse.crypto import minisign

    pub = minisign.generate().public_key().to_text()
    with pytest.raises(IdentityError):
        register_person(world.sender.store, name=name, email=email, role="operator", public_key_text=pub, now=NOW)


def test_a_key_registered_twice_is_refused(world: World) -> None:
    pub = world.keys["op1"].public_key().to_text()
    with pytest.raises(IdentityError, match="already registered"):
        register_person(world.sender.store, name="Paul Girard", email="paul.girard@vendor.example",
                        role="operator", public_key_text=pub, now=NOW)


def test_expired_mandate_purges_package_with_certificate(world: World) -> None:
    mig, summary = world.exported()
    assert summary.path.exists()
    later = NOW + timedelta(days=31)
    certs = procedure.purge_expired(world.sender, now=later)
    assert len(certs) == 1 and certs[0].exists()
    assert not summary.path.exists()
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "expired"
    import orjson

    cert = orjson.loads(certs[0].read_bytes())
    assert cert["reason"] == "expired" and cert["package_id"] == summary.package_id
    with pytest.raises(TransitionError, match="final"):
        procedure.close(world.sender, mig, world.actor("op1"), now=later)


def test_ids_never_look_like_patient_values() -> None:
    """An all-digit random id (about 1 in 100 for 10 hex digits) would look like a phone number and be
    refused by the audit log: ids always hold a letter."""
    from ecluse.audit.processors import _patient_like

    for _ in range(3000):
        for prefix, n in (("MIG-", 5), ("PKG-", 8), ("CERT-", 6)):
            new = procedure.new_id(prefix, n)
            assert new.startswith(prefix) and not new[len(prefix):].isdigit()
            assert _patient_like(new) is None
