"""The Cython-compiled modules (ecluse._compiled): built where a compiler is, switched off by
ECLUSE_PURE_PYTHON, and giving the same results as their Python source."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecluse import _compiled

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"

# Reads every sample that a codec sniffs, writes a synthetic lab in every format and reads it back,
# and prints a digest of everything (records, bytes written, error messages): run once compiled, once
# from the Python source.
_PROGRAM = r"""
import hashlib, json, sys
from datetime import datetime
from pathlib import Path
from ecluse import _compiled
from ecluse.errors import FormatError
from ecluse.formats.codec import CODECS, get_codec
from ecluse.formats._common import flatten
from ecluse.formats.hprim_net import HprimNetCodec
from ecluse.legacy.sqlmap import load_mapping, read_database

h = hashlib.sha256()
def feed(*parts):
    h.update(repr(parts).encode())
for path in sorted(Path(sys.argv[1]).rglob("*")):
    if not path.is_file():
        continue
    data = path.read_bytes()
    for name in sorted(CODECS):
        codec = get_codec(name)
        try:
            feed(path.name, name, [repr(r) for r in codec.read(data, filename=path.name)])
        except FormatError as exc:
            feed(path.name, name, str(exc))
records = list(read_database(f"sqlite:///{sys.argv[2]}", load_mapping("synth-lis")))
for name in sorted(CODECS):
    codec = HprimNetCodec(encoding="utf-8") if name == "hprim-net" else get_codec(name)
    if hasattr(codec, "now"):  # the header's time stamp
        codec.now = lambda: datetime(2026, 1, 1)
    data = b"".join(codec.write_chunks(records)) if name != "hprim-net" else codec.write(records)
    feed(name, hashlib.sha256(data).hexdigest(), [repr(r) for r in codec.read(data, filename="x")])
    # damaged copies: every error message must be the same
    for cut in range(7, len(data), max(1, len(data) // 40)):
        broken = data[:cut] + b"|\x00\\X4\\" + data[cut:cut + 50]
        try:
            feed(name, cut, [repr(r) for r in codec.read(broken, filename="x")])
        except FormatError as exc:
            feed(name, cut, str(exc))
print(json.dumps({"compiled": _compiled.compiled(), "digest": h.hexdigest()}))
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ecluse.legacy.synth import generate

    path = tmp_path_factory.mktemp("compiled") / "lis.db"
    generate(path, patients=300, seed=11)
    return path


def _run(pure: bool, lab: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != _compiled.PURE_ENV}
    if pure:
        env[_compiled.PURE_ENV] = "1"
    out = subprocess.run([sys.executable, "-c", _PROGRAM, str(SAMPLES), str(lab)], env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_pure_python_switch_loads_the_sources(lab: Path) -> None:
    pure = _run(pure=True, lab=lab)
    assert pure["compiled"] == {name: False for name in _compiled.MODULES}


@pytest.mark.skipif(_compiled.pure_python(), reason="ECLUSE_PURE_PYTHON is set: nothing compiled to compare")
def test_compiled_modules_are_built_where_a_compiler_is() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: the package runs interpreted")
    state = _compiled.compiled()
    assert all(state.values()), f"not compiled (run `make build`): {[n for n, c in state.items() if not c]}"


@pytest.mark.skipif(_compiled.pure_python(), reason="ECLUSE_PURE_PYTHON is set: nothing compiled to compare")
def test_compiled_and_interpreted_give_the_same_results(lab: Path) -> None:
    compiled, pure = _run(pure=False, lab=lab), _run(pure=True, lab=lab)
    if not any(compiled["compiled"].values()):  # type: ignore[union-attr]
        pytest.skip("nothing compiled on this machine")
    assert compiled["digest"] == pure["digest"]


def test_version_says_whether_the_hot_modules_are_compiled(tmp_path: Path) -> None:
    def version(pure: bool) -> str:
        env = {k: v for k, v in os.environ.items() if k != _compiled.PURE_ENV}
        if pure:
            env[_compiled.PURE_ENV] = "1"
        res = subprocess.run([sys.executable, "-m", "ecluse.cli", "--version"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=True)
        return res.stdout

    assert "interpreted: ECLUSE_PURE_PYTHON is set" in version(pure=True)
    out = version(pure=False)
    assert out.startswith("ecluse 0.1.0")
    n = len(_compiled.MODULES)
    assert f"compiled: all {n} hot modules" in out or re.search(rf"compiled: \d+ of {n} .*run `make build`", out)
