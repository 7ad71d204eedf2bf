"""One compiled multi-pattern pass over a text that finds where a detector *may* fire.

Every detector of :mod:`ecluse.scan._detect` produces a hit only next to a *cue*: a NIR, phone
or e-mail shape, an INS OID, a LOINC code, a keyword of the lexicons, ``PID|``, ``INSERT INTO``...
The cues are compiled once into a Hyperscan database (Intel's multi-pattern engine, in C) and
searched in one pass over the Latin-1 bytes of a text. The detectors then run only on an
*excerpt*: the whole lines around each cue, with a margin wider than any context window the
detectors read (200 characters), joined in order. A text without a cue is not looked at again.

Each cue pattern is a superset of what the detector matches there (lookbehinds as classes of
ASCII bytes, lookaheads dropped, Unicode ``(?<![\\w-])`` as ASCII ``\\b``, each accented letter as
any byte >= 0x80, ASCII case ignored), so the excerpt holds every hit of the whole text, with the
same context; only the detectors whose cues fired run on it. ``tests/scan/test_prefilter.py``
checks that the findings are the same with and without the prefilter. Texts holding a character
that could escape the cues (see :func:`latin1_view`), tables with a birth-date, blood-group or
password column, and texts where cues are dense are scanned whole, as before.

If the ``hyperscan`` wheel is missing (a platform without one), :func:`available` is false and
every text is scanned whole: slower, same findings (docs/decisions/0004-scanner-engine.md).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import logging
import os
import platform
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecluse.scan._lexicon import CLINICAL_TERMS, SENSITIVE_LOINC

_hs: Any
try:
    import hyperscan as _hs
except ImportError:  # pragma: no cover - the fallback is tested by setting _hs to None
    _hs = None

__all__ = ["CACHE_ENV", "Excerpt", "Prefilter", "available", "default_cache_dir", "latin1_view"]

log = logging.getLogger("ecluse.scan")

#: Characters kept before and after each cue (then widened to whole lines). The detectors read at
#: most 200 characters before a value (NIR keywords, portal words), 200 after a NIR (an INS OID)
#: and find values at most about 130 characters from their cue (an e-mail's local part and
#: first label): 400 covers both with room.
MARGIN = 400
#: ``INSERT INTO t (columns...) VALUES``: the columns may run over a few lines.
_INSERT_AFTER = 8192
#: The HPRIM Net header (12 lines) is read in the first 2,000 characters of a text.
_HEAD = 2400
#: Past one cue per this many bytes the text is dense (a patient export): the search stops and
#: the text is scanned whole, its excerpt would be nearly all of it.
_BYTES_PER_CUE = 1024


def available() -> bool:
    return _hs is not None


_CASELESS = 1  # HS_FLAG_CASELESS
_MULTILINE = 4  # HS_FLAG_MULTILINE
_SINGLEMATCH = 8  # HS_FLAG_SINGLEMATCH: a cue reported once, at its first match
_SOM_LEFTMOST = 256  # HS_FLAG_SOM_LEFTMOST: where each match starts
# The cues run over the Latin-1 bytes of a text: one byte per character, ASCII as itself, every
# other character (accented letters included, in any case) one byte in 0x80-0xff.
_NON_ASCII = rb"[\x80-\xff]"
# Python's \s on Latin-1 text; "?" stands for any character beyond Latin-1 (see ``latin1_view``).
_WS = rb"[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0?]"
_D = rb"[0-9]"
_SEP = rb"[ .\-]?"


def _char(ch: str) -> bytes:
    if ch.isascii():
        # letters and digits as they are, anything else as \xHH (a NUL would end the C string)
        return ch.encode("ascii") if ch.isalnum() else b"\\x%02x" % ord(ch)
    return _NON_ASCII if ord(ch) <= 0xFF else rb"[\x80-\xff?]"


_SAFE: dict[str, bool] = {}


def _safe_beyond_latin1(ch: str) -> bool:
    r"""Whether ``ch`` (beyond Latin-1) may stand as "?" for the cues: it is no digit for ``\d``
    and no case mapping (lower, upper, casefold: what ``str.lower`` and ``re.IGNORECASE`` use)
    takes it into Latin-1, where the cues' words and letters are."""
    ok = _SAFE.get(ch)
    if ok is None:
        ok = (
            not ch.isdecimal()
            and not ch.isdigit()
            and all(ord(c) > 0xFF for form in (ch.lower(), ch.upper(), ch.casefold()) for c in form)
        )
        _SAFE[ch] = ok
    return ok


_BEYOND = re.compile("[^\x00-\xff]")


def latin1_view(text: str) -> bytes | None:
    """``text`` as one byte per character for the cues: Latin-1, each character beyond it as "?".

    ``None`` if such a character could make a detector fire where the cues do not look (a digit
    of another script, a letter whose case maps into Latin-1, such as the Kelvin sign): the text
    is then scanned whole.
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    if not all(_safe_beyond_latin1(c) for c in set(_BEYOND.findall(text))):
        return None
    return text.encode("latin-1", "replace")


def _word_cue(word: str, *, whole: bool) -> bytes:
    r"""A byte pattern found wherever ``_words_regex([word], whole=whole)`` matches the lowered text.

    Lower case maps ASCII letters to ASCII letters and any other character to a non-ASCII one, so
    the cue is the word with each non-ASCII character as any non-ASCII byte, matched ignoring
    ASCII case; the lookarounds ``(?<![\w-])``/``(?![\w-])`` become ``\b`` (ASCII), which lets
    through more, never less.
    """
    pat = b"".join(_char(c) for c in word)
    if word[0].isascii() and word[0].isalnum():
        pat = rb"\b" + pat
    if whole and word[-1].isascii() and word[-1].isalnum():
        pat += rb"\b"
    return pat


def _listed_cue(term: str) -> bytes | None:
    """A byte pattern over-approximating ``_listed_regex`` for one term (accent classes, separators)."""
    from ecluse.scan._detect import _ACCENTS, strip_accents  # the term is normalised as there

    t = strip_accents(term).casefold().strip()
    if not t:
        return None
    sep = rb"[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0?'\-]+"
    out: list[bytes] = []
    for ch in t:
        if ch.isspace() or ch in "-'":
            if not out or out[-1] != sep:
                out.append(sep)
        elif ch in _ACCENTS:
            out.append(b"(?:" + _char(ch) + b"|" + _NON_ASCII + b")")
        else:
            out.append(_char(ch))
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class _Cue:
    pattern: bytes
    groups: frozenset[str]
    """The detectors (``Detector.scan(only=...)``) that may fire near this cue."""
    flags: int = 0
    after: int = 0
    """Characters kept after the cue beyond ``MARGIN``."""
    head: bool = False
    """Keep the head of the text too."""
    tag: str = ""
    """A name for this cue in ``Excerpt.tags``: its absence spares a detector a search (see
    ``Detector.scan(tags=...)``)."""
    shape: bool = False
    """A digit shape (NIR, phone): searched in a database of its own (see :class:`Prefilter`)."""


def _g(*names: str) -> frozenset[str]:
    return frozenset(names)


def _cues(extra_terms: Sequence[str]) -> list[_Cue]:
    from ecluse.scan._detect import _PW_WORDS

    nir = (
        rb"(?:^|[^0-9A-Za-z_+/:])[1-478]"
        + _SEP
        + _D * 2
        + _SEP
        + _D * 2
        + _SEP
        + b"(?:"
        + _D * 2
        + b"|2[ABab])"
        + _SEP
        + _D * 3
        + _SEP
        + _D * 3
        + _SEP
        + _D * 2
    )
    phone = (
        rb"(?:^|[^0-9A-Za-z_+/:.,\-])(?:0|\+(?:33|590|594|596|262|269)[ .\-]?(?:\(0\)[ .\-]?)?"
        rb"|00(?:33|590|594|596|262|269)[ .\-]?)[1-9](?:[ .\-]?[0-9][0-9]){4}"
    )
    password = (
        rb"\b(?:" + b"|".join(re.escape(w).encode() for w in _PW_WORDS) + rb")[\w\-\x80-\xff?]*"
        rb"(?:\"" + _WS + rb"*:|>|" + _WS + rb"*[:=])"
    )
    cues = [
        # NIR_RE and PHONE_RE, their lookbehinds as a class of ASCII bytes (a superset: any
        # non-ASCII byte may precede), their lookaheads dropped. Not starting inside a run of
        # digits keeps the automaton's active states few on digit-heavy logs (2.5 times faster).
        _Cue(nir, _g("nir"), shape=True),
        _Cue(phone, _g("phone"), shape=True),
        # e-mail: a local-part character, "@", a first label and its dot
        _Cue(rb"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]+\.", _g("email")),
        _Cue(rb"1\.2\.250\.1\.213\.1\.4\.", _g("nir"), tag="oid"),
        _Cue(rb"vitale", _g("vitale"), _CASELESS),
        _Cue(rb"PID\|", _g("birth"), tag="pid"),
        _Cue(rb"^P\|", _g("birth"), _MULTILINE, tag="hprim_p"),
        _Cue(rb"^INSERT INTO", _g("birth", "password"), _CASELESS | _MULTILINE, _INSERT_AFTER, tag="insert"),
        _Cue(rb"\*\*\*\*(?:LAB|FIN)\*\*\*\*", _g("birth"), head=True, tag="hprim_net"),
        # a password word followed by the start of _PW_TAIL
        _Cue(password, _g("password"), _CASELESS, tag="password_word"),
    ]
    cues += [_Cue(rb"\b" + re.escape(c).encode() + rb"\b", _g("loinc")) for c in SENSITIVE_LOINC]
    cues += _word_cues()
    for term in extra_terms:
        pat = _listed_cue(term)
        if pat is not None:
            cues.append(_Cue(pat, _g("listed"), _CASELESS))
    return cues


def _word_cues() -> list[_Cue]:
    """The cues of the lexicon searches (``_CLIN_WORDS``, ``_BIRTH_WORDS``, ``_BLOOD_WORDS``): each
    word where that search may match it, starting where the search's match would start."""
    from ecluse.scan._detect import _BIRTH_LIST, _BLOOD_LIST

    cues: list[_Cue] = []
    for words, whole, group in (
        ([t.lower() for t in CLINICAL_TERMS], True, "clinical"),
        (_BIRTH_LIST, False, "birth"),
        (_BLOOD_LIST, True, "blood"),
    ):
        cues += [_Cue(_word_cue(w, whole=whole), _g(group), _CASELESS) for w in sorted(set(words))]
    return cues


@dataclass(slots=True)
class Excerpt:
    """The lines of a text around its cues, joined; ``starts``/``origins`` map back to the text."""

    text: str
    groups: frozenset[str]
    """The detectors that may fire in it."""
    tags: frozenset[str]
    """The tags of the cues found in the text (``_Cue.tag``)."""
    starts: list[int]
    """Offset in ``text`` of each region."""
    origins: list[int]
    """Offset in the original text of each region (regions start at a line start)."""

    def original(self, pos: int) -> int:
        i = bisect.bisect_right(self.starts, pos) - 1
        return self.origins[i] + pos - self.starts[i]


#: The environment variable that names the directory of the cached cue databases (see
#: :func:`default_cache_dir`); set empty, no cache.
CACHE_ENV = "ECLUSE_CACHE_DIR"


def default_cache_dir(environ: Mapping[str, str]) -> Path | None:
    """Where the command line keeps the compiled cue databases, from ``environ``:
    ``$ECLUSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/ecluse``, else ``~/.cache/ecluse``; ``None`` if
    ``ECLUSE_CACHE_DIR`` is set empty. The library caches only where it is told to
    (``scan_paths(cache_dir=...)``)."""
    env = environ.get(CACHE_ENV)
    if env is not None:
        return Path(env) if env else None
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "ecluse")


@functools.cache
def _cpu_features() -> str:
    """The CPU features a Hyperscan database may be built for (it targets the host it is compiled
    on): part of the cache key, so that a cache shared between machines is not read on the wrong one."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return ",".join(sorted(have & {"sse4_2", "popcnt", "avx2", "bmi2", "avx512bw", "avx512vbmi"}))
    except OSError:
        pass
    return platform.processor()


def _private_file(path: Path) -> bool:
    """Whether ``path`` is a regular file of this user that no one else may write, in a directory
    that no one else may write (as ``ssh`` asks of its keys): a database that someone else could
    have replaced could hide cues, and is compiled again instead."""
    try:
        for p, want_dir in ((path.parent, True), (path, False)):
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode) != want_dir or (not want_dir and not stat.S_ISREG(st.st_mode)):
                return False
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return False
    except (OSError, AttributeError):  # AttributeError: no getuid (Windows): no cache
        return False
    return True


def _compile(
    cues: list[_Cue], extra_flags: int, ids: list[int] | None = None, *, cache_dir: Path | None = None
) -> tuple[Any, Any]:
    """A Hyperscan block-mode database of ``cues`` (ids: ``ids``, by default their indices), each
    with ``extra_flags`` added to its own, and a scratch space for it.

    Compiling the databases of :class:`Prefilter` takes about 0.7 s of CPU, at the start of every
    scan; loading a serialised one takes 0.1 ms. So, given a ``cache_dir``, each is kept there,
    under a name that is the SHA-256 of what determines it (the Hyperscan version, the expressions, flags
    and ids, the host's CPU features). A file that does not load, or that someone other than the
    user could have written, is ignored and the database compiled again; failing to write the
    cache (a read-only home) is not an error. A database that holds listed terms (patients'
    names) is never cached: those never go to disk."""
    expressions = [c.pattern for c in cues]
    ids = ids if ids is not None else list(range(len(cues)))
    flags = [c.flags | extra_flags for c in cues]
    folder = None if any("listed" in c.groups for c in cues) else cache_dir
    path: Path | None = None
    if folder is not None:
        key = hashlib.sha256(
            repr((getattr(_hs, "__version__", ""), expressions, ids, flags, _cpu_features())).encode()
        ).hexdigest()
        path = folder / f"cues-{key[:40]}.hsdb"
        if _private_file(path):
            try:
                db = _hs.loadb(path.read_bytes(), _hs.HS_MODE_BLOCK)
                return db, _hs.Scratch(db)
            except Exception as exc:  # corrupt, truncated, another platform: compiled again below
                log.info("cached cue database not usable (%s): compiling it", type(exc).__name__)
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=ids, elements=len(cues), flags=flags)
    if path is not None:
        _save(path, _hs.dumpb(db))
    return db, _hs.Scratch(db)


def _save(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file renamed), readable by the
    user only, in a directory only the user may write; errors are logged, not raised."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cues-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.info("cue database not cached (%s): the next scan compiles it again", type(exc).__name__)


class Prefilter:
    """The cue database for one set of listed terms. Not shared between processes."""

    def __init__(self, extra_terms: Sequence[str] = (), *, cache_dir: Path | None = None) -> None:
        """``cache_dir``: where compiled databases are kept between runs (see :func:`_compile`);
        ``None``: compiled here, not kept."""
        if _hs is None:
            raise RuntimeError("hyperscan is not installed")
        cues = _cues(extra_terms)
        self._after = [c.after for c in cues]
        self._head = [c.head for c in cues]
        self._groups = [c.groups for c in cues]
        self._tags = [c.tag for c in cues]
        # Two databases searched one after the other, ids the indices in ``cues``: the digit shapes
        # (NIR, phone), whose automaton is busy on every digit, and the other cues, mostly words
        # and literals. One database of all of them ran at 290 MB/s on logs and 450 on source code;
        # the two at 430 and 990 (Hyperscan finds fewer literal factors to skip ahead with in the
        # combined one). Same matches.
        split = ([i for i, c in enumerate(cues) if c.shape], [i for i, c in enumerate(cues) if not c.shape])
        self._dbs = [_compile([cues[i] for i in ids], 0, ids, cache_dir=cache_dir) for ids in split]
        # The same cues, each reported once: which detectors may fire anywhere in a dense text.
        # Split the same way: 3.3 ms instead of 13.8 on a 3.3 MB HL7 export.
        self._once = [_compile([cues[i] for i in ids], _SINGLEMATCH, ids, cache_dir=cache_dir) for ids in split]
        # The lexicon words, with where each match starts: the detectors try their search there
        # only, instead of at every letter of a text (``Detector.scan(word_starts=...)``).
        words = _word_cues()
        self._word_groups = [next(iter(c.groups)) for c in words]
        self._words_db, self._words_scratch = _compile(words, _SOM_LEFTMOST, cache_dir=cache_dir)

    def word_starts(self, raw: bytes) -> dict[str, list[int]]:
        """Per lexicon (``"clinical"``, ``"birth"``, ``"blood"``), the sorted offsets in ``raw`` (a
        Latin-1 view, lowered or not) where a word of it may start: every start of a match of the
        detector's search is one of them (the cues are supersets, and start where the word does)."""
        found: dict[str, set[int]] = {g: set() for g in ("clinical", "birth", "blood")}
        groups = self._word_groups

        def on_match(cue: int, start: int, _end: int, _flags: int, _ctx: object) -> None:
            found[groups[cue]].add(start)

        self._words_db.scan(raw, match_event_handler=on_match, scratch=self._words_scratch)
        return {g: sorted(v) for g, v in found.items()}

    def groups(self, raw: bytes) -> tuple[frozenset[str], frozenset[str]]:
        """The detectors whose cues occur somewhere in ``raw`` (a Latin-1 view, as for
        :meth:`excerpt`): the only ones that can fire on the whole text; and the tags of those
        cues (``Excerpt.tags``). A pass in which each cue stops being searched at its first match:
        on a patient export, about 1-3 ms per MB."""
        seen: set[int] = set()
        add = seen.add

        def on_match(cue: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            add(cue)

        for db, scratch in self._once:
            db.scan(raw, match_event_handler=on_match, scratch=scratch)
        out: set[str] = set()
        for cue in seen:
            out |= self._groups[cue]
        return frozenset(out), frozenset(self._tags[cue] for cue in seen if self._tags[cue])

    def cue_ends(self, raw: bytes, limit: int) -> list[tuple[int, int]] | None:
        """``(end offset, cue id)`` of each cue in ``raw`` (in no particular order); ``None`` past
        ``limit`` cues (dense text)."""
        found: list[tuple[int, int]] = []
        add = found.append

        def on_match(cue: int, _start: int, end: int, _flags: int, _ctx: object) -> bool:
            add((end, cue))
            return len(found) > limit

        try:
            for db, scratch in self._dbs:
                db.scan(raw, match_event_handler=on_match, scratch=scratch)
        except _hs.ScanTerminated:
            return None
        return found

    def excerpt(self, text: str | None, raw: bytes, *, max_share: float = 0.9) -> Excerpt | None:
        """The excerpt of ``text``; ``raw`` is its Latin-1 encoding (one byte per character), and
        the text itself, if ``None``, is decoded from it where needed.

        ``None`` when the excerpt would not be much smaller than the text: scan it whole.
        An excerpt with an empty ``text`` means that no detector can fire.
        """
        n = len(raw)
        cues = self.cue_ends(raw, limit=max(16, n // _BYTES_PER_CUE))
        if cues is None:
            return None
        if not cues:
            return Excerpt("", frozenset(), frozenset(), [], [])
        spans: list[tuple[int, int]] = []
        groups: set[str] = set()
        tags: set[str] = set()
        for end, cue in cues:
            groups |= self._groups[cue]
            if self._tags[cue]:
                tags.add(self._tags[cue])
            if self._head[cue]:
                spans.append((0, _HEAD + MARGIN))
            spans.append((end - MARGIN, end + MARGIN + self._after[cue]))
        spans.sort()
        merged: list[list[int]] = []
        for a, b in spans:
            a = raw.rfind(b"\n", 0, max(0, a)) + 1
            if b >= n:
                b = n
            else:
                nl = raw.find(b"\n", b)
                b = n if nl < 0 else nl + 1
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        if sum(b - a for a, b in merged) > max_share * n:
            return None
        parts: list[str] = []
        starts: list[int] = []
        origins: list[int] = []
        pos = 0
        for a, b in merged:
            piece = text[a:b] if text is not None else raw[a:b].decode("latin-1")
            if not piece.endswith("\n"):
                piece += "\n"
            starts.append(pos)
            origins.append(a)
            parts.append(piece)
            pos += len(piece)
            # A line that matches nothing, so that no expression runs from one region into the next.
            parts.append("\x00\n")
            pos += 2
        return Excerpt("".join(parts), frozenset(groups), frozenset(tags), starts, origins)
