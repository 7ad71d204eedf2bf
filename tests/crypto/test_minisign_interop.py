"""Interoperability with the reference ``minisign`` command-line tool (Debian's minisign package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ecluse.crypto import minisign

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("minisign") is None,
        reason="the minisign CLI is not installed (apt-get install minisign); CI installs it",
    ),
]

COMMENT = "package:PKG-0001\tscope:sha256:ab12\ttimestamp:1767225600"


def run(*args: str, stdin: str = "") -> str:
    result = subprocess.run(args, input=stdin.encode(), capture_output=True)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "package.age"
    path.write_bytes(bytes(range(256)) * 5000)
    return path


@pytest.mark.parametrize("passphrase", [None, "s3cret pass"])
def test_minisign_signs_with_our_secret_key(tmp_path: Path, message: Path, passphrase: str | None) -> None:
    sk = minisign.generate()
    key = tmp_path / "ours.key"
    sk.to_file(key, passphrase, kdf=minisign.INTERACTIVE_KDF)
    sig = tmp_path / "cli.minisig"
    flags = ["-W"] if passphrase is None else []
    run(
        "minisign",
        "-S",
        *flags,
        "-s",
        str(key),
        "-m",
        str(message),
        "-x",
        str(sig),
        "-t",
        COMMENT,
        stdin=f"{passphrase}\n" if passphrase else "",
    )
    assert minisign.verify_file(sk.public_key(), message, sig.read_text()) == COMMENT


def test_minisign_verifies_our_signature(tmp_path: Path, message: Path) -> None:
    sk = minisign.generate()
    pub = tmp_path / "ours.pub"
    sk.public_key().to_file(pub)
    sig = tmp_path / "ours.minisig"
    sig.write_text(minisign.sign_file(sk, message, trusted_comment=COMMENT))
    out = run("minisign", "-V", "-p", str(pub), "-m", str(message), "-x", str(sig))
    assert f"Trusted comment: {COMMENT}" in out
    out = run("minisign", "-V", "-P", sk.public_key().to_base64(), "-m", str(message), "-x", str(sig), "-Q")
    assert out == COMMENT + "\n"


def test_minisign_rejects_our_signature_on_altered_data(tmp_path: Path, message: Path) -> None:
    sk = minisign.generate()
    sig = tmp_path / "ours.minisig"
    sig.write_text(minisign.sign_file(sk, message, trusted_comment=COMMENT))
    message.write_bytes(message.read_bytes() + b"!")
    result = subprocess.run(
        ["minisign", "-V", "-P", sk.public_key().to_base64(), "-m", str(message), "-x", str(sig)],
        capture_output=True,
    )
    assert result.returncode != 0


def test_unencrypted_cli_key_loads_and_signs(tmp_path: Path, message: Path) -> None:
    pub, key = tmp_path / "cli.pub", tmp_path / "cli.key"
    run("minisign", "-G", "-W", "-p", str(pub), "-s", str(key))
    sk = minisign.SecretKey.from_file(key, None)
    pk = minisign.PublicKey.from_file(pub)
    assert sk.public_key() == pk
    # the CLI's signature verifies with ours, trusted comment identical
    run("minisign", "-S", "-W", "-s", str(key), "-m", str(message), "-t", COMMENT)
    assert minisign.verify_file(pk, message, Path(f"{message}.minisig").read_text()) == COMMENT
    # our signature with the CLI's key verifies with the CLI
    sig = tmp_path / "ours.minisig"
    sig.write_text(minisign.sign_file(sk, message, trusted_comment=COMMENT))
    assert COMMENT in run("minisign", "-V", "-p", str(pub), "-m", str(message), "-x", str(sig))


def test_password_protected_cli_key_loads(tmp_path: Path, message: Path) -> None:
    """minisign always uses its 'sensitive' scrypt limits (1 GiB, a few seconds)."""
    pub, key = tmp_path / "cli.pub", tmp_path / "cli.key"
    run("minisign", "-G", "-p", str(pub), "-s", str(key), stdin="hunter2\nhunter2\n")
    sk = minisign.SecretKey.from_file(key, "hunter2")
    assert sk.public_key() == minisign.PublicKey.from_file(pub)
    with pytest.raises(Exception, match="wrong passphrase"):
        minisign.SecretKey.from_file(key, "hunter3")
    run("minisign", "-S", "-s", str(key), "-m", str(message), "-t", COMMENT, stdin="hunter2\n")
    assert minisign.verify_file(sk.public_key(), message, Path(f"{message}.minisig").read_text()) == COMMENT


def test_our_default_kdf_key_is_read_by_minisign(tmp_path: Path, message: Path) -> None:
    sk = minisign.generate()
    key = tmp_path / "ours.key"
    sk.to_file(key, "pw", kdf=minisign.DEFAULT_KDF)
    sig = tmp_path / "cli.minisig"
    run("minisign", "-S", "-s", str(key), "-m", str(message), "-x", str(sig), "-t", COMMENT, stdin="pw\n")
    assert minisign.verify_file(sk.public_key(), message, sig.read_text()) == COMMENT


def test_cli_legacy_signature_verifies(tmp_path: Path, message: Path) -> None:
    pub, key = tmp_path / "cli.pub", tmp_path / "cli.key"
    run("minisign", "-G", "-W", "-p", str(pub), "-s", str(key))
    sig = tmp_path / "legacy.minisig"
    run("minisign", "-S", "-l", "-W", "-s", str(key), "-m", str(message), "-x", str(sig), "-t", COMMENT)
    assert sig.read_text().split("\n")[1].startswith("RW")  # "Ed"
    assert minisign.verify_file(minisign.PublicKey.from_file(pub), message, sig.read_text()) == COMMENT
