"""A large unlabelled corpus that looks like a server a migration passed through (benchmarks only).

The mix was chosen before measuring anything and is not tuned to the scanner; shares are of bytes:

====  ==========================================================================================
25 %  plain-text logs: syslog, web access log, application log; about 1 line in 2,000 of the
      application log carries a patient identifier (a debug line that leaked a NIR, an e-mail)
10 %  rotated logs compressed with gzip (``*.log.N.gz``), same generator
12 %  source code and configuration (copies of the host's Python standard library and ``/etc``)
20 %  binaries: executables and shared libraries (ELF, from ``/usr/lib``, ``/usr/bin``), images
 8 %  ``tar.gz`` backups of an application directory (logs and source code)
10 %  age-encrypted packages (``ecluse.crypto.age.encrypt_to``): what Écluse itself leaves behind
 7 %  SQLite databases of the application (sessions, jobs, audit trail; no patient data)
 8 %  patient-data exports from :mod:`ecluse.scan.corpus`: CSV, TSV, NDJSON, SQL dump, HL7, HPRIM
====  ==========================================================================================

The rationale: a legacy application server or its backup holds mostly logs, code, binaries and
archives; the exports that a migration produced are a minority of bytes, but dense. A scanner must be
judged on both: :func:`ecluse.scan.corpus.generate_dense` keeps the patient-only corpus.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import sqlite3
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ecluse.scan import corpus as c

__all__ = ["SHARES", "generate_server"]

SHARES: dict[str, float] = {
    "logs": 0.25,
    "logs_gz": 0.10,
    "source": 0.12,
    "binaries": 0.20,
    "backups": 0.08,
    "age": 0.10,
    "sqlite": 0.07,
    "patient_exports": 0.08,
}

_HOSTS = ["his-app01", "his-app02", "lab-gw", "portal-web"]
_PATHS = ["/api/v1/results", "/static/app.js", "/login", "/api/v1/orders", "/health", "/portal/documents", "/"]
_UA = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.5.0", "python-requests/2.31", "Prometheus/2.48"]
_SERVICES = ["sshd", "systemd", "cron", "kernel", "postfix/smtpd", "dockerd", "nginx"]
_SYSLOG = [
    "Accepted publickey for deploy",
    "Started Session",
    "pam_unix(cron:session): session opened",
    "connection closed by 10.0.3.7 port 51244",
    "Reloading configuration",
]
_LEVELS = ["INFO", "INFO", "WARN", "DEBUG"]
_STATUS = [200, 200, 200, 304, 404, 500]
_JAVA = ["OrderService", "ResultDispatcher", "HL7Listener", "PdfRenderer", "SessionManager", "MailNotifier"]


def _log_block(rng: random.Random, pats: list[c.Patient], n_lines: int) -> bytes:
    """Mixed syslog, access-log and application-log lines; 1 in ~2,000 leaks a patient identifier."""
    out: list[str] = []
    for i in range(n_lines):
        ts = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        r = rng.random()
        if r < 0.0005:
            p = rng.choice(pats)
            if rng.random() < 0.5:
                out.append(f"{ts}:07 DEBUG ResultDispatcher patient nir={p.nir} ipp={p.ipp} dispatched")
            else:
                out.append(f"{ts}:07 INFO MailNotifier sent result notification to {p.email}")
        elif r < 0.35:
            out.append(
                f"{ts}:{rng.randint(0, 59):02d} {rng.choice(_HOSTS)} "
                f"{rng.choice(_SERVICES)}[{rng.randint(100, 65000)}]: {rng.choice(_SYSLOG)}"
            )
        elif r < 0.7:
            out.append(
                f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} - - [{ts}:00 +0100] "
                f'"GET {rng.choice(_PATHS)}?page={rng.randint(1, 40)} HTTP/1.1" {rng.choice(_STATUS)} '
                f'{rng.randint(200, 90000)} "-" "{rng.choice(_UA)}"'
            )
        else:
            out.append(
                f"{ts}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d} {rng.choice(_LEVELS)} "
                f"[pool-{rng.randint(1, 8)}-thread-{rng.randint(1, 32)}] fr.hopital.his.{rng.choice(_JAVA)} - "
                f"request {rng.getrandbits(64):016x} handled in {rng.randint(1, 4000)} ms (queue={rng.randint(0, 50)})"
            )
        if i % 97 == 0 and rng.random() < 0.05:
            out.append("java.lang.IllegalStateException: connection pool exhausted")
            out.append("\tat fr.hopital.his.db.Pool.acquire(Pool.java:214)")
    return ("\n".join(out) + "\n").encode()


def _files(roots: list[str], pred: Callable[[str], bool], rng: random.Random) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for n in names:
                p = Path(dirpath, n)
                if pred(n) and p.is_file() and not p.is_symlink() and p.stat().st_size > 0:
                    found.append(p)
    found.sort()
    rng.shuffle(found)
    return found


def _cycle(paths: list[Path]) -> Iterator[tuple[int, Path]]:
    i = 0
    while paths:
        yield i // len(paths), paths[i % len(paths)]
        i += 1


def _is_elf_or_image(name: str) -> bool:
    return ".so" in name or name.endswith((".png", ".jpg", ".jpeg", ".gif")) or "." not in name


def _binary(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head.startswith((b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8"))


def generate_server(out: Path, size_bytes: int, *, seed: int = 0) -> dict[str, int]:
    """Write the mix above under ``out`` (about ``size_bytes``); returns the bytes written per category."""
    from ecluse.crypto.age import encrypt_to, generate_x25519, recipient_of

    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    pats = [c._patient(rng) for _ in range(2000)]
    target = {k: int(v * size_bytes) for k, v in SHARES.items()}
    written = dict.fromkeys(SHARES, 0)
    out.mkdir(parents=True, exist_ok=True)

    def put(cat: str, rel: str, data: bytes) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[cat] += len(data)

    # Distinct log blocks (about 1 MB each), assembled into files of 4-16 MB.
    blocks = [_log_block(rng, pats, 9000) for _ in range(12)]
    n = 0
    while written["logs"] < target["logs"]:
        k = min(rng.randint(4, 16), 1 + (target["logs"] - written["logs"]) // len(blocks[0]))
        put("logs", f"var/log/his/app-{n:03d}.log", b"".join(rng.choice(blocks) for _ in range(k)))
        n += 1
    n, ratio = 0, 4
    while written["logs_gz"] < target["logs_gz"]:
        k = min(rng.randint(8, 24), 1 + ratio * (target["logs_gz"] - written["logs_gz"]) // len(blocks[0]))
        raw = b"".join(rng.choice(blocks) for _ in range(k))
        put("logs_gz", f"var/log/his/app.log.{n}.gz", gzip.compress(raw, compresslevel=6, mtime=0))
        n += 1

    sources = _files(
        ["/usr/lib/python3.11", "/usr/lib/python3", "/etc"],
        lambda s: s.endswith((".py", ".conf", ".cfg", ".ini", ".json", ".xml", ".yaml", ".yml", ".txt", ".sh")),
        rng,
    )
    for rnd, p in _cycle(sources):
        if written["source"] >= target["source"]:
            break
        try:
            data = p.read_bytes()
        except OSError:
            continue
        put("source", f"opt/his/src{rnd}/{p.relative_to('/')}", data)

    bins = [
        p
        for p in _files(["/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/share/doc"], _is_elf_or_image, rng)
        if _binary(p)
    ]
    for rnd, p in _cycle(bins):
        if written["binaries"] >= target["binaries"]:
            break
        if p.stat().st_size > min(8 * 2**20, max(2**20, target["binaries"] // 8)):
            continue  # no single file larger than an eighth of the share
        put("binaries", f"opt/his/bin{rnd}/{p.relative_to('/')}", p.read_bytes())

    n = 0
    src_iter = _cycle(sources)
    while written["backups"] < target["backups"]:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tf:
            for j in range(rng.randint(2, 5)):
                data = rng.choice(blocks) * 2
                info = tarfile.TarInfo(f"his/logs/app-{j}.log")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            for _ in range(200):
                _, p = next(src_iter)
                try:
                    data = p.read_bytes()
                except OSError:
                    continue
                info = tarfile.TarInfo(f"his/src/{p.name}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        put("backups", f"backup/his-{n:03d}.tar.gz", buf.getvalue())
        n += 1

    recipient = recipient_of(generate_x25519()[0])
    export = c._csv_patients(rng, rng.sample(pats, 400)).text().encode()
    n = 0
    while written["age"] < target["age"]:
        buf = io.BytesIO()
        with encrypt_to(buf, [recipient]) as w:
            for _ in range(rng.randint(8, 40)):
                w.write(export)
        put("age", f"srv/ecluse/packages/pkg-{n:04d}.age", buf.getvalue())
        n += 1

    n = 0
    while written["sqlite"] < target["sqlite"]:
        path = out / f"var/lib/his/app-{n:02d}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE sessions (id TEXT, user_agent TEXT, ip TEXT, created TEXT, expires TEXT)")
        con.execute("CREATE TABLE jobs (id INTEGER, name TEXT, status TEXT, payload TEXT, duration_ms INTEGER)")
        con.execute("CREATE TABLE audit (ts TEXT, actor TEXT, action TEXT, object TEXT)")
        rows = max(2000, min(60000, (target["sqlite"] - written["sqlite"]) // 240))
        con.executemany(
            "INSERT INTO sessions VALUES (?,?,?,?,?)",
            (
                (
                    f"{rng.getrandbits(128):032x}",
                    rng.choice(_UA),
                    f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                    c._ts(rng),
                    c._ts(rng),
                )
                for _ in range(rows)
            ),
        )
        con.executemany(
            "INSERT INTO jobs VALUES (?,?,?,?,?)",
            (
                (
                    i,
                    rng.choice(["export_results", "purge_tmp", "sync_ldap", "render_pdf"]),
                    rng.choice(["done", "failed"]),
                    f'{{"batch": {rng.randint(1, 9999)}, "retries": {rng.randint(0, 3)}}}',
                    rng.randint(1, 90000),
                )
                for i in range(rows)
            ),
        )
        con.executemany(
            "INSERT INTO audit VALUES (?,?,?,?)",
            (
                (
                    c._ts(rng),
                    f"user{rng.randint(1, 300)}",
                    rng.choice(["login", "view", "export", "logout"]),
                    f"order/{rng.randint(10**5, 10**6)}",
                )
                for _ in range(rows)
            ),
        )
        con.commit()
        con.close()
        written["sqlite"] += path.stat().st_size
        n += 1

    makers: list[tuple[str, Callable[[], bytes]]] = [
        ("csv", lambda: c._csv_patients(rng, rng.sample(pats, 400)).text("\r\n").encode("cp1252")),
        ("tsv", lambda: c._tsv_export(rng, rng.sample(pats, 400)).text().encode()),
        ("ndjson", lambda: c._ndjson(rng, rng.sample(pats, 400)).text().encode()),
        ("sql", lambda: c._sql_dump(rng, rng.sample(pats, 400)).text().encode()),
        ("hl7", lambda: b"".join(c._hl7(rng, p).text("\r").encode() for p in rng.sample(pats, 400))),
        ("hpr", lambda: b"".join(c._hprim_sante(rng, p).text("\r\n").encode("cp1252") for p in rng.sample(pats, 200))),
    ]
    n = 0
    while written["patient_exports"] < target["patient_exports"]:
        ext, make = makers[n % len(makers)]
        unit = make()
        reps = max(1, min(16, (target["patient_exports"] - written["patient_exports"]) // len(unit)))
        put("patient_exports", f"srv/exports/export-{n:03d}.{ext}", unit * reps)
        n += 1
    return written
