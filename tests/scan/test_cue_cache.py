"""The compiled cue databases kept between runs (``_prefilter._compile``): loaded when safe,
compiled again when not, never written when they hold listed terms (patients' names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecluse.scan import _prefilter as pf

pytestmark = pytest.mark.skipif(not pf.available(), reason="hyperscan wheel not installed")

_TEXT = b"log line\nnir=1 54 05 69 679 999 51 contact jean.dupont@sante.fr\n" + b"x" * 5000 + b"\nVIH positif\n"


def _cues(p: pf.Prefilter) -> list[tuple[int, int]] | None:
    found = p.cue_ends(_TEXT, 10**6)
    return sorted(found) if found is not None else None


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _count_compilations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, a 1 in the returned list for each database compiled (not loaded)."""
    compiled: list[int] = []
    real = pf._hs.Database

    def counting(*args: object, **kw: object) -> object:
        compiled.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(pf._hs, "Database", counting)
    return compiled


def test_second_prefilter_loads_the_cached_databases(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = pf.Prefilter(cache_dir=cache)
    files = sorted(cache.glob("cues-*.hsdb"))
    assert len(files) == 5  # digit shapes, other cues, the two once, lexicon words
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert cache.stat().st_mode & 0o777 == 0o700

    compiled = _count_compilations(monkeypatch)
    second = pf.Prefilter(cache_dir=cache)
    assert compiled == []  # nothing compiled: all five loaded
    assert _cues(second) == _cues(first)
    assert _cues(second)  # the text has cues: the comparison is not between two empty lists
    assert second.groups(_TEXT) == first.groups(_TEXT)
    assert second.word_starts(_TEXT) == first.word_starts(_TEXT)


def test_corrupt_or_foreign_cache_files_are_compiled_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _cues(pf.Prefilter(cache_dir=cache))
    files = sorted(cache.glob("cues-*.hsdb"))
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated
    files[1].write_bytes(b"\x00" * 4096)  # garbage
    files[2].chmod(0o622)  # others could have written it: not trusted
    compiled = _count_compilations(monkeypatch)
    again = pf.Prefilter(cache_dir=cache)
    assert len(compiled) == 3  # the three spoilt files
    assert _cues(again) == reference
    # rewritten whole, private again
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in cache.glob("cues-*.hsdb"))
    assert not list(cache.glob(".cues-*"))  # no temporary file left


def test_listed_terms_never_reach_the_disk(cache: Path) -> None:
    pf.Prefilter(cache_dir=cache)
    plain = {f.name for f in cache.glob("cues-*.hsdb")}
    name = "Wojciechowska"
    p = pf.Prefilter([name], cache_dir=cache)
    assert {f.name for f in cache.glob("cues-*.hsdb")} == plain  # the databases with the term: not written
    for f in cache.iterdir():
        assert name.lower().encode() not in f.read_bytes().lower()
    assert p.cue_ends(b"patient WOJCIECHOWSKA seen\n", 100)  # and the term is searched


def test_default_cache_dir_from_the_environment(tmp_path: Path) -> None:
    assert pf.default_cache_dir({pf.CACHE_ENV: ""}) is None
    assert pf.default_cache_dir({pf.CACHE_ENV: str(tmp_path)}) == tmp_path
    assert pf.default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/ecluse")
    assert pf.default_cache_dir({}) == Path.home() / ".cache" / "ecluse"


def test_no_cache_given_or_unwritable(tmp_path: Path) -> None:
    assert pf.Prefilter().cue_ends(_TEXT, 10**6)  # no cache_dir: compiled in memory only
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # a cache directory that cannot be made, even by root: compiled in memory, no error
    assert pf.Prefilter(cache_dir=blocker / "cache").cue_ends(_TEXT, 10**6)
    assert blocker.read_text() == ""


def test_scan_paths_keeps_its_databases_where_told(tmp_path: Path) -> None:
    from ecluse.scan import scan_paths
    from ecluse.scan._engine import _prefilter_for

    (tmp_path / "f.txt").write_text("nir=1 54 05 69 679 999 51\n")
    cache = tmp_path / "cache"
    _prefilter_for.cache_clear()  # this process may have compiled them already, without the cache
    report = scan_paths([tmp_path / "f.txt"], cache_dir=cache)
    assert report.count() == 1
    assert len(list(cache.glob("cues-*.hsdb"))) == 5
