"""The whole story on the embedded default: synthesise a LIS, sign a mandate, migrate, close.

Everything goes through the same library calls as the documented commands, so a run kept
with ``--keep DIR --until STEP`` can be continued by hand (``DIR/NEXT.md`` says how).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from ecluse.config import Settings
from ecluse.crypto import age, minisign
from ecluse.errors import ConfigError
from ecluse.identity.people import register_person
from ecluse.legacy import synth
from ecluse.migration import procedure
from ecluse.migration.mandate import sign_mandate
from ecluse.migration.receive import receive_package, write_receipt
from ecluse.migration.workspace import Actor, Workspace, init_workspace

__all__ = ["STEPS", "DemoReport", "run_demo"]

STEPS: Final = ("planned", "approved", "exported", "received", "closed")

_PEOPLE: Final = (  # (file stem, name, e-mail, role, side)
    ("controller", "Claire Dubois", "claire.dubois@labo-armor.example", "controller", "sender"),
    ("operator1", "Julien Moreau", "julien.moreau@editeur-sil.example", "operator", "sender"),
    ("operator2", "Sophie Bernard", "sophie.bernard@editeur-sil.example", "operator", "sender"),
    ("recipient", "Karim Haddad", "karim.haddad@nouveau-sil.example", "recipient", "both"),
)


@dataclass
class DemoReport:
    root: Path
    stopped_after: str
    timings: dict[str, float] = field(default_factory=dict)
    synth: synth.SynthStats | None = None
    migration_id: str = ""
    package_id: str = ""
    exported: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, list[str]] = field(default_factory=dict)
    excluded_rows: dict[str, int] = field(default_factory=dict)
    certificate: Path | None = None
    audit_entries: dict[str, int] = field(default_factory=dict)
    package_bytes: int = 0


def mandate_text(*, recipient: str, sites: list[str], expires: datetime, patients: int,
                 categories: tuple[str, ...] = ("drug_monitoring", "pregnancy")) -> str:
    """A mandate in TOML: the demo's, and the template of 'ecluse mandate template'."""
    cats = ", ".join(f'"{c}"' for c in categories)
    quoted = ", ".join(f'"{s}"' for s in sites)
    return f'''# Mandate: the scope the lab signs. See docs/mandate.md.
version = 1
id = "MANDAT-DEMO-{expires:%Y%m%d}"
purpose = "Migration du SIL historique vers le nouveau SIL du laboratoire"
expires = {expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
approvals_required = 2

[controller]
name = "Laboratoire de biologie médicale Armor"
finess = "{sites[0]}"
contact = "Dr Claire Dubois, biologiste responsable"
email = "claire.dubois@labo-armor.example"

[processor]
name = "Éditeur SIL (migration)"
contact = "julien.moreau@editeur-sil.example"

[[recipients]]
name = "Nouveau SIL, service d'import"
email = "karim.haddad@nouveau-sil.example"
age_recipient = "{recipient}"

[scope]
sites = [{quoted}]
period = {{ start = 2019-01-01, end = 2024-12-31 }}
resource_types = ["Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport"]
patient_fields = ["ins", "names", "sex", "birth_date", "birth_place"]
free_text = false
sensitive_categories = [{cats}]

[scope.ceiling]
patients = {max(patients, 10)}
resources = {max(patients, 10) * 40}
'''


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _excluded(source: Path, sites: list[str]) -> dict[str, int]:
    """How many rows of the LIS the scope leaves out, by reason (counts only)."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    marks = ",".join("?" * len(sites))
    try:
        q = conn.execute
        out = {
            "requests outside sites or period": q(
                f"SELECT count(*) FROM requests WHERE site_finess NOT IN ({marks}) "
                "OR collected_at < '2019-01-01' OR collected_at >= '2025-01-01'", sites).fetchone()[0],
            "results of excluded sensitive categories": q(
                "SELECT count(*) FROM results WHERE category IN ('hiv', 'genetic', 'tumour_marker')"
            ).fetchone()[0],
            "free-text comments (patients, requests, results)": sum(q(
                f"SELECT count(*) FROM {t} WHERE comment IS NOT NULL").fetchone()[0]
                for t in ("patients", "requests", "results")),
        }
    finally:
        conn.close()
    return out


def run_demo(root: Path, *, patients: int, seed: int = 1, until: str = "closed",
             progress: Callable[[str, int, int], None] | None = None,
             say: Callable[[str], None] = lambda _m: None) -> DemoReport:
    """Run the procedure end to end in ``root`` (must be empty or absent)."""
    if until not in STEPS:
        raise ConfigError(f"unknown step {until!r}", hint=f"choose one of: {', '.join(STEPS)}")
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} is not empty", hint="give a new or empty directory to --keep")
    root.mkdir(parents=True, exist_ok=True)
    report = DemoReport(root=root, stopped_after=until)
    now = datetime.now(UTC)
    keys = root / "keys"
    keys.mkdir(mode=0o700)

    def step(name: str) -> Callable[[], None]:
        t0 = time.perf_counter()

        def done() -> None:
            report.timings[name] = time.perf_counter() - t0
        return done

    # 1. the legacy LIS
    done = step("synthesise legacy LIS")
    say(f"synthesising a legacy LIS with {patients:,} patients")
    source = root / "legacy-lis.db"
    report.synth = synth.generate(source, patients=patients, seed=seed,
                                  progress=(lambda d, t: progress("synth", d, t)) if progress else None)
    done()

    # 2. workspaces, keys and people
    done = step("keys and people")
    sender = init_workspace(Settings(workspace=root / "vendor-workspace", kdf="interactive"), now=now)
    receiver = init_workspace(Settings(workspace=root / "recipient-workspace", kdf="interactive"), now=now)
    secret_keys: dict[str, tuple[Path, str]] = {}
    for stem, name, email, role, side in _PEOPLE:
        pw = secrets.token_urlsafe(18)
        sk = minisign.generate()
        sk.to_file(keys / f"{stem}.key", pw, kdf=minisign.INTERACTIVE_KDF)
        sk.public_key().to_file(keys / f"{stem}.pub")
        _write_secret(keys / f"{stem}.pass", pw + "\n")
        secret_keys[stem] = (keys / f"{stem}.key", pw)
        pub = sk.public_key().to_text()
        if side in ("sender", "both"):
            p = register_person(sender.store, name=name, email=email, role=role, public_key_text=pub, now=now)
            sender.record("system", "person.register", objects={"person": p.id, "email": p.email},
                          details={"role": role, "key_id": p.key_id}, now=now)
        if side == "both" or stem == "operator2":
            p = register_person(receiver.store, name=name, email=email, role=role, public_key_text=pub, now=now)
            receiver.record("system", "person.register", objects={"person": p.id, "email": p.email},
                            details={"role": role, "key_id": p.key_id}, now=now)
    identity, recipient = age.generate_x25519()
    _write_secret(keys / "recipient.age", f"# public key: {recipient}\n{identity}\n")
    done()

    # 3. the mandate, signed by the controller
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    all_sites = [r[0] for r in conn.execute("SELECT finess FROM sites ORDER BY finess")]
    conn.close()
    sites = all_sites[: max(1, len(all_sites) - 3)]  # three sites of the group stay out
    mandate_path = root / "mandate.toml"
    mandate_path.write_text(mandate_text(recipient=recipient, sites=sites,
                                          expires=now + timedelta(days=30), patients=patients))
    ctl_key = minisign.SecretKey.from_file(*secret_keys["controller"])
    sign_mandate(mandate_path, ctl_key)
    report.excluded_rows = _excluded(source, sites)

    def who(ws: Workspace, stem: str) -> Actor:
        return ws.actor(*secret_keys[stem])

    try:
        done = step("plan")
        m = procedure.plan(sender, mandate_path, source, who(sender, "operator1"), now=now)
        report.migration_id = m.id
        done()
        say(f"migration {m.id} planned")
        if until == "planned":
            return _stop(report, sender, receiver)
        done = step("approve")
        procedure.approve(sender, m.id, who(sender, "controller"), now=now)
        procedure.approve(sender, m.id, who(sender, "operator1"), now=now)
        done()
        say("approved by Claire Dubois and Julien Moreau")
        if until == "approved":
            return _stop(report, sender, receiver)
        done = step("export")
        s = procedure.export(sender, m.id, who(sender, "operator2"), now=now,
                             progress=(lambda d, t: progress("export", d, t)) if progress else None)
        report.package_id, report.exported, report.left_out = s.package_id, s.counts, s.left_out
        report.package_bytes = s.bytes
        done()
        say(f"exported package {s.package_id} by Sophie Bernard")
        if until == "exported":
            return _stop(report, sender, receiver)
        done = step("receive")
        rec = who(receiver, "recipient")
        pins = [minisign.PublicKey.from_text(p.public_key) for p in receiver.store.people()
                if p.role == "operator"]
        result = receive_package(s.path, identities=[identity], sender_keys=pins, now=now,
                                 target=root / "recipient-target", workers=receiver.settings.export_workers)
        receipt = write_receipt(result, rec.key, signer_email=rec.person.email,
                                out=root / f"receipt-{s.package_id}.json", now=now)
        receiver.record(rec.person.email, "package.receive", objects={"package": s.package_id},
                        details={f"count_{t}": n for t, n in result.counts.items()}, now=now)
        report.received = result.counts
        done()
        say("received, validated and imported by Karim Haddad; receipt signed")
        if until == "received":
            procedure.record_receipt(sender, m.id, receipt, now=now)
            return _stop(report, sender, receiver)
        done = step("close")
        procedure.record_receipt(sender, m.id, receipt, now=now)
        report.certificate = procedure.close(sender, m.id, who(sender, "operator1"), now=now)
        done()
        done = step("verify audit")
        for label, ws in (("vendor", sender), ("recipient", receiver)):
            report.audit_entries[label] = ws.audit.verify(ws.note_verifier).entries
        report.audit_entries["witness"] = sender.audit.verify(
            sender.note_verifier, witness=_cert_checkpoint(report.certificate)).entries
        done()
        return report
    finally:
        sender.close()
        receiver.close()


def _cert_checkpoint(cert: Path) -> str:
    import orjson

    return str(orjson.loads(cert.read_bytes())["audit_checkpoint"])


def _stop(report: DemoReport, sender: Workspace, receiver: Workspace) -> DemoReport:
    for ws in (sender, receiver):
        ws.checkpoint(datetime.now(UTC))
    _write_next(report)
    return report


def _write_next(report: DemoReport) -> None:
    r = report.root
    m = report.migration_id
    lines = [
        f"# Continue the demo by hand (stopped after: {report.stopped_after})", "",
        "Passphrases are in keys/*.pass (demo only; real keys keep theirs in a person's head).", "",
        "```sh", f"cd {r}", "export ECLUSE_KDF=interactive", "",
    ]
    steps = {
        "planned": [f"ecluse approve {m} -w vendor-workspace -k keys/controller.key "
                    "--passphrase-file keys/controller.pass",
                    f"ecluse approve {m} -w vendor-workspace -k keys/operator1.key "
                    "--passphrase-file keys/operator1.pass"],
        "approved": [f"ecluse export {m} -w vendor-workspace -k keys/operator2.key "
                     "--passphrase-file keys/operator2.pass"],
        "exported": ["ecluse receive vendor-workspace/staging/PKG-... -w recipient-workspace "
                     "--identity keys/recipient.age --into recipient-target -k keys/recipient.key "
                     "--passphrase-file keys/recipient.pass --receipt receipt.json",
                     f"ecluse record-receipt {m} -w vendor-workspace --receipt receipt.json"],
        "received": [f"ecluse close {m} -w vendor-workspace -k keys/operator1.key "
                     "--passphrase-file keys/operator1.pass",
                     "ecluse audit verify -w vendor-workspace --witness vendor-workspace/certificates/CERT-*.json"],
    }
    started = False
    for state in ("planned", "approved", "exported", "received"):
        if state == report.stopped_after:
            started = True
        if started:
            lines += [c.replace("PKG-...", report.package_id) for c in steps[state]]
    lines += ["ecluse status -w vendor-workspace", "```", ""]
    (r / "NEXT.md").write_text("\n".join(lines))
