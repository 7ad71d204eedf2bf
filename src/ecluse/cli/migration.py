"""Commands of the migration procedure: init, keys, people, mandates and the steps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecluse.cli._common import (
    KeyOpt,
    PassOpt,
    WorkspaceOpt,
    actor,
    now,
    open_workspace,
    passphrase,
    progress_bar,
    settings,
)
from ecluse.cli.app import app, console, handle_errors
from ecluse.crypto import age, minisign
from ecluse.errors import ConfigError, IdentityError, KeyFileError, PackageError
from ecluse.identity.people import ROLES, register_person
from ecluse.migration import procedure
from ecluse.migration.mandate import load_mandate, sign_mandate
from ecluse.migration.receive import receive_package, write_receipt
from ecluse.migration.sources import spec_for
from ecluse.migration.states import NEXT_STEP, TERMINAL
from ecluse.migration.workspace import init_workspace

person_app = typer.Typer(help="Register and list the people who act on migrations.", no_args_is_help=True)
mandate_app = typer.Typer(help="Sign and check mandates (the scope a lab signs).", no_args_is_help=True)
app.add_typer(person_app, name="person")
app.add_typer(mandate_app, name="mandate")


@app.command()
@handle_errors
def init(workspace: WorkspaceOpt = None) -> None:
    """Create a workspace: database, audit log, staging area and the workspace's keys."""
    ws = init_workspace(settings(workspace), now=now())
    console.print(f"workspace created in [bold]{ws.root}[/]")
    console.print(f"certificate key: {ws.root / 'keys' / 'certificates.pub'} (give it to the controller)")
    ws.close()


@app.command()
@handle_errors
def keygen(
    out: Annotated[Path, typer.Argument(help="Path prefix: writes OUT.key and OUT.pub (or OUT.age).")],
    age_key: Annotated[bool, typer.Option("--age", help="Make an age X25519 identity (for recipients).")] = False,
    passphrase_file: PassOpt = None,
) -> None:
    """Create a personal signing key (minisign, passphrase-protected) or an age identity."""
    if age_key:
        path = out.with_suffix(".age")
        if path.exists():
            raise ConfigError(f"{path} exists; refusing to overwrite a key")
        identity, recipient = age.generate_x25519()
        path.touch(mode=0o600)
        path.write_text(f"# created by ecluse\n# public key: {recipient}\n{identity}\n")
        console.print(f"age identity: {path}\npublic key (recipient): [bold]{recipient}[/]")
        return
    key_path, pub_path = out.with_suffix(".key"), out.with_suffix(".pub")
    for p in (key_path, pub_path):
        if p.exists():
            raise ConfigError(f"{p} exists; refusing to overwrite a key")
    pw = passphrase(passphrase_file, what="the new key", confirm=True)
    if len(pw) < 12:
        raise KeyFileError("the passphrase is too short (at least 12 characters)",
                           hint="use a passphrase of several words")
    sk = minisign.generate()
    kdf = minisign.INTERACTIVE_KDF if settings(None).kdf == "interactive" else minisign.DEFAULT_KDF
    sk.to_file(key_path, pw, kdf=kdf)
    sk.public_key().to_file(pub_path)
    console.print(f"secret key: {key_path}\npublic key: {pub_path} (key id {sk.key_id_hex})")


@person_app.command("add")
@handle_errors
def person_add(
    name: Annotated[str, typer.Option(help="The person's full name.")],
    email: Annotated[str, typer.Option(help="The person's own e-mail address.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    key: Annotated[Path, typer.Option(help="The person's minisign public key (.pub).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Register a person with their own signing key (generic names and shared keys are refused)."""
    try:
        text = key.read_text()
    except OSError as exc:
        raise IdentityError(f"cannot read the public key file {key.name}") from exc
    with open_workspace(workspace) as ws:
        p = register_person(ws.store, name=name, email=email, role=role, public_key_text=text, now=now())
        ws.record("system", "person.register", objects={"person": p.id, "email": p.email},
                  details={"role": p.role, "key_id": p.key_id}, now=now())
        console.print(f"registered {p.name} <{p.email}> as {p.role} (id {p.id}, key {p.key_id})")


@person_app.command("list")
@handle_errors
def person_list(workspace: WorkspaceOpt = None) -> None:
    """List registered people."""
    with open_workspace(workspace) as ws:
        t = Table("id", "name", "e-mail", "role", "key id")
        for p in ws.store.people():
            t.add_row(p.id, p.name, p.email, p.role, p.key_id)
        console.print(t)


@mandate_app.command("sign")
@handle_errors
def mandate_sign(mandate: Path, key: KeyOpt, passphrase_file: PassOpt = None) -> None:
    """Sign a mandate with the controller's key (writes MANDATE.minisig)."""
    sk = minisign.SecretKey.from_file(key, passphrase(passphrase_file, what=key.name))
    out = sign_mandate(mandate, sk)
    console.print(f"signed: {out} (verifiable with: minisign -Vm {mandate} -p CONTROLLER.pub)")


@mandate_app.command("template")
@handle_errors
def mandate_template(
    recipient: Annotated[str, typer.Option(help="The recipient's age public key (age1...).")],
    site: Annotated[list[str], typer.Option(help="A lab site's FINESS (repeat for several).")],
) -> None:
    """Print a mandate to edit: every field, safe defaults (no free text, no sensitive category)."""
    from datetime import timedelta

    from ecluse.migration.demo import mandate_text

    text = mandate_text(recipient=recipient, sites=site, expires=now() + timedelta(days=30), patients=1000,
                        categories=())
    for demo, placeholder in _TEMPLATE_PLACEHOLDERS:
        text = text.replace(demo, placeholder)
    typer.echo(text, nl=False)


_TEMPLATE_PLACEHOLDERS = (
    ("MANDAT-DEMO-", "MANDATE-"),
    ("Migration du SIL historique vers le nouveau SIL du laboratoire", "WHY: the purpose of the migration"),
    ("Laboratoire de biologie médicale Armor", "LAB NAME (the controller)"),
    ("Dr Claire Dubois, biologiste responsable", "NAME AND FUNCTION of the signing person"),
    ("claire.dubois@labo-armor.example", "signer@lab.example"),
    ("Éditeur SIL (migration)", "PROCESSOR NAME"),
    ("julien.moreau@editeur-sil.example", "operator@processor.example"),
    ("Nouveau SIL, service d'import", "RECIPIENT NAME"),
    ("karim.haddad@nouveau-sil.example", "receiver@recipient.example"),
)


@mandate_app.command("check")
@handle_errors
def mandate_check(mandate: Path, controller_key: Annotated[Path, typer.Option(help="Controller's .pub")]) -> None:
    """Check a mandate's syntax, signature and expiry."""
    m = load_mandate(mandate, controller_key, now=now())
    console.print(f"mandate {m.id}: signature valid, expires {m.expires.isoformat()}")
    for what, items in m.scope.left_out().items():
        if items:
            console.print(f"  left out ({what}): {', '.join(items)}")


@app.command()
@handle_errors
def plan(
    mandate: Annotated[Path, typer.Argument(help="The signed mandate (MANDATE.minisig beside it).")],
    key: KeyOpt,
    source: Annotated[Path | None, typer.Option(
        help="What to extract from: a synthetic LIS database, or a lab-format file or directory of files "
        "(HL7 v2.5, HPRIM Santé, HPRIM Net, CSV; recognised by their first bytes unless --source-format).")] = None,
    source_format: Annotated[str | None, typer.Option(
        help="The format of the --source files: hl7v25, hprim-sante, hprim-net or csv.")] = None,
    source_url: Annotated[str | None, typer.Option(
        help="Any SQL database (SQLAlchemy URL, no password in it: use PGPASSWORD or ~/.pgpass), "
        "read through --mapping.")] = None,
    mapping: Annotated[str | None, typer.Option(
        help="With --source-url: a shipped mapping name (synth-lis) or a mapping file (docs/formats/sql.md). "
        "With CSV files: a column-mapping file (docs/formats/csv.md).")] = None,
    passphrase_file: PassOpt = None, workspace: WorkspaceOpt = None,
) -> None:
    """Start a migration from a signed mandate (state: planned)."""
    spec = spec_for(path=source, url=source_url, fmt=source_format, mapping=mapping)
    with open_workspace(workspace) as ws:
        m = procedure.plan(ws, mandate, spec, actor(ws, key, passphrase_file), now=now())
        console.print(f"migration [bold]{m.id}[/] planned under mandate {m.mandate_id}; "
                      f"next: {NEXT_STEP['planned']}")


@app.command()
@handle_errors
def approve(migration: str, key: KeyOpt, passphrase_file: PassOpt = None, workspace: WorkspaceOpt = None) -> None:
    """Approve a planned migration (signed; distinct people, never the exporter)."""
    with open_workspace(workspace) as ws:
        done, need = procedure.approve(ws, migration, actor(ws, key, passphrase_file), now=now())
        console.print(f"approval {done}/{need} recorded for {migration}"
                      + (" — migration approved" if done >= need else ""))


@app.command()
@handle_errors
def export(migration: str, key: KeyOpt, passphrase_file: PassOpt = None, workspace: WorkspaceOpt = None) -> None:
    """Extract what the mandate allows into an encrypted, signed package."""
    with open_workspace(workspace) as ws:
        who = actor(ws, key, passphrase_file)
        with progress_bar("export (patients)") as bar:
            s = procedure.export(ws, migration, who, now=now(), progress=bar)
        console.print(f"package [bold]{s.package_id}[/] written to {s.path} in {s.seconds:.1f} s")
        for t, n in s.counts.items():
            console.print(f"  {t:<17} {n:>12,}")


@app.command()
@handle_errors
def receive(
    package: Annotated[Path, typer.Argument(help="The package directory.")],
    identity: Annotated[Path, typer.Option(help="Your age identity file.")],
    into: Annotated[Path, typer.Option(help="Target: a directory (FHIR NDJSON) or a .db file (SQLite).")],
    key: KeyOpt,
    sender_key: Annotated[list[Path] | None, typer.Option(
        help="Pinned public key(s) of the sender (default: operators registered in your workspace).")] = None,
    receipt: Annotated[Path | None, typer.Option(help="Where to write the signed receipt.")] = None,
    passphrase_file: PassOpt = None, workspace: WorkspaceOpt = None,
) -> None:
    """Verify, decrypt, validate and import a package, then sign a receipt."""
    with open_workspace(workspace) as ws:
        who = actor(ws, key, passphrase_file)
        if who.person.role != "recipient":
            raise IdentityError(f"{who.person.email} is not registered as a recipient")
        pins = ([minisign.PublicKey.from_file(p) for p in sender_key] if sender_key else
                [minisign.PublicKey.from_text(p.public_key) for p in ws.store.people() if p.role == "operator"])
        if not pins:
            raise PackageError("no pinned sender key", hint="pass --sender-key OPERATOR.pub, or register the "
                               "sender's operators in your workspace")
        with progress_bar("decrypt, validate, import (resources)") as bar:
            result = receive_package(package, identities=age.read_identity_file(identity), sender_keys=pins,
                                     target=into, workers=ws.settings.export_workers, now=now(),
                                     progress=lambda msg: console.print(f"  ✓ {msg}"), advance=bar)
        out = receipt or Path(f"receipt-{result.manifest.package_id}.json")
        write_receipt(result, who.key, signer_email=who.person.email, out=out, now=now())
        ws.record(who.person.email, "package.receive",
                  objects={"package": result.manifest.package_id, "target": into.name},
                  details={f"count_{t}": n for t, n in result.counts.items()}, now=now())
        console.print(f"imported package {result.manifest.package_id} into {into} in {result.seconds:.1f} s")
        for t, n in result.counts.items():
            console.print(f"  {t:<17} {n:>12,}")
        console.print(f"signed receipt: {out} (+ .minisig): send both to the sender")


@app.command("record-receipt")
@handle_errors
def record_receipt(migration: str, receipt: Annotated[Path, typer.Option(help="The recipient's receipt.")],
                   workspace: WorkspaceOpt = None) -> None:
    """Check the recipient's signed receipt against the package (state: received)."""
    with open_workspace(workspace) as ws:
        pkg = procedure.record_receipt(ws, migration, receipt, now=now())
        state = procedure.load_migration(ws, migration).state
        if state == "received":
            console.print(f"receipt for {pkg} verified; {migration} is received; next: {NEXT_STEP['received']}")
        else:
            console.print(f"receipt for {pkg} verified; {migration} waits for the receipts of the other recipients")


@app.command()
@handle_errors
def close(migration: str, key: KeyOpt, receipt: Annotated[Path | None, typer.Option(
        help="Record this receipt first if not done yet.")] = None,
          passphrase_file: PassOpt = None, workspace: WorkspaceOpt = None) -> None:
    """Delete the package, check nothing remains, issue a signed deletion certificate."""
    with open_workspace(workspace) as ws:
        who = actor(ws, key, passphrase_file)
        if receipt is not None and procedure.load_migration(ws, migration).state == "exported":
            procedure.record_receipt(ws, migration, receipt, now=now())
        cert = procedure.close(ws, migration, who, now=now())
        console.print(f"{migration} closed; deletion certificate: [bold]{cert}[/] (+ .minisig)")


@app.command("purge-expired")
@handle_errors
def purge_expired_cmd(workspace: WorkspaceOpt = None) -> None:
    """Delete packages whose mandate expired (for cron); one certificate each."""
    with open_workspace(workspace, sweep=False) as ws:
        certs = procedure.purge_expired(ws, now=now())
        console.print(f"{len(certs)} expired migration(s) purged")
        for c in certs:
            console.print(f"  certificate {c}")


@app.command()
@handle_errors
def status(migration: Annotated[str | None, typer.Argument()] = None, workspace: WorkspaceOpt = None) -> None:
    """Show migrations, their state and the step due."""
    with open_workspace(workspace) as ws:
        rows = [procedure.load_migration(ws, migration)] if migration else ws.store.migrations()
        t = Table("migration", "mandate", "state", "package", "expires", "next step")
        for m in rows:
            t.add_row(m.id, m.mandate_id, m.state, m.package_id or "", m.expires_at[:16],
                      "—" if m.state in TERMINAL else NEXT_STEP[m.state])
        console.print(t)
