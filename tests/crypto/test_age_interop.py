"""Interoperability with the reference ``age`` command-line tool (Debian's age package)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ecluse.crypto import age

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        AGE is None or AGE_KEYGEN is None,
        reason="the age CLI is not installed (apt-get install age); CI installs it",
    ),
]

SIZES = [0, 1, age.CHUNK_SIZE, age.CHUNK_SIZE + 1, 3 * age.CHUNK_SIZE + 1234]


def run(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("size", SIZES)
def test_age_cli_decrypts_ours(tmp_path: Path, size: int) -> None:
    identity, recipient = age.generate_x25519()
    key = tmp_path / "key.txt"
    key.write_text(f"# ours\n{identity}\n")
    data = os.urandom(size)
    assert run("age", "-d", "-i", str(key), data=age.encrypt_bytes(data, [recipient])) == data


@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_age_cli_output(size: int) -> None:
    identity, recipient = age.generate_x25519()
    data = os.urandom(size)
    assert age.decrypt_bytes(run("age", "-r", recipient, data=data), [identity]) == data


def test_age_keygen_identity_is_usable_by_us(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    run("age-keygen", "-o", str(key))
    identities = age.read_identity_file(key)
    recipient = run("age-keygen", "-y", str(key)).decode().strip()
    assert age.recipient_of(identities[0]) == recipient
    blob = age.encrypt_bytes(b"from us", [recipient])
    assert run("age", "-d", "-i", str(key), data=blob) == b"from us"
    assert age.decrypt_bytes(run("age", "-r", recipient, data=b"from age"), identities) == b"from age"


def test_our_identity_is_usable_by_age(tmp_path: Path) -> None:
    identity, recipient = age.generate_x25519()
    key = tmp_path / "key.txt"
    key.write_text(identity + "\n")
    assert run("age-keygen", "-y", str(key)).decode().strip() == recipient
    blob = run("age", "-e", "-i", str(key), data=b"to ourselves")
    assert age.decrypt_bytes(blob, [identity]) == b"to ourselves"


def test_multiple_recipients_both_ways(tmp_path: Path) -> None:
    pairs = [age.generate_x25519() for _ in range(3)]
    blob = run("age", *(a for _, r in pairs for a in ("-r", r)), data=b"shared")
    for identity, _ in pairs:
        assert age.decrypt_bytes(blob, [identity]) == b"shared"
    ours = age.encrypt_bytes(b"shared", [r for _, r in pairs])
    for i, (identity, _) in enumerate(pairs):
        key = tmp_path / f"k{i}"
        key.write_text(identity)
        assert run("age", "-d", "-i", str(key), data=ours) == b"shared"


def test_age_cli_rejects_our_truncated_file(tmp_path: Path) -> None:
    identity, recipient = age.generate_x25519()
    key = tmp_path / "key.txt"
    key.write_text(identity)
    blob = age.encrypt_bytes(os.urandom(2 * age.CHUNK_SIZE), [recipient])
    result = subprocess.run(["age", "-d", "-i", str(key)], input=blob[:-20], capture_output=True)
    assert result.returncode != 0
