"""Detectors: candidates by compiled regular expressions, then validation, then context.

The fast path: each detector is one compiled expression run over the whole text in C; Python code
runs only for candidates. Dates, blood groups and Vitale numbers are searched only next to their
keywords or in their column, never everywhere, because dates and short codes are dense in lab data.

Confidence follows the cloud DLP services (prior-art.md §3):

* a checksum alone (1 random number in 97 passes) gives a *medium* score, below the default 0.5;
* a label (column header, JSON key, XML tag, ``key=``/``key :``) naming the kind, a keyword
  within a window, a structured position (HL7 PID, HPRIM P record) or identity fields on the
  same record raise it;
* a label naming something else (invoice, SIRET, sample id...) lowers it;
* a column where nearly every NIR-shaped value passes the key is an identifier column (density).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cython

from ecluse.scan._lexicon import (
    CLINICAL_TERMS,
    DECOY_LABELS,
    IDENTITY_WORDS,
    KEYWORDS,
    ROLE_MAILBOXES,
    SENSITIVE_LOINC,
)

__all__ = ["Detector", "Hit", "finish", "nir_key_ok", "strip_accents", "table_needs_whole_text"]

IDENTITY_KINDS = frozenset({"nir", "ins", "vitale", "birth_date", "listed_term", "email", "phone_fr"})


@cython.dataclasses.dataclass
@cython.cclass
class Hit:
    start: int
    end: int
    kind: str
    confidence: float
    excerpt: str | None
    """The masked excerpt; ``None`` until :func:`finish` makes it (and ``value``, ``detail``)."""
    value: str
    """Normalised value, used only for the keyed fingerprint; never leaves the scanner."""
    detail: str = ""


def finish(h: Hit) -> str:
    """The masked excerpt of ``h``, made now (with its normalised value and detail) if its
    detector left it to make (``excerpt`` ``None``, ``value`` the matched text): NIR and INS,
    phone numbers, e-mail addresses, birth dates, clinical terms. On a patient export most hits
    are past ``max_findings_per_kind`` and only counted: their masks were made for nothing."""
    if h.excerpt is not None:
        return h.excerpt
    kind = h.kind
    value = h.value
    if kind == "nir" or kind == "ins":
        excerpt = _mask_nir(value)
    elif kind == "phone_fr":
        # A PHONE_RE match holds digits and " .-+()": without those, what ``\\D`` removed.
        # (``str.replace`` six times: ``str.translate`` with a dict took 0.6 microseconds)
        digits = value if value.isdigit() else _without(value, " .-+()")
        h.value = national = "0" + digits[-9:]
        excerpt = _mask_phone(national)
    elif kind == "email":
        excerpt = _mask_email(value)
        h.value = value.lower()
    elif kind == "birth_date":
        # Every span is a ``_DATE`` match (or 8 digits of one): digits (``\\d``, i.e. Unicode
        # decimals) and "/", "." or "-" between them. The year is its first or last 4 characters;
        # the same as a search of ``(?:19|20)\\d\\d`` in them, and ``re.sub(r"\\D", "", value)``, without a regex.
        year = value[-4:] if value[2] in "/.-" else value[:4]
        century = year[:2] if year[:2] in ("19", "20") and year[2:].isdecimal() else "**"
        excerpt = f"**/**/{century}**"
        h.value = value if value.isdecimal() else _without(value, "/.-")
    elif kind == "clinical_term":
        excerpt = h.value = value.lower()
        h.detail = _clin_category(value)
    else:  # pragma: no cover - every detector that defers is above
        raise ValueError(f"no excerpt for a {kind} hit")
    h.excerpt = excerpt
    return excerpt


def _in_text_order(hits: list[Hit]) -> list[Hit]:
    """``hits`` sorted by start, stably: by ``start * 2**bits + position``, as floats while that
    is exact (a list of floats is sorted with a C comparison; a list of tuples, with two rich
    comparisons each)."""
    h: Hit
    count: cython.Py_ssize_t = len(hits)
    bits: cython.Py_ssize_t = max(1, int(count).bit_length())
    top: cython.Py_ssize_t = 0
    scale: cython.double
    low: cython.Py_ssize_t
    for h in hits:
        if h.start > top:
            top = h.start
    if int(top + 1).bit_length() + bits <= 53:
        scale = float(1 << bits)
        keys = [h.start * scale + i for i, h in enumerate(hits)]
        keys.sort()
        low = (1 << bits) - 1
        return [hits[int(k) & low] for k in keys]
    keyed = [(h.start, i, h) for i, h in enumerate(hits)]
    keyed.sort()
    return [k[2] for k in keyed]


def order_and_cap(
    hits: list[Hit], min_confidence: float, kept: dict[str, int], cap: cython.Py_ssize_t
) -> tuple[list[Hit], list[tuple[str, float, int]]]:
    """The hits to list as findings, in text order, and ``(kind, confidence, count)`` of the others.

    Hits below ``min_confidence`` are dropped. With a ``cap``, per kind the first ``cap`` hits of a
    file in text order are listed, counting those listed before (``kept``: per kind, the hits of
    the file so far, updated here); the rest are counted by confidence rounded to 3 places, kind
    by kind in order of first appearance, confidences in order of first appearance. Here, where
    ``Hit`` is a C type, rather than in the engine, where each attribute was a generic lookup and
    the sort key a Python call.

    Past the cap, only the listed hits are sorted: each kind's hits are taken in the detectors'
    order (a detector gives its hits in text order, nearly always: checked, and sorted where
    not), the kinds in the order of their first hit, ties broken by the detectors' order, as a
    stable sort of all the hits would have them (on a patient export, most hits are past the cap).
    """
    h: Hit
    i: cython.Py_ssize_t
    n: cython.Py_ssize_t
    r: cython.Py_ssize_t
    last: cython.double
    run: cython.Py_ssize_t
    prev: cython.Py_ssize_t
    if min_confidence > 0.0:
        hits = [h for h in hits if h.confidence >= min_confidence]
    omitted: list[tuple[str, float, int]] = []
    if not cap or not hits:
        return _in_text_order(hits), omitted
    # Each kind's hits with their positions in ``hits`` (the tie-break of a stable sort).
    by_kind: dict[str, tuple[list[Hit], list[int]]] = {}
    for i in range(len(hits)):
        h = hits[i]
        group = by_kind.get(h.kind)
        if group is None:
            group = by_kind[h.kind] = ([], [])
        group[0].append(h)
        group[1].append(i)
    firsts = []
    for kind, (members, where) in by_kind.items():
        prev = -1
        ordered = True
        for h in members:  # positions rise within a group: the start decides
            if h.start < prev:
                ordered = False
                break
            prev = h.start
        if not ordered:
            pairs = sorted(zip([h.start for h in members], where, strict=True))
            where[:] = [w for _, w in pairs]
            members[:] = [hits[w] for w in where]
        firsts.append((members[0].start, where[0], kind))
    firsts.sort()
    over = False
    listed: list[tuple[int, int, Hit]] = []
    for _, _, kind in firsts:
        members, where = by_kind[kind]
        n = kept.get(kind, 0)
        kept[kind] = n + len(members)
        r = cap - n if n < cap else 0
        if r >= len(members):
            listed += [(h.start, w, h) for h, w in zip(members, where, strict=True)]
            continue
        over = True
        listed += [(h.start, w, h) for h, w in zip(members[:r], where[:r], strict=True)]
        raw: dict[float, int] = {}  # by exact confidence, in order of first appearance
        last = -1.0
        run = 0
        for h in members[r:]:  # counted by runs of one confidence (hits of a column share one)
            if h.confidence != last:
                if run:
                    raw[last] = raw.get(last, 0) + run
                last, run = h.confidence, 0
            run += 1
        raw[last] = raw.get(last, 0) + run
        counted: dict[float, int] = {}
        for conf, k in raw.items():
            rc = round(conf, 3)
            counted[rc] = counted.get(rc, 0) + k
        omitted += [(kind, conf, k) for conf, k in counted.items()]
    if not over:
        return _in_text_order(hits), omitted
    listed.sort()  # (start, position) is unique: the hits themselves are never compared
    return [t[2] for t in listed], omitted


class _StripTable(dict):  # type: ignore[type-arg]
    """Code point -> its NFKD decomposition without combining marks, computed once per character.

    NFKD decomposes each character on its own and only reorders combining marks, which are all
    dropped: mapping character by character gives exactly the whole-string result.
    """

    def __missing__(self, code: int) -> str:
        out = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        self[code] = out
        return out


_STRIP = _StripTable()


def strip_accents(text: str) -> str:
    if text.isascii():
        return text
    return text.translate(_STRIP)


def _kw_regex(words: Sequence[str]) -> re.Pattern[str]:
    norm = sorted({strip_accents(w.lower()).replace("_", " ") for w in words}, key=len, reverse=True)
    short = [re.escape(w) for w in norm if len(w.strip()) <= 3]
    long = [re.escape(w) for w in norm if len(w.strip()) > 3]
    parts = []
    if long:
        parts.append(r"(?<![a-z0-9])(?:" + "|".join(long) + ")")
    if short:
        parts.append(r"(?<![a-z0-9])(?:" + "|".join(short) + r")(?![a-z0-9])")
    return re.compile("|".join(parts))


_KW = {kind: _kw_regex(words) for kind, words in KEYWORDS.items()}
_DECOY = _kw_regex(DECOY_LABELS)
_IDENTITY = _kw_regex(IDENTITY_WORDS)
_PORTAL = _kw_regex(("portail", "patient", "compte", "login", "identifiant", "espace", "resultats"))


def _trie(words: Sequence[str]) -> str:
    """An alternation factored by prefix: the regex engine then compares one character per level."""
    tree: dict[str, dict] = {}  # type: ignore[type-arg]
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        end = "" in node
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if end else body

    return emit(tree)


def _words_regex(words: Sequence[str], *, whole: bool = True) -> re.Pattern[str]:
    """Lower-case words starting (and, if ``whole``, ending) on a word boundary.

    The start check is a lookbehind placed after the first character of each branch, so that the
    engine keeps its fast skip over characters that cannot start a word of the list.
    """
    by_first: dict[str, list[str]] = {}
    for w in set(words):
        by_first.setdefault(w[0], []).append(w[1:])
    branches = []
    for first, rests in sorted(by_first.items()):
        f = re.escape(first)
        tail = _trie(rests) if any(rests) else ""
        if "" in rests and any(rests):
            tail = f"(?:{tail})?"
        branches.append(f"{f}(?<![\\w\\-]{f}){tail}")
    end = r"(?![\w\-])" if whole else ""
    return re.compile("(?:" + "|".join(branches) + ")" + end)


_LETTERS = bytes(i if chr(i).isalpha() else 32 for i in range(256))


@dataclass(frozen=True, slots=True)
class _Gate:
    """A necessary condition for a ``_words_regex`` list to match, tested on the words of a text.

    The words are the runs of letters of the lower-cased Latin-1 text (computed once per text).
    A match of a term is the term itself, not preceded by a letter (the regex's lookbehind), and,
    for whole-word lists, not followed by one. So each run of letters of the term is a word of
    the text: exactly, except the last run of a term matched as a prefix (``whole=False``), which
    may go on. The gate keeps the longest run of each term (the rarest); terms without letters
    are looked for as substrings.
    """

    exact: frozenset[bytes]
    prefixes: tuple[bytes, ...]
    literals: tuple[bytes, ...]

    @classmethod
    def of(cls, words: Sequence[str], *, whole: bool = True) -> _Gate:
        exact: set[bytes] = set()
        prefixes: set[bytes] = set()
        literals: set[bytes] = set()
        for w in words:
            b = w.lower().encode("latin-1")
            runs = b.translate(_LETTERS).split()
            if not runs:
                literals.add(b)
                continue
            i = max(range(len(runs)), key=lambda k: len(runs[k]))
            if not whole and i == len(runs) - 1 and b.endswith(runs[i]):
                prefixes.add(runs[i])
            else:
                exact.add(runs[i])
        # A prefix that contains another one adds nothing to a substring search.
        prefixes = {p for p in prefixes if not any(q != p and q in p for q in prefixes)}
        return cls(frozenset(exact), tuple(sorted(prefixes)), tuple(sorted(literals)))

    def may_match(self, words: frozenset[bytes] | None, low: bytes | None) -> bool:
        if words is None or low is None:
            return True
        if not self.exact.isdisjoint(words):
            return True
        # A prefix is looked for as a substring: weaker, but a few searches in C instead of a
        # Python step per distinct word.
        return any(lit in low for lit in self.prefixes) or any(lit in low for lit in self.literals)


def _holds_any(text: Any, needles: Iterable[Any]) -> bool:
    """``any(n in text for n in needles)``. A generator expression in a compiled method makes a
    closure, which moves every local of the method to a heap object: the per-hit methods that
    had one (``_normed``, ``_passwords``) ran their whole body slower for it; here, it costs only
    this call."""
    return any(n in text for n in needles)


def _norm_label(text: str) -> str:
    return strip_accents(text.lower()).replace("_", " ").replace("-", " ")


#: ``_norm_label`` of each Latin-1 character, as a byte table, where it is one Latin-1 character;
#: the others (µ, ¼, ½, ¾) are in ``_NORM_MULTI``: a text holding one is normalised window by window.
_NORM_MULTI = tuple(bytes([i]) for i in range(256) if len(_norm_label(chr(i))) != 1 or ord(_norm_label(chr(i))) > 255)
_NORM_LATIN1 = bytes(ord(_norm_label(chr(i))) if bytes([i]) not in _NORM_MULTI else i for i in range(256))

#: ``_LABEL_END`` searched in a label's tail (see ``Detector._label``) -> the normalised label.
_LABELS: dict[str, str | None] = {}


# --------------------------------------------------------------------------------------- patterns
_SEP = r"[ .\-]?"
# The lookbehind sits after the first character so the engine keeps its fast first-character skip.
NIR_RE = re.compile(
    r"([1-478])(?<![\w+/:][1-478])"
    + _SEP
    + r"(\d\d)"
    + _SEP
    + r"(\d\d)"
    + _SEP
    + r"(\d\d|2[ABab])"
    + _SEP
    + r"(\d\d\d)"
    + _SEP
    + r"(\d\d\d)"
    + _SEP
    + r"(\d\d)(?![\w/:]|[.,\-]\d)"
)
INS_OID_RE = re.compile(r"1\.2\.250\.1\.213\.1\.4\.(?:8|9|10|11)(?![\d.])")
PHONE_RE = re.compile(
    r"([0+])(?<![\w+/:.,\-][0+])"
    r"(?:(?<=\+)(?:33|590|594|596|262|269)[ .\-]?(?:\(0\)[ .\-]?)?|(?<=0)(?:0(?:33|590|594|596|262|269)[ .\-]?)?)"
    r"([1-9])(?:[ .\-]?\d\d){4}(?![\w/:]|[.,\-]\d)"
)
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,12}\b")
_DATE = (
    r"(?:(?:0[1-9]|[12]\d|3[01])[/.\-](?:0[1-9]|1[0-2])[/.\-](?:19|20)\d\d"
    r"|(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?![\dT:])"
)
DATE_RE = re.compile(r"(?<![\d/.\-])" + _DATE)
_ASCII_DIGIT = re.compile(r"[0-9]")


def _date_search(text: str, pos: int, endpos: int) -> re.Match[str] | None:
    """``DATE_RE.search(text, pos, endpos)``, from the first ASCII digit on: every match starts
    with one (the lookbehind still reads what is before). The search tried the whole expression
    at each of the 40 characters after each birth-date word, though most hold no digit (the
    column list of each ``INSERT`` line of a dump names ``date_naissance``)."""
    first = _ASCII_DIGIT.search(text, pos, endpos)
    return None if first is None else DATE_RE.search(text, first.start(), endpos)


_BIRTH_LIST = [
    "naissance",
    "naiss",
    "ddn",
    "dob",
    "birth",
    "birthdate",
    "date_of_birth",
    "né le",
    "née le",
    "ne le",
    "nee le",
    "né(e) le",
    "datenaissance",
    "date_naissance",
    "datenais",
    "date_nais",
    "birth_date",
    "dnaiss",
    "dtnaiss",
]
_BIRTH_WORDS = _words_regex(_BIRTH_LIST, whole=False)
_BIRTH_GATE = _Gate.of(_BIRTH_LIST, whole=False)
HL7_PID_DOB = re.compile(r"^PID\|(?:[^|\n]*\|){6}((?:19|20)\d{6})(?=[|\n^])", re.MULTILINE)
HPRIM_P_DOB = re.compile(r"^P\|(?:[^|\n]*\|){6}((?:19|20)\d{6})(?=[|\n^])", re.MULTILINE)
BLOOD_RE = re.compile(
    r"(?<![\w+\-])(AB|A|B|O)(?:\s*,?\s*(?:[Rr][Hh][ÉéEe]?[Ss][Uu][Ss]|[Rr][Hh][Dd]?)\s*(?:\(?D\)?)?)?"
    r"\s*(\+|\-|[Pp][Oo][Ss][Ii][Tt][Ii][Ff]|[Nn][ÉéEe][Gg][Aa][Tt][Ii][Ff]|POS\b|NEG\b|pos\b|neg\b)(?![\w+\-])"
)
_BLOOD_LIST = [
    "groupe sanguin",
    "groupage",
    "abo",
    "rhésus",
    "rhesus",
    "rh",
    "rhd",
    "882-1",
    "883-9",
    "gs/rh",
    "groupe_sanguin",
    "blood group",
    "bloodgroup",
    "blood_group",
]
_BLOOD_WORDS = _words_regex(_BLOOD_LIST)
_BLOOD_GATE = _Gate.of(_BLOOD_LIST)
VITALE_RE = re.compile(r"(?<![\d])\d(?:[ ]?\d){19,20}(?![\d])")
_VITALE_TRIGGER = re.compile(r"vitale", re.IGNORECASE)
LOINC_RE = re.compile(
    r"(?<![\w.\-])("
    + "|".join(re.escape(c) for c in sorted(SENSITIVE_LOINC, key=len, reverse=True))
    + r")(?![\w\-]|\.\d)"
)
_CLIN_WORDS = _words_regex([t.lower() for t in CLINICAL_TERMS])
_CLIN_GATE = _Gate.of([t.lower() for t in CLINICAL_TERMS])
_PW_WORDS = (
    "password",
    "passwd",
    "pwd",
    "mot_de_passe",
    "mot de passe",
    "motdepasse",
    "mdp",
    "pass",
    "mot_passe",
    "motpasse",
)
_PW_START = _words_regex(_PW_WORDS, whole=False)
_PW_TAIL = re.compile(r"[\w\-]*(?:\"\s*:\s*\"([^\"\n]*)\"|>([^<\n]*)</|\s*[:=]\s*(?!\s)['\"]?([^\s'\",;&<>]+))")
_CLIN_LOOKUP = {strip_accents(k).lower(): v for k, v in CLINICAL_TERMS.items()}
_HASHED = re.compile(
    r"^(?:\$(?:2[abxy]?|argon2(?:id|i|d)|pbkdf2[\w\-]*|scrypt|[156])\$.*|[0-9a-fA-F]{32,128}|"
    r"pbkdf2_sha256\$.*|sha\d+\$.*|\{SSHA\}.*|\{SHA\}.*)$"
)
_PLACEHOLDER = re.compile(
    r"^(?:\**|x+|X+|\.+|-+|null|none|nil|redacted|masqu[ée]|<.*>|\$\{.*|%.*|\{.*\}|\[.*)$", re.IGNORECASE
)
_LABEL_END = re.compile(
    r"(?:\"([^\"\n]{1,48})\"\s*:\s*\[?\s*\"?|<([A-Za-z_][\w:.\-]{0,48})(?:\s[^<>\n]{0,80})?>\s*"
    r"|([^\W\d][^:=|;,\t\n\"<>]{0,48}?)\s*[:=]\s*[\"']?\s*)$"
)
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}
_HL7_SEG = re.compile(r"(?:PID|P|OBX|OBR|RES|NK1|IN1|GT1)\|")
_SEGMENT = re.compile(r"[A-Z][A-Z0-9]{0,2}\|")
_ACCENTS = {
    "a": "aàâäáãå",
    "e": "eéèêë",
    "i": "iîïíì",
    "o": "oôöóòõ",
    "u": "uùûüú",
    "c": "cç",
    "y": "yÿý",
    "n": "nñ",
}


# Outside quotes, the characters that move between values; a quoted string ('' included, as two
# strings) is one token, and an unterminated one runs to the end of the span, as in SQL.
_SQL_TOKEN = re.compile(r"'[^']*'?|[,()]")
_INSERT_COLS = re.compile(r"INSERT INTO\s+\S+\s*\(([^)]*)\)\s*VALUES\s*", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _insert_cols(cols: str) -> tuple[str, ...]:
    """The normalised column names of ``INSERT INTO t (cols)`` (a dump repeats the same few)."""
    return tuple(_norm_label(c.strip().strip('"`')) for c in cols.split(","))


@functools.lru_cache(maxsize=256)
def _wanted_cols(cols: str, kw: re.Pattern[str]) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(_insert_cols(cols)) if kw.search(c))


def _sql_label(text: str, ls: int, pos: int) -> str | None:
    """The column of a value in ``INSERT INTO t (a, b) VALUES (...), (...)``, quotes respected."""
    m = _INSERT_COLS.match(text, ls)
    if m is None or pos < m.end():
        return None
    cols = _insert_cols(m.group(1))
    idx = 0
    for t in _SQL_TOKEN.finditer(text, m.end(), pos):
        c = t.group()
        if c == ",":
            idx += 1
        elif c == "(":
            idx = 0
    return cols[idx] if idx < len(cols) else None


_SqlIndex = tuple[int, tuple[str, ...], list[int], list[int], str] | None


def _sql_line_index(text: str, ls: int) -> _SqlIndex:
    """The ``INSERT`` line at ``ls``, tokenised once: where its values start, its columns, and its
    ``,``/``(``/``)`` tokens outside quotes (positions, column index after each, the characters).

    :func:`_sql_label_at` then gives what :func:`_sql_label` gives, and :func:`_sql_column_values`
    what tokenising each line again gave, without a pass over the line for every value on it.
    """
    m = _INSERT_COLS.match(text, ls)
    if m is None:
        return None
    cols = _insert_cols(m.group(1))
    end = text.find("\n", m.end())
    end = len(text) if end < 0 else end
    positions, after, chars = _sql_tokens(text, m.end(), end)
    return m.end(), cols, positions, after, chars


def _sql_tokens(text: str, pos: cython.Py_ssize_t, end: cython.Py_ssize_t) -> tuple[list[int], list[int], str]:
    """The ``,``, ``(`` and ``)`` of ``_SQL_TOKEN.finditer(text, pos, end)`` (quoted strings
    skipped): their positions, the column index after each, the characters.

    A loop over the characters (compiled: C-typed), not a match object per token. The same tokens:
    a quote starts a string that runs to the next quote, or to ``end`` if there is none.
    """
    positions: list[int] = []
    after: list[int] = []
    chars: list[str] = []
    idx: cython.Py_ssize_t = 0
    i: cython.Py_ssize_t = max(pos, 0)
    j: cython.Py_ssize_t
    c: cython.Py_UCS4
    end = min(end, len(text))
    with cython.boundscheck(False), cython.wraparound(False):  # 0 <= i < end <= len(text)
        while i < end:
            c = text[i]
            if c == "'":
                j = text.find("'", i + 1, end)
                i = end if j < 0 else j + 1
                continue
            if c == ",":
                idx += 1
            elif c == "(":
                idx = 0
            elif c != ")":
                i += 1
                continue
            positions.append(i)
            after.append(idx)
            chars.append(text[i])
            i += 1
    return positions, after, "".join(chars)


def _sql_label_at(index: _SqlIndex, pos: int) -> str | None:
    if index is None or pos < index[0]:
        return None
    _, cols, positions, after, _ = index
    i = bisect.bisect_left(positions, pos)
    idx = after[i - 1] if i else 0
    return cols[idx] if idx < len(cols) else None


_INSERT_LINE = re.compile(r"^INSERT INTO\s+\S+\s*\(([^)]*)\)\s*VALUES\s*", re.IGNORECASE | re.MULTILINE)


def _line_matches(text: str, rx: re.Pattern[str], head: str, low: str | None = None) -> list[re.Match[str]]:
    """``rx.finditer(text)`` for a multi-line ``rx`` that starts with ``^`` then ``head``: tried at
    the line starts where ``head`` is (``str.find``), skipping those inside the previous match.
    ``finditer`` tried ``^`` at every character (the regex engine has no fast skip for it): the
    HL7 birth dates took 39,000 instructions a ``PID`` segment, a sixth of an HL7 export's scan.
    For a case-insensitive ``rx``, ``head`` is searched in lower case in ``low``, the text lowered
    (same offsets), which only a Latin-1 text gives exactly: beyond Latin-1, ``ſ`` matches ``s``
    and ``ı`` matches ``i`` (see :func:`_insert_lines`).
    """
    out: list[re.Match[str]] = []
    last = 0
    match = rx.match
    where = text if low is None else low
    p = where.find(head)
    while p >= 0:
        if p >= last and (p == 0 or text[p - 1] == "\n"):
            m = match(text, p)
            if m is not None:
                out.append(m)
                last = m.end()
        p = where.find(head, p + 1)
    return out


def _segment_dates(text: str, head: str) -> list[tuple[int, int]]:
    """The spans of group 1 of :data:`HL7_PID_DOB` (``head`` ``"PID|"``) or :data:`HPRIM_P_DOB`
    (``"P|"``) over ``text``, as :func:`_line_matches` gives them, by a compiled character loop:
    at a line that starts with ``head``, six fields (each ended by "|", no line feed), then "19"
    or "20" and six decimal digits (``\\d``: Unicode), then "|", a line feed or "^". The regex
    read each field character by character through its engine: 15,000 instructions a segment.
    """
    out: list[tuple[int, int]] = []
    n: cython.Py_ssize_t = len(text)
    h: cython.Py_ssize_t = len(head)
    last: cython.Py_ssize_t = 0
    i: cython.Py_ssize_t
    _f: cython.Py_ssize_t
    k: cython.Py_ssize_t
    c: cython.Py_UCS4
    ok: cython.bint
    p: cython.Py_ssize_t = text.find(head)
    while p >= 0:
        if p >= last and (p == 0 or text[p - 1] == "\n"):
            i = p + h
            ok = True
            for _f in range(6):  # six fields, each up to its "|"
                while i < n:
                    c = text[i]
                    if c == "|" or c == "\n":
                        break
                    i += 1
                if i >= n or text[i] != "|":
                    ok = False
                    break
                i += 1
            if ok and i + 8 < n and text[i + 8] in "|\n^":
                c = text[i + 1]
                ok = (text[i] == "1" and c == "9") or (text[i] == "2" and c == "0")
                for k in range(i + 2, i + 8):
                    ok = ok and text[k].isdecimal()
                if ok:
                    out.append((i, i + 8))
                    last = i + 8
        p = text.find(head, p + 1)
    return out


def _insert_lines(text: str, low: str | None) -> list[tuple[int, str]]:
    """``(start, column list)`` of each match of ``_INSERT_LINE`` in ``text``, in order.

    With ``low``, the lowered text of a Latin-1 ``text``, by :func:`_line_matches` (8 % of a SQL
    dump's scan was ``finditer`` trying the case-insensitive pattern at every character); without
    (a text beyond Latin-1), by ``finditer``.
    """
    found = _INSERT_LINE.finditer(text) if low is None else _line_matches(text, _INSERT_LINE, "insert into", low)
    return [(m.start(), m.group(1)) for m in found]


def _sql_column_values(
    text: str, kw: re.Pattern[str], lines: dict[int, _SqlIndex], inserts: list[tuple[int, str]]
) -> list[tuple[int, int]]:
    """Spans of the values, in ``INSERT ... VALUES`` lines, of the columns whose name matches ``kw``.

    ``inserts`` is :func:`_insert_lines` of the text; ``lines`` caches :func:`_sql_line_index` by
    line start, for the text being scanned.
    """
    out: list[tuple[int, int]] = []
    for ls, columns in inserts:
        wanted = _wanted_cols(columns, kw)
        if not wanted:
            continue
        index = lines.get(ls)
        if index is None:
            index = lines[ls] = _sql_line_index(text, ls)
        if index is None:
            continue
        vstart = index[0] + 1
        idx = 0
        for i, c, nxt in zip(index[2], index[4], index[3], strict=True):
            if idx in wanted and c != "(" and i > vstart:
                a, b = vstart, i
                while a < b and text[a] in " '":
                    a += 1
                while b > a and text[b - 1] in " '":
                    b -= 1
                out.append((a, b))
            idx = nxt
            vstart = i + 1
    return out


def _column_cells(text: str, delim: str, col: cython.Py_ssize_t, pos: cython.Py_ssize_t) -> list[tuple[int, int]]:
    """``(start, end)`` of cell ``col`` (0-based) of each line that starts at or after ``pos`` and
    has at least ``col`` delimiters before its line feed; the cell ends at the next delimiter,
    CR or LF. What ``finditer(text, pos)`` of ``^(?:[^d\\n]*d){col}([^d\\r\\n]*)`` (multi-line)
    gives as group 1, by a loop over the characters (compiled: C-typed) instead of the regex
    engine's counted repeat at every line (a sixth of a CSV export's scan, for a blood-group or
    password column). ``delim`` is one character, as :func:`sniff_table` finds it.
    """
    out: list[tuple[int, int]] = []
    n: cython.Py_ssize_t = len(text)
    d: cython.Py_UCS4 = delim
    c: cython.Py_UCS4
    i: cython.Py_ssize_t
    k: cython.Py_ssize_t
    s: cython.Py_ssize_t
    line: cython.Py_ssize_t = min(max(pos, 0), n)  # as ``finditer`` takes ``pos``
    if line > 0 and text[line - 1] != "\n":
        line = text.find("\n", line)
        if line < 0:
            return out
        line += 1
    with cython.boundscheck(False), cython.wraparound(False):  # every index is checked against n
        while True:
            i = line
            k = col
            while k > 0:
                while i < n:
                    c = text[i]
                    if c == d or c == "\n":
                        break
                    i += 1
                if i < n and text[i] == d:
                    i += 1
                    k -= 1
                else:
                    break
            if k == 0:
                s = i
                while i < n:
                    c = text[i]
                    if c == d or c == "\r" or c == "\n":
                        break
                    i += 1
                out.append((s, i))
            i = text.find("\n", i)
            if i < 0:
                return out
            line = i + 1


#: A table cell that holds only a date, between double quotes or not (see ``Detector._birth_dates``).
_CELL_DATE = re.compile(r'("*)(' + _DATE + r')"*')


def _hprim_net_line(text: str, pos: int) -> int | None:
    """Line number (1-based) of ``pos`` within the 12-line header of an HPRIM Net message."""
    if pos > 2000 or ("****LAB****" not in text and "****FIN****" not in text):
        return None
    n = text.count("\n", 0, pos) + 1
    return n if n <= 12 else None


def nir_key_ok(digits13: str, key: str) -> bool:
    """The INSEE key: 97 - (N mod 97), with 2A read as 19 and 2B as 18 before the modulo."""
    d = digits13.upper()
    if d[5:7] == "2A":
        d = d[:5] + "19" + d[7:]
    elif d[5:7] == "2B":
        d = d[:5] + "18" + d[7:]
    if not d.isdigit() or not key.isdigit():
        return False
    return 97 - int(d) % 97 == int(key)


def _mask_nir(n13: str) -> str:
    return f"{n13[0]} {n13[1:3]} {n13[3:5]} ** *** *** **"


def _mask_phone(digits: str) -> str:
    return f"{digits[:2]} ** ** ** **"


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    tld = domain.rsplit(".", 1)[-1]
    return f"{local[:1]}***@{domain[:1]}***.{tld}"


def _listed_regex(terms: Sequence[str]) -> re.Pattern[str] | None:
    alts = []
    for term in terms:
        t = strip_accents(term).casefold().strip()
        if not t:
            continue
        out: list[str] = []
        for ch in t:
            if ch.isspace():
                if not out or out[-1] != r"[\s\-']+":
                    out.append(r"[\s\-']+")
            elif ch in "-'":
                out.append(r"[\s\-']+")
            elif ch in _ACCENTS:
                out.append("[" + _ACCENTS[ch] + "]")
            else:
                out.append(re.escape(ch))
        alts.append("".join(out))
    if not alts:
        return None
    alts.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE)


# ----------------------------------------------------------------------------- candidate windows
# The digit detectors run their (slow, lookaround-heavy) expressions only inside runs of the
# characters their matches are made of: the text is mapped once per class to a two-letter byte
# string by ``bytes.translate`` and the runs long enough to hold a match are found by one search
# with a literal prefix, which the regex engine scans at memory speed. Outside those runs the
# detector cannot match, so the result is the same as a search of the whole text.
def _class_table(chars: str) -> bytes:
    # Built from code points, not by iterating bytes: compiled by Cython, a loop over a bytes
    # literal gives 1-byte ``bytes``, not ``int`` (this module is compiled, decision 0005).
    return bytes(ord("0") if chr(i) in chars else ord("x") for i in range(256))


_NIR_CLASS = _class_table("0123456789 .-ABab")
# Phones: a match starts on 0 or + not preceded by [\w+/:.,\-] (PHONE_RE's lookbehind); those
# ASCII characters become "x", 0 and + become "S", anything else "a" (allowed before a start, a
# superset: non-ASCII letters are let through and rejected by PHONE_RE itself).
_PHONE_X = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz123456789_/:.,-"
_PHONE_START_T = bytes(ord("S") if chr(i) in "0+" else ord("x") if chr(i) in _PHONE_X else ord("a") for i in range(256))
_PHONE_CAND = re.compile(b"aS")
_VITALE_CLASS = _class_table("0123456789 ")
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")
_ANY_DIGIT = re.compile(r"\d")
_LATIN1_LOWER = bytes(ord(chr(i).lower()) for i in range(256))
# The lengths of the listed LOINC codes, looked up before each place where one may end (_loinc_ends).
_LOINC_LENGTHS = sorted({len(c) for c in SENSITIVE_LOINC}, reverse=True)
_ROLE_RE = re.compile("(?:" + "|".join(re.escape(r) for r in ROLE_MAILBOXES) + r")(?:[._\-]|\Z)")


def _without(text: str, chars: str) -> str:
    """``text`` without any of ``chars`` (``str.translate`` with a deleting table, faster)."""
    for c in chars:
        if c in text:
            text = text.replace(c, "")
    return text


def _runs(
    raw: bytes | None, n: cython.Py_ssize_t, table: bytes, length: cython.Py_ssize_t, margin: cython.Py_ssize_t = 2
) -> list[tuple[int, int]]:
    """``(pos, endpos)`` spans covering every run of at least ``n`` class characters (those that
    ``table`` maps to ``"0"``), each span from the run's start to ``margin`` past its end.

    ``raw`` is the text as Latin-1 bytes (one byte per character); ``None`` means the text has
    characters beyond Latin-1 (other scripts' digits may then match ``\\d``): the whole text.
    One pass over the bytes, compiled to a C loop (about 1.5 GB/s). It was ``bytes.translate``
    then ``find`` of ``n`` zeros: a needle of one repeated byte is the worst case of CPython's
    search (a shift of one on every class byte): 90 MB/s on a CSV export, 4 % of its scan.
    """
    if raw is None:
        return [(0, length)]
    data: bytes = raw
    cls: cython.p_uchar = table
    chars: cython.p_uchar = data
    size: cython.Py_ssize_t = len(data)
    run: cython.Py_ssize_t = 0
    i: cython.Py_ssize_t
    member: cython.Py_ssize_t
    out = []
    for i in range(size):
        # Without a branch on the class (digits and letters alternate unpredictably in logs):
        # ``run`` grows on a class character ("0") and drops to 0 on any other.
        member = cls[chars[i]] == 48
        if run >= n and not member:
            out.append((i - run, min(length, i + margin)))
        run = (run + 1) * member
    if run >= n:
        out.append((size - run, length))
    return out


_NirMatch = tuple[int, int, str | None]


def _month_ok(month: int) -> bool:
    """A NIR's month: 1-12, 20-42 or 50-99 (the others are not issued)."""
    return 1 <= month <= 12 or 20 <= month <= 42 or month >= 50


def _nir_value(s: str, yy: str, mm: str, dept: str, commune: str, order: str, key: str) -> str | None:
    """The 13 digits and the key of a NIR shape (the department in upper case) if its month and
    key (:func:`nir_key_ok`) are valid, else ``None``."""
    n13 = s + yy + mm + dept.upper() + commune + order
    return n13 + key if _month_ok(int(mm)) and nir_key_ok(n13, key) else None


def _nir_matches(text: str, pos: cython.Py_ssize_t, endpos: cython.Py_ssize_t) -> list[_NirMatch]:
    """Each match of ``NIR_RE.finditer(text, pos, endpos)``: ``(start, end, value)``, its value
    :func:`_nir_value` of its groups (``None``: a month or a key that is not valid). Computed here
    for ASCII digits (the groups were 7 strings and a tuple per shape, then joined and read again).

    A loop over the characters (compiled: C-typed) instead of the regex engine and a match object
    per shape. ``NIR_RE`` has one way to match at a given start: each optional separator is taken
    if present (the next item starts with a digit), the department is two digits or else ``2`` and
    a Corsican letter, and the lookarounds accept or reject the whole match. So trying each start
    in turn, and going on from the end of each match, gives ``finditer``'s matches. As in the regex,
    ``\\d`` is a Unicode decimal digit and ``\\w`` a letter, digit or ``_``; the lookbehind may read
    before ``pos``, the lookahead not past ``endpos``.
    """
    out: list[_NirMatch] = []
    n: cython.Py_ssize_t = min(endpos, len(text))
    p: cython.Py_ssize_t = max(pos, 0)
    i: cython.Py_ssize_t
    k: cython.Py_ssize_t
    g: cython.Py_ssize_t
    t: cython.Py_ssize_t
    m: cython.Py_ssize_t
    o: cython.long
    key0: cython.long
    key1: cython.long
    month: cython.long
    number: cython.longlong
    corsica: cython.bint
    ascii: cython.bint
    c: cython.Py_UCS4
    ok: cython.bint
    # where each item starts (sex, year, month, department, commune, order), and its width
    starts = cython.declare(cython.Py_ssize_t[6])
    widths = cython.declare(cython.Py_ssize_t[6])
    for g in range(6):
        widths[g] = (1, 2, 2, 2, 3, 3)[g]
    with cython.boundscheck(False), cython.wraparound(False):  # every index is checked against n
        while p < n:
            c = text[p]
            if c not in "123478" or (p > 0 and (text[p - 1].isalnum() or text[p - 1] in "_+/:")):
                p += 1
                continue
            i = p + 1
            ok = True
            for g in range(5):
                if i < n and text[i] in " .-":
                    i += 1
                k = widths[g + 1]
                if i + k > n:
                    ok = False
                    break
                starts[g + 1] = i
                if g == 2 and not (text[i].isdecimal() and text[i + 1].isdecimal()):
                    # the department: two digits, or 2A / 2B
                    if text[i] == "2" and text[i + 1] in "ABab":
                        i += 2
                        continue
                    ok = False
                    break
                while k > 0 and text[i].isdecimal():
                    i += 1
                    k -= 1
                if k:
                    ok = False
                    break
            if ok:
                # the key: its separator, two digits
                if i < n and text[i] in " .-":
                    i += 1
                if i + 2 > n or not (text[i].isdecimal() and text[i + 1].isdecimal()):
                    ok = False
                else:
                    k = i
                    i += 2
                    if i < n:  # the lookahead: no word character, / or :, nor [.,-] then a digit
                        c = text[i]
                        if c.isalnum() or c in "_/:" or (c in ".,-" and i + 1 < n and text[i + 1].isdecimal()):
                            ok = False
            if not ok:
                p += 1
                continue
            # The value (13 digits and the key, the department in upper case) if the month and the
            # key are valid, else None: in C for ASCII digits, in Python for other scripts' ones.
            starts[0] = p
            corsica = not text[starts[3] + 1].isdecimal()  # 2A or 2B
            value = bytearray(15)
            number = 0
            ascii = True
            m = 0
            for g in range(6):
                for t in range(widths[g]):
                    o = ord(text[starts[g] + t])
                    ascii = ascii and o < 128
                    if corsica and m == 5:
                        number = number * 10 + 1
                    elif corsica and m == 6:
                        number = number * 10 + (9 if o in (65, 97) else 8)  # 2A reads 19, 2B 18
                        o &= 0xDF  # upper case
                    else:
                        number = number * 10 + (o - 48)
                    value[m] = o if o < 128 else 63
                    m += 1
            key0 = ord(text[k])
            key1 = ord(text[k + 1])
            if not (ascii and key0 < 128 and key1 < 128):
                # (no generator here: a closure would move this function's C locals into a heap scope)
                yy, mm = text[starts[1] : starts[1] + 2], text[starts[2] : starts[2] + 2]
                dept, commune = text[starts[3] : starts[3] + 2], text[starts[4] : starts[4] + 3]
                order = text[starts[5] : starts[5] + 3]
                out.append((p, i, _nir_value(text[p], yy, mm, dept, commune, order, text[k:i])))
                p = i
                continue
            month = (value[3] - 48) * 10 + value[4] - 48
            if _month_ok(month) and 97 - number % 97 == (key0 - 48) * 10 + key1 - 48:
                value[13] = key0
                value[14] = key1
                out.append((p, i, value.decode("ascii")))
            else:
                out.append((p, i, None))
            p = i
    return out


def _phone_code(text: str, i: cython.Py_ssize_t, n: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """The end of a country code of ``PHONE_RE`` (33, 590, 594, 596, 262, 269) at ``i``, or -1."""
    if i + 2 <= n and text[i] == "3" and text[i + 1] == "3":
        return i + 2
    if i + 3 <= n and (
        (text[i] == "5" and text[i + 1] == "9" and text[i + 2] in "046")
        or (text[i] == "2" and text[i + 1] == "6" and text[i + 2] in "29")
    ):
        return i + 3
    return -1


def _phone_end(text: str, p: cython.Py_ssize_t, endpos: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """The end of ``PHONE_RE.match(text, p, endpos)``, or -1 if it does not match.

    Character tests instead of the regex engine (compiled: C-typed). ``PHONE_RE`` has one way to
    match at ``p``: an optional separator or ``(0)`` is taken when present (what follows it starts
    with a digit or ``(``), ``00`` is always read as the international prefix (else ``[1-9]``
    would have to match its second 0), and the lookarounds accept or reject the whole match.
    ``\\d`` and ``\\w`` are Unicode, as in the regex; the lookbehind may read before ``p``, the
    lookahead not past ``endpos``.
    """
    n: cython.Py_ssize_t = min(endpos, len(text))
    i: cython.Py_ssize_t
    _g: cython.Py_ssize_t
    c: cython.Py_UCS4
    with cython.boundscheck(False), cython.wraparound(False):  # every index is checked against n
        if p < 0 or p >= n:
            return -1
        c = text[p]
        if c != "0" and c != "+":
            return -1
        if p > 0:
            c = text[p - 1]
            if c.isalnum() or c in "_+/:.,-":
                return -1
        i = p + 1
        if text[p] == "+":
            i = _phone_code(text, i, n)
            if i < 0:
                return -1
            if i < n and text[i] in " .-":
                i += 1
            if i + 3 <= n and text[i] == "(" and text[i + 1] == "0" and text[i + 2] == ")":
                i += 3
                if i < n and text[i] in " .-":
                    i += 1
        elif i < n and text[i] == "0":
            i = _phone_code(text, i + 1, n)
            if i < 0:
                return -1
            if i < n and text[i] in " .-":
                i += 1
        if i >= n or text[i] not in "123456789":
            return -1
        i += 1
        for _g in range(4):
            if i < n and text[i] in " .-":
                i += 1
            if i + 2 > n or not (text[i].isdecimal() and text[i + 1].isdecimal()):
                return -1
            i += 2
        if i < n:  # the lookahead: no word character, / or :, nor [.,-] then a digit
            c = text[i]
            if c.isalnum() or c in "_/:" or (c in ".,-" and i + 1 < n and text[i + 1].isdecimal()):
                return -1
    return i


def _loinc_ends(raw: bytes) -> list[int]:
    """Where a listed LOINC code may end: after a digit, "-", one digit, then no digit, these not
    overlapping (what ``0-0(?!0)`` finds on the text mapped to "0" for a digit). A compiled loop
    over the bytes: the regex over the map (every other byte a "0" on an HL7 export) was a tenth
    of its scan, then a ``bytes.find`` from each "-" (a Python call per "-") about 4 %.
    """
    out: list[int] = []
    data: bytes = raw
    chars: cython.p_uchar = data
    n: cython.Py_ssize_t = len(data)
    last: cython.Py_ssize_t = 0  # where ``finditer`` goes on: the end of the previous match
    i: cython.Py_ssize_t
    for i in range(1, n - 1):
        if (
            chars[i] == 45
            and i - 1 >= last
            and 48 <= chars[i - 1] <= 57
            and 48 <= chars[i + 1] <= 57
            and (i + 2 >= n or not 48 <= chars[i + 2] <= 57)
        ):
            last = i + 2
            out.append(last)
    return out


def _loinc_at(text: str, p: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """The end of ``LOINC_RE.match(text, p)``, 0 if none: its checks without the regex engine,
    which tried the alternation of every listed code in turn (a tenth of an HL7 export's scan).
    The alternation is longest code first, and a shorter code is tried when the lookahead refuses
    a longer one; ``\\w`` is ``str.isalnum()`` or "_", ``\\d`` ``str.isdecimal()``, as in ``re``."""
    n: cython.Py_ssize_t = len(text)
    e: cython.Py_ssize_t
    if p > 0:
        c = text[p - 1]
        if c.isalnum() or c in "_.-":
            return 0
    for size in _LOINC_LENGTHS:
        e = p + size
        if e > n or text[p:e] not in SENSITIVE_LOINC:
            continue
        if e < n:
            c = text[e]
            if c.isalnum() or c in "_-" or (c == "." and e + 1 < n and text[e + 1].isdecimal()):
                continue
        return e
    return 0


#: ``EMAIL_RE`` after its "@": the domain, matched from the character after the "@".
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,12}\b")
#: The characters of ``EMAIL_RE``'s local part (ASCII), as a byte per code point below 128.
_EMAIL_LOCAL = bytes(1 if chr(i).isascii() and (chr(i).isalnum() or chr(i) in "._%+-") else 0 for i in range(128))


def _email_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of what ``EMAIL_RE.finditer(text)`` finds, from each "@" outwards.

    The regex tried every start before each "@" (the local part ``{1,64}`` of a class without
    "@"), 5 microseconds an address on an export. A match that uses a given "@" starts at the
    first of the 64 characters before it from which only local-part characters lead to it, and
    not before the end of the previous match (``finditer`` goes on from there); its domain, the
    rest of the expression, does not depend on that start: :data:`_EMAIL_DOMAIN` matched after
    the "@" gives its end, or no match with this "@" at all. A match with an earlier "@" starts
    earlier (no local part holds an "@"), so taking the "@"s in order gives ``finditer``'s order.
    """
    out: list[tuple[int, int]] = []
    table: bytes = _EMAIL_LOCAL
    local: cython.p_uchar = table
    pos: cython.Py_ssize_t = 0  # where the search goes on: the end of the previous match
    at: cython.Py_ssize_t = text.find("@")
    s: cython.Py_ssize_t
    floor: cython.Py_ssize_t
    o: cython.Py_ssize_t
    match = _EMAIL_DOMAIN.match
    with cython.boundscheck(False), cython.wraparound(False):  # 0 <= floor <= s - 1 < at < len(text)
        while at >= 0:
            s = at
            floor = max(pos, at - 64)
            while s > floor:
                o = ord(text[s - 1])
                if o >= 128 or not local[o]:
                    break
                s -= 1
            if s < at:
                m = match(text, at + 1)
                if m is not None:
                    pos = m.end()
                    out.append((s, pos))
                    at = text.find("@", pos)
                    continue
            at = text.find("@", at + 1)
    return out


def _label_from(text: str, lo: int, k: int) -> int:
    """Where a search for ``_LABEL_END`` ending at a ``:``, ``=`` or ``>`` at ``k`` may start.

    The same match as a search from ``lo``, from fewer starting points: a JSON label starts at the
    second-last ``"`` before ``k`` (its name holds none), a tag at the last ``<``, and a
    ``key:``/``key=`` label after the last character its name cannot hold (``\t`` aside: the
    spaces before ``k`` may hold one). No match starts before the first of these.
    """
    t = text.rfind("<", lo, k)
    q = text.rfind('"', lo, k)
    if q >= 0:
        q = text.rfind('"', lo, q)
        if q >= 0:
            # the last stop character is at or after the last quote, past ``q``
            return q if t < 0 or q < t else t
    first = k if t < 0 else t
    seg = text[lo:k]
    m = _LABEL_STOP.search(seg[::-1])  # the last one, found on the reversed span
    stop = lo + len(seg) - m.start() if m is not None else lo
    return min(first, stop)


_LABEL_STOP = re.compile(r'[:=|;,\n"<>]')


@cython.dataclasses.dataclass
@cython.cclass
class Table:
    """What is known about a delimited text: its delimiter and header row."""

    delim: str
    header: list[str]
    header_end: int


def sniff_table(text: str) -> Table | None:
    """A first line with several delimiters and mostly non-numeric cells is a header."""
    first_end = text.find("\n")
    if first_end < 0:
        first_end = len(text)
    first = text[:first_end].rstrip("\r")
    if not first or len(first) > 4000:
        return None
    delim = max(("\t", ";", ",", "|"), key=first.count)
    if first.count(delim) < 1 or first.lstrip().startswith(("MSH|", "H|", "{", "[", "<", "INSERT", "--")):
        return None
    cells = [c.strip().strip('"') for c in first.split(delim)]
    if sum(1 for c in cells if c and not c[0].isdigit()) < 0.8 * len(cells):
        return None
    second_end = text.find("\n", first_end + 1)
    second = text[first_end + 1 : second_end if second_end > 0 else len(text)]
    if second and abs(second.count(delim) - first.count(delim)) > 1:
        return None
    return Table(delim, [_norm_label(c) for c in cells], first_end + 1)


#: The detectors whose lexicon searches ``Prefilter.word_starts`` locates.
_WORD_GROUPS = frozenset({"clinical", "birth", "blood"})
#: The detectors, by the names the prefilter's cues use.
_ALL_GROUPS = frozenset(
    {"nir", "phone", "email", "birth", "blood", "vitale", "loinc", "password", "listed", "clinical"}
)


@functools.lru_cache(maxsize=4096)
def _label_class(kind: str, label: str) -> str | None:
    """``"label"`` if ``label`` names ``kind``, ``"decoy"`` if it names something else, else None
    (labels repeat: column headers, JSON keys, XML tags)."""
    if _KW[kind].search(label):
        return "label"
    if _DECOY.search(label):
        return "decoy"
    return None


@functools.lru_cache(maxsize=1024)
def _clin_category(term: str) -> str:
    return _CLIN_LOOKUP.get(strip_accents(term).lower(), "other")


def table_needs_whole_text(table: Table) -> bool:
    """Whether a column of ``table`` is read line by line (birth dates, blood groups, passwords):
    such values have no cue of their own, so the text cannot be cut to the lines around cues."""
    return any(_KW[kind].search(h) for h in table.header for kind in ("birth_date", "blood_group", "portal_password"))


class Detector:
    """All detectors over one unit of text (a file, a member, a table). Stateless across units."""

    def __init__(self, extra_terms: Sequence[str] = ()) -> None:
        self._listed = _listed_regex(extra_terms)
        self._low = ""
        self._raw: bytes | None = None
        self._lowb: bytes | None = None
        self._words: frozenset[bytes] | None = None
        self._starts: dict[str, list[int]] | None = None
        self._tags: frozenset[str] | None = None
        self._sql_lines: dict[int, _SqlIndex] = {}
        self._table_rows: dict[int, bool] = {}
        self._ls_text: str | None = None
        self._ls_memo = (0, 0)
        self._norm: str | None = None
        self._insert_rows: list[tuple[int, str]] | None = None

    # ------------------------------------------------------------------------------ context
    def _line_start(self, text: str, pos: int) -> int:
        """``text.rfind("\\n", 0, pos) + 1``. Past 256 characters without a line feed, the search
        goes back only to the previous call's position when ``pos`` is past it (detectors ask in
        text order; a text with ``\\r`` segments and no ``\\n``, as HL7 often is, made every search
        go back to the start of the text)."""
        k = text.rfind("\n", pos - 256 if pos > 256 else 0, pos)
        if k >= 0 or pos <= 256:  # the usual case: a line feed close by
            return k + 1
        last, ls = self._ls_memo
        if text is self._ls_text and pos >= last:
            k = text.rfind("\n", last, pos)
            if k >= 0:
                ls = k + 1
        else:
            self._ls_text = text
            ls = text.rfind("\n", 0, pos) + 1
        self._ls_memo = (pos, ls)
        return ls

    def _inserts(self, text: str) -> list[tuple[int, str]]:
        """:func:`_insert_lines` of ``text`` (the text being scanned), found once per scan; the
        lowered text is exact for it on Latin-1 text only (``_lowb`` is set then)."""
        if self._insert_rows is None:
            self._insert_rows = _insert_lines(text, self._low if self._lowb is not None else None)
        return self._insert_rows

    def _normed(self, text: str, a: int, b: int) -> str:
        """``_norm_label(text[a:b])`` for ``text``, the text being scanned: a slice of the whole
        text normalised once, where each of its characters normalises to one (Latin-1 text without
        µ, ¼, ½ or ¾): the same string. Else normalised here. The keyword windows of the NIR,
        phone, e-mail and password detectors took 200 characters through ``str.lower``,
        ``str.translate`` and two ``str.replace`` for each value (a third of a SQL dump's scan)."""
        if a < 0:
            a = 0
        if self._norm is None:
            raw = self._lowb  # set for Latin-1 text only: its lowered bytes, one per character
            usable = raw is not None and not _holds_any(raw, _NORM_MULTI)
            self._norm = raw.translate(_NORM_LATIN1).decode("latin-1") if usable and raw is not None else ""
        if len(self._norm) == len(text):  # normalised character for character
            return self._norm[a:b]
        return _norm_label(text[a:b])

    @staticmethod
    def _line_end(text: str, pos: int) -> int:
        end = text.find("\n", pos)
        return len(text) if end < 0 else end

    def _label(self, text: str, start: int, table: Table | None) -> str | None:
        ls = text.rfind("\n", start - 256 if start > 256 else 0, start) + 1  # :meth:`_line_start`, inlined
        if not ls and start > 256:
            ls = self._line_start(text, start)
        if table is not None and ls >= table.header_end:
            row = self._table_rows.get(ls)  # whether the line has the header's cells, give or take one
            if row is None:
                le = self._line_end(text, start)
                row = self._table_rows[ls] = abs(text.count(table.delim, ls, le) - len(table.header) + 1) <= 1
            if row:
                col = text.count(table.delim, ls, start)
                return table.header[col] if col < len(table.header) else None
        if text.startswith(("INSERT INTO", "insert into"), ls):
            index = self._sql_lines.get(ls)
            if index is None:
                index = self._sql_lines[ls] = _sql_line_index(text, ls)
            return _sql_label_at(index, start)
        # Every form of _LABEL_END ends with ":", "=" or ">", then only spaces, quotes and "[":
        # without one, the search (64 starting points) cannot match.
        k = start - 1
        lo = max(ls, start - 64)
        while k >= lo and (text[k].isspace() or text[k] in "\"'["):
            k -= 1
        if k < lo or text[k] not in ":=>":
            return None
        # The search's result depends only on the characters from where it starts: labels repeat.
        tail = text[_label_from(text, lo, k) : start]
        try:
            return _LABELS[tail]
        except KeyError:
            pass
        m = _LABEL_END.search(tail)
        label = None if m is None else _norm_label(m.group(1) or m.group(2) or m.group(3) or "")
        if len(_LABELS) >= 8192:
            _LABELS.clear()
        _LABELS[tail] = label
        return label

    def _context(
        self, text: str, start: int, end: int, kind: str, table: Table | None, window: int = 120
    ) -> tuple[str, str | None]:
        """``("label"|"decoy"|"window"|"none", label)``: where the evidence for ``kind`` comes from."""
        label = self._label(text, start, table)
        return self._how(text, start, kind, table, window, label), label

    @staticmethod
    def _how(text: str, start: int, kind: str, table: Table | None, window: int, label: str | None) -> str:
        """The first half of :meth:`_context`, for a ``label`` already found."""
        if label:
            how = _label_class(kind, label)
            if how is not None:
                return how
            if table is not None:
                return "none"
        around = _norm_label(text[max(0, start - window) : start])
        if _KW[kind].search(around):
            return "window"
        return "none"

    def _word_matches(self, words: re.Pattern[str], gate: _Gate, group: str) -> Iterable[re.Match[str]]:
        """``words.finditer(self._low)`` (a lexicon search), tried only at the offsets where the
        prefilter saw a word of ``group`` start, if it looked (every match starts at one of them);
        else gated by the words of the text."""
        starts = self._starts.get(group) if self._starts is not None else None
        if starts is None:
            return words.finditer(self._low) if gate.may_match(self._words, self._lowb) else ()
        out: list[re.Match[str]] = []
        low = self._low
        match = words.match
        last = 0
        for p in starts:
            if p >= last:
                m = match(low, p)
                if m is not None:
                    out.append(m)
                    last = m.end()
        return out

    def _may_hold(self, word: bytes, text: str, *needles: str, tag: str = "") -> bool:
        """``any(n in text for n in needles)``, answered ``False`` without searching when the cue
        ``tag`` was not found in the text, or when ``word`` is not a word of it. Exact for needles
        that start a word (every needle contains ``word`` as a whole run of letters there) and that
        callers act on only where their cue matches (at a line start...)."""
        if tag and self._tags is not None and tag not in self._tags:
            return False
        if word and self._words is not None and word not in self._words:
            return False
        return any(n in text for n in needles)

    # ------------------------------------------------------------------------------ detectors
    def scan(
        self,
        text: str,
        *,
        table: Table | None = None,
        sniff: bool = True,
        only: frozenset[str] | None = None,
        tags: frozenset[str] | None = None,
        word_starts: Callable[[bytes], dict[str, list[int]]] | None = None,
        finished: bool = True,
    ) -> list[Hit]:
        """Every hit in ``text``, whatever its confidence. ``table`` carries a header across chunks.

        ``finished=False`` leaves some hits' excerpts to make (:func:`finish`): for a caller that
        lists only some of the hits and counts the others.

        ``word_starts`` (``Prefilter.word_starts``), given the lowered Latin-1 bytes of the text,
        says where the lexicon searches may match: they are tried there only (same matches).
        ``tags`` (``Excerpt.tags``), if given, names the literal cues found in the text: a search
        that can only match where such a cue is (``PID|``, ``INSERT INTO``...) is skipped without it."""
        if sniff:
            table = sniff_table(text)
        self._sql_lines = {}
        self._table_rows = {}
        self._tags = tags
        self._ls_text = None
        self._norm = None
        self._insert_rows = None
        try:
            self._raw = text.encode("latin-1")
            latin1 = True
        except UnicodeEncodeError:
            # One byte per character still ("?" for the rest), so offsets hold; but if a character
            # beyond Latin-1 is a digit for ``\d`` the candidate maps would miss it: whole-text path.
            latin1 = False
            others = "".join(set(_BEYOND_LATIN1.findall(text)))
            self._raw = None if _ANY_DIGIT.search(others) else text.encode("latin-1", "replace")
        self._lowb = self._words = self._starts = None
        if latin1 and self._raw is not None:  # same as str.lower() on Latin-1 text, at bytes.translate speed
            self._lowb = self._raw.translate(_LATIN1_LOWER)
            if only is None:
                # The words gate the lexicon searches. With ``only`` (the prefilter's cues, which
                # hold those words) they are not needed: without them the gates let every search run.
                self._words = frozenset(self._lowb.translate(_LETTERS).split())
            low = self._lowb.decode("latin-1")
            if word_starts is not None and not _WORD_GROUPS.isdisjoint(only if only is not None else _WORD_GROUPS):
                self._starts = word_starts(self._lowb)
        else:
            low = text.lower()
            if len(low) != len(text):  # a few characters change length when lowered: keep offsets exact
                low = text.translate(_ASCII_LOWER)
        self._low = low
        # ``only``: the detectors that may fire (from the prefilter's cues); the others are skipped.
        run = _ALL_GROUPS if only is None else only
        hits: list[Hit] = []
        if "nir" in run:
            hits += self._nir(text, table)
        if "phone" in run:
            hits += self._phones(text, table)
        if "email" in run and "@" in text:
            hits += self._emails(text, table)
        if "birth" in run:
            hits += self._birth_dates(text, table)
        if "blood" in run:
            hits += self._blood(text, table)
        if "vitale" in run:
            hits += self._vitale(text, table)
        if "loinc" in run:
            hits += self._loinc(text, table)
        if "password" in run:
            hits += self._passwords(text, table)
        if self._listed is not None and "listed" in run:
            for m in self._listed.finditer(text):
                hits.append(Hit(m.start(), m.end(), "listed_term", 0.9, "********", m.group(0).casefold()))
        hits += self._clinical(text, hits, words="clinical" in run)
        if finished:
            for h in hits:
                finish(h)
        return hits

    def _nir(self, text: str, table: Table | None) -> list[Hit]:
        shapes: dict[str | None, list[bool]] = {}
        found: list[tuple[Hit, str | None, str | None]] = []
        has_oid = self._may_hold(b"", text, "1.2.250.1.213", tag="oid")
        oids = [m.start() for m in INS_OID_RE.finditer(text)] if has_oid else []
        label_of = self._label
        for a, b in _runs(self._raw, 15, _NIR_CLASS, len(text)):
            for start, end, value in _nir_matches(text, a, b):
                # Every shape's label counts for the column's density; the rest only for a valid
                # month and key (``value``).
                label = label_of(text, start, table)
                col = shapes.get(label)
                if col is None:
                    col = shapes[label] = []
                col.append(value is not None)
                if value is None:
                    continue
                if oids and self._near_oid(text, start, oids):
                    # above the density floor whatever ``how`` says
                    found.append((Hit(start, end, "ins", 0.99, None, value), "", label))
                    continue
                # What :meth:`_how` says, the window read only where the confidence needs it.
                how: str | None = None
                if label:
                    how = _label_class("nir", label)
                    if how is None and table is not None:
                        how = "none"
                if how == "label":
                    conf = 0.95
                elif how == "decoy":
                    conf = 0.2
                elif self._structured_identity(text, start):
                    conf = 0.9
                else:
                    if how is None:
                        how = "window" if _KW["nir"].search(self._normed(text, start - 200, start)) else "none"
                    if how == "window":
                        conf = 0.85
                    elif _IDENTITY.search(self._normed(text, start - 120, end + 60)):
                        conf = 0.7
                    else:
                        conf = 0.4
                found.append((Hit(start, end, "nir", conf, None, value), how, label))
        dense = {lab for lab, col in shapes.items() if len(col) >= 3 and sum(col) >= 0.9 * len(col)}
        out = []
        for hit, how, label in found:
            if how != "decoy" and label in dense:
                hit.confidence = max(hit.confidence, 0.8)
            out.append(hit)
        return out

    def _near_oid(self, text: str, pos: int, oids: list[int]) -> bool:
        """An INS OID on the same line, or within two lines of a non-segment (XML, JSON) record."""
        for o in oids[bisect.bisect_right(oids, pos - 200) : bisect.bisect_left(oids, pos + 200)]:
            lo, hi = min(o, pos), max(o, pos)
            breaks = text.count("\n", lo, hi)
            if breaks == 0:
                return True
            if breaks <= 2 and not _SEGMENT.match(text, self._line_start(text, pos)):
                return True
        return False

    def _structured_identity(self, text: str, pos: int) -> bool:
        ls = self._line_start(text, pos)
        if text.startswith(("PID|", "P|"), ls):
            return True
        return _hprim_net_line(text, pos) in (7, 8)

    def _phones(self, text: str, table: Table | None) -> list[Hit]:
        out = []
        label_of = self._label
        for start, end in self._phone_spans(text):
            raw = text[start:end]
            # What :meth:`_context` says, the window read only where the confidence needs it.
            label = label_of(text, start, table)
            how: str | None = None
            if label:
                how = _label_class("phone_fr", label)
                if how is None and table is not None:
                    how = "none"
            if how == "label":
                conf = 0.95
            elif how == "decoy":
                conf = 0.15
            elif text.startswith(("PID|", "NK1|"), self._line_start(text, start)):
                conf = 0.9
            elif how is None and _KW["phone_fr"].search(self._normed(text, start - 60, start)):
                conf = 0.85
            else:
                # any of " .-+" (a "(0)" comes only after a "+")
                conf = 0.4 if raw.isdigit() else 0.7
            out.append(Hit(start, end, "phone_fr", conf, None, raw))  # masked by :func:`finish`
        return out

    def _emails(self, text: str, table: Table | None) -> list[Hit]:
        out = []
        label_of = self._label
        for start, end in _email_spans(text):
            value = text[start:end]
            local = value.split("@", 1)[0].lower()
            if _ROLE_RE.match(local) is not None:
                conf = 0.3  # whatever the context says
            else:
                label = label_of(text, start, table)
                how: str | None = None
                if label:
                    how = _label_class("email", label)
                    if how is None and table is not None:
                        how = "none"
                if how is None:
                    how = "window" if _KW["email"].search(self._normed(text, start - 60, start)) else "none"
                if how == "decoy":
                    conf = 0.3
                elif how in ("label", "window"):
                    conf = 0.9
                else:
                    conf = 0.75
            out.append(Hit(start, end, "email", conf, None, value))  # masked by :func:`finish`
        return out

    def _phone_matches(self, text: str) -> list[re.Match[str]]:
        """What ``PHONE_RE.finditer(text)`` gives, trying only the positions where one may start."""
        if self._raw is None:
            return list(PHONE_RE.finditer(text))
        out: list[re.Match[str]] = []
        last = 0
        n = len(text)
        match = PHONE_RE.match
        # A leading "a" stands for the start of the text, where the lookbehind sees nothing.
        for c in _PHONE_CAND.finditer(b"a" + self._raw.translate(_PHONE_START_T)):
            p = c.start()  # the "S" is at c.start() + 1 in the prefixed string: text position p
            if p < last:
                continue
            m = match(text, p, min(n, p + 40))
            if m is not None:
                out.append(m)
                last = m.end()
        return out

    def _phone_spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of what :meth:`_phone_matches` gives: the same candidate positions,
        each tried by :func:`_phone_end` (character tests) instead of ``PHONE_RE.match``."""
        if self._raw is None:
            return [(m.start(), m.end()) for m in PHONE_RE.finditer(text)]
        out: list[tuple[int, int]] = []
        last = 0
        n = len(text)
        # A leading "a" stands for the start of the text, where the lookbehind sees nothing; "aS"
        # cannot overlap itself, so ``find`` from the next byte gives what ``finditer`` gives.
        cls = b"a" + self._raw.translate(_PHONE_START_T)
        p = cls.find(b"aS")
        while p >= 0:  # the "S" is at p + 1 in the prefixed string: text position p
            if p >= last:
                e = _phone_end(text, p, min(n, p + 40))
                if e >= 0:
                    out.append((p, e))
                    last = e
            p = cls.find(b"aS", p + 1)
        return out

    def _loinc_matches(self, text: str) -> list[tuple[int, int]]:
        """The spans of ``LOINC_RE.finditer(text)``, trying only where a listed code ends in "-d"."""
        if self._raw is None:
            return [m.span() for m in LOINC_RE.finditer(text)]
        starts: list[int] = []
        for end in _loinc_ends(self._raw):
            for n in _LOINC_LENGTHS:
                if end >= n and text[end - n : end] in SENSITIVE_LOINC:
                    starts.append(end - n)
        out: list[tuple[int, int]] = []
        last = 0
        for p in sorted(starts):
            if p < last:
                continue
            end = _loinc_at(text, p)
            if end:
                out.append((p, end))
                last = end
        return out

    def _birth_dates(self, text: str, table: Table | None) -> list[Hit]:
        spans: dict[int, tuple[int, float]] = {}
        if self._may_hold(b"insert", text, "INSERT", "insert", tag="insert"):
            for a, b in _sql_column_values(text, _KW["birth_date"], self._sql_lines, self._inserts(text)):
                d = DATE_RE.match(text, a, b)
                if d is not None:
                    spans[a] = (d.end(), 0.9)
        for trig in self._word_matches(_BIRTH_WORDS, _BIRTH_GATE, "birth"):
            if table is not None and trig.start() < table.header_end:
                continue
            m = _date_search(text, trig.end(), min(len(text), trig.end() + 40))
            if m is not None:
                spans[m.start()] = (m.end(), 0.9)
        if table is not None:
            cols = [i for i, h in enumerate(table.header) if _KW["birth_date"].search(h)]
            for col in cols:
                # Lines whose cell ``col`` is exactly a date, between double quotes or not.
                for a, b in _column_cells(text, table.delim, col, table.header_end):
                    m = _CELL_DATE.fullmatch(text, a, b)
                    if m is not None:
                        s = m.start(1) + (1 if m.group(1) else 0)
                        spans[s] = (s + len(m.group(2)), 0.9)
        if self._may_hold(b"lab", text, "****LAB****", tag="hprim_net") or self._may_hold(
            b"fin", text, "****FIN****", tag="hprim_net"
        ):
            for m in DATE_RE.finditer(text, 0, min(len(text), 2000)):
                if _hprim_net_line(text, m.start()) == 7:
                    spans[m.start()] = (m.end(), 0.85)
        if self._may_hold(b"pid", text, "PID|", tag="pid"):
            for a, b in _segment_dates(text, "PID|"):
                spans[a] = (b, 0.9)
        if text.startswith("H|") or self._may_hold(b"p", text, "\nP|", tag="hprim_p"):
            for a, b in _segment_dates(text, "P|"):
                spans[a] = (b, 0.9)
        # masked by :func:`finish`
        return [Hit(s, e, "birth_date", conf, None, text[s:e]) for s, (e, conf) in spans.items()]

    def _blood(self, text: str, table: Table | None) -> list[Hit]:
        out: dict[int, Hit] = {}
        for trig in self._word_matches(_BLOOD_WORDS, _BLOOD_GATE, "blood"):
            if table is not None and trig.start() < table.header_end:
                continue
            m = BLOOD_RE.search(text, trig.end(), min(len(text), trig.end() + 48))
            if m is not None:
                out[m.start()] = Hit(m.start(), m.end(), "blood_group", 0.85, "**", m.group(0))
        if table is not None:
            for col in [i for i, h in enumerate(table.header) if _KW["blood_group"].search(h)]:
                for a, e in _column_cells(text, table.delim, col, table.header_end):
                    b = BLOOD_RE.search(text[a:e])
                    if b is not None:
                        s = a + b.start()
                        out[s] = Hit(s, s + len(b.group(0)), "blood_group", 0.85, "**", b.group(0))
        return list(out.values())

    def _vitale(self, text: str, table: Table | None) -> list[Hit]:
        out: list[Hit] = []
        if "vitale" not in self._low:
            return out
        for m in (m for a, b in _runs(self._raw, 20, _VITALE_CLASS, len(text)) for m in VITALE_RE.finditer(text, a, b)):
            how, _ = self._context(text, m.start(), m.end(), "vitale", table, window=80)
            if how in ("label", "window"):
                digits = m.group(0).replace(" ", "")  # a VITALE_RE match holds digits and spaces
                out.append(Hit(m.start(), m.end(), "vitale", 0.85, digits[:2] + "*" * 8, digits))
        return out

    def _loinc(self, text: str, table: Table | None) -> list[Hit]:
        out: list[Hit] = []
        seg = _HL7_SEG.match
        for start, end in self._loinc_matches(text):
            code = text[start:end]
            after = text[end : end + 48]
            if "^LN" in after or "~LN" in after or seg(text, self._line_start(text, start)):
                conf = 0.85
            else:
                how, _ = self._context(text, start, end, "loinc_sensitive", table, window=60)
                conf = 0.8 if how in ("label", "window") else 0.3
            out.append(Hit(start, end, "loinc_sensitive", conf, code, code, SENSITIVE_LOINC[code]))
        return out

    def _passwords(self, text: str, table: Table | None) -> list[Hit]:
        cands: list[tuple[int, int]] = []
        low = self._low
        if (self._tags is None or "password_word" in self._tags) and ("pass" in low or "mdp" in low or "pwd" in low):
            for w in _PW_START.finditer(low):
                m = _PW_TAIL.match(text, w.end())
                if m is not None:
                    g = 1 if m.group(1) is not None else 2 if m.group(2) is not None else 3
                    cands.append((m.start(g), m.end(g)))
        if self._may_hold(b"insert", text, "INSERT", "insert", tag="insert"):
            cands += _sql_column_values(text, _KW["portal_password"], self._sql_lines, self._inserts(text))
        if table is not None:
            for col in [i for i, h in enumerate(table.header) if _KW["portal_password"].search(h)]:
                for a, e in _column_cells(text, table.delim, col, table.header_end):
                    q = 1 if e - a >= 2 and text[a] == '"' and text[e - 1] == '"' else 0
                    cands.append((a + q, e - q))
        out = []
        # a table of patients (a header naming them): decided once, not for each value ("patient"
        # holds no tab, so it is in a cell exactly when it is in the cells joined by tabs)
        patients = table is not None and "patient" in "\t".join(table.header)
        for s, e in cands:
            value = text[s:e].strip()
            if not value or _PLACEHOLDER.match(value) or _HASHED.match(value) or _holds_any(value, "([{$%"):
                continue
            conf = 0.95 if patients or _PORTAL.search(self._normed(text, s - 200, s)) else 0.8
            out.append(Hit(s, e, "portal_password", conf, "********", value))
        return out

    def _clinical(self, text: str, hits: list[Hit], *, words: bool = True) -> list[Hit]:
        identity = sorted(h.start for h in hits if h.kind in IDENTITY_KINDS and h.confidence >= 0.5)
        any_identity = bool(identity)
        if not any_identity:
            for h in hits:
                # A sensitive test code says something about a person only where a person is named.
                if h.kind == "loinc_sensitive":
                    h.confidence = min(h.confidence, 0.3)
        out: list[Hit] = []
        if not words:
            return out
        n_identity = len(identity)
        ls = le = -1  # the line of the previous term: terms often share one
        same_line = False
        for m in self._word_matches(_CLIN_WORDS, _CLIN_GATE, "clinical"):
            start, end = m.span()
            term = text[start:end]
            if not ls <= start <= le:
                ls = text.rfind("\n", 0, start) + 1
                le = text.find("\n", start)
                if le < 0:
                    le = len(text)
                # an identity hit on the same line: one that starts between the line's start and end
                i = bisect.bisect_left(identity, ls)
                same_line = i < n_identity and identity[i] <= le
            if same_line:
                conf = 0.9
            elif any_identity:
                conf = 0.75
            else:
                conf = 0.35
            out.append(Hit(start, end, "clinical_term", conf, None, term))  # made by :func:`finish`
        return out
