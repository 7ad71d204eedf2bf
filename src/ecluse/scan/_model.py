"""Findings, limits and the report of a scan. Plain data, no I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = [
    "KINDS",
    "KIND_WEIGHT",
    "Finding",
    "ProtectedFile",
    "ScanLimits",
    "ScanReport",
    "Skipped",
]

#: Every kind a finding can have, with what it means (used by the docs, SARIF rules and the HTML report).
KINDS: dict[str, str] = {
    "nir": "French social-security number (NIR), key checked",
    "ins": "INS: a NIR or NIA next to an INS OID (1.2.250.1.213.1.4.8/.9/.10/.11)",
    "vitale": "Carte Vitale number (21 digits, keyword required)",
    "phone_fr": "French telephone number",
    "email": "Personal e-mail address",
    "birth_date": "Date of birth (a date labelled or placed as one)",
    "blood_group": "ABO/RhD blood group in context",
    "loinc_sensitive": "LOINC code of a sensitive test (HIV, hCG, blood group, PSA, hepatitis...)",
    "clinical_term": "Sensitive clinical term (HIV, cancer, genetic disease, pregnancy, treatment)",
    "portal_password": "Plaintext password field (patient portal or other)",
    "listed_term": "One of the terms given to the scanner (e.g. patient names)",
}

#: How much one finding of a kind weighs in a file's risk score.
KIND_WEIGHT: dict[str, float] = {
    "nir": 1.0,
    "ins": 1.0,
    "vitale": 1.0,
    "listed_term": 0.9,
    "portal_password": 0.9,
    "clinical_term": 0.6,
    "loinc_sensitive": 0.5,
    "blood_group": 0.5,
    "birth_date": 0.5,
    "phone_fr": 0.3,
    "email": 0.3,
}


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Bounds that keep a hostile or huge input from exhausting the machine."""

    max_depth: int = 4
    """Nesting of archives inside archives (a file on disk is depth 0)."""
    max_member_bytes: int = 256 * 1024 * 1024
    """Largest decompressed member held in memory."""
    max_archive_bytes: int = 1024 * 1024 * 1024
    """Total decompressed bytes read from one top-level archive."""
    max_ratio: float = 200.0
    """Largest decompressed/compressed ratio accepted for a member."""
    max_members: int = 100_000
    """Members read from one archive."""
    max_file_bytes: int = 64 * 1024 * 1024 * 1024
    """Files larger than this are skipped and reported."""
    chunk_bytes: int = 8 * 1024 * 1024
    """Text is scanned in chunks cut at line ends."""
    max_findings_per_kind: int = 1000
    """Detailed findings kept per file and kind (0: no cap). Past it, findings are only counted, by
    confidence, in ``ScanReport.omitted``: counts and risk stay exact, the report says it is
    truncated (as cloud DLP services' ``max_findings_per_item``). Not applied when findings are
    fingerprinted for a baseline, which needs every finding."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of health data found in plaintext. ``excerpt`` is masked: never the full value."""

    file: str
    kind: str
    confidence: float
    excerpt: str
    line: int | None = None
    column: int | None = None
    member: str | None = None
    """Path inside an archive (``a.tar!/b.zip!/c.csv``), a SQLite table (``table:patients``)..."""
    detail: str = ""
    fingerprint: str = ""
    """HMAC of the value under the baseline key: stable across runs, no value in clear."""

    @property
    def location(self) -> str:
        parts = []
        if self.member:
            parts.append(self.member)
        if self.line is not None:
            parts.append(f"{self.line}:{self.column or 1}")
        return " ".join(parts) if parts else "-"

    def __reduce__(self) -> tuple[type[Finding], tuple[object, ...]]:
        # Scan processes send their findings back pickled: the fields as one tuple, rebuilt by
        # ``__init__``, pickle about 5 times faster than a frozen dataclass's default state.
        return (
            Finding,
            (
                self.file,
                self.kind,
                self.confidence,
                self.excerpt,
                self.line,
                self.column,
                self.member,
                self.detail,
                self.fingerprint,
            ),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "member": self.member,
            "line": self.line,
            "column": self.column,
            "location": self.location,
            "kind": self.kind,
            "confidence": round(self.confidence, 3),
            "excerpt": self.excerpt,
            "detail": self.detail,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class ProtectedFile:
    """A file that is encrypted or opaque: no plaintext can be read, and that is good."""

    file: str
    reason: str
    member: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or member not scanned, and why (an archive bomb, a link, a limit, a read error)."""

    file: str
    reason: str
    member: str | None = None


@dataclass(slots=True)
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    protected_files: list[ProtectedFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    suppressed: int = 0
    """Findings dropped because they are in the baseline."""
    omitted: dict[str, dict[str, dict[float, int]]] = field(default_factory=dict)
    """Findings past ``ScanLimits.max_findings_per_kind``: file -> kind -> confidence -> count."""

    def omit(self, file: str, kind: str, confidence: float, n: int = 1) -> None:
        """Count ``n`` findings without listing them (past ``ScanLimits.max_findings_per_kind``)."""
        by_conf = self.omitted.setdefault(file, {}).setdefault(kind, {})
        by_conf[confidence] = by_conf.get(confidence, 0) + n

    @property
    def truncated(self) -> bool:
        """Whether some findings are counted but not listed."""
        return bool(self.omitted)

    def omitted_count(self, min_confidence: float = 0.0) -> int:
        return sum(
            n
            for kinds in self.omitted.values()
            for by_conf in kinds.values()
            for conf, n in by_conf.items()
            if conf >= min_confidence
        )

    def count(self, min_confidence: float = 0.0) -> int:
        """Every finding at or above ``min_confidence``, listed or omitted."""
        return sum(1 for f in self.findings if f.confidence >= min_confidence) + self.omitted_count(min_confidence)

    @property
    def risk_by_file(self) -> dict[str, float]:
        """Risk per file in [0, 1]: 1 - prod(1 - confidence x weight of the kind)."""
        remaining: dict[str, float] = {}
        for f in self.findings:
            keep = remaining.get(f.file, 1.0)
            remaining[f.file] = keep * (1.0 - f.confidence * KIND_WEIGHT.get(f.kind, 0.5))
        for name, kinds in self.omitted.items():
            keep = remaining.get(name, 1.0)
            for kind, by_conf in kinds.items():
                for conf, n in by_conf.items():
                    keep *= (1.0 - conf * KIND_WEIGHT.get(kind, 0.5)) ** n
            remaining[name] = keep
        return {name: round(1.0 - keep, 4) for name, keep in remaining.items()}

    def counts_by_kind(self, min_confidence: float = 0.0) -> dict[str, int]:
        """Findings per kind, omitted ones included: exact even when the list is truncated."""
        counts = Counter(f.kind for f in self.findings if f.confidence >= min_confidence)
        for kinds in self.omitted.values():
            for kind, by_conf in kinds.items():
                n = sum(c for conf, c in by_conf.items() if conf >= min_confidence)
                if n:
                    counts[kind] += n
        return dict(counts)

    def has_findings(self, min_confidence: float = 0.5) -> bool:
        return any(f.confidence >= min_confidence for f in self.findings) or self.omitted_count(min_confidence) > 0

    def merge(self, other: ScanReport) -> None:
        self.findings.extend(other.findings)
        self.files_scanned += other.files_scanned
        self.bytes_scanned += other.bytes_scanned
        self.protected_files.extend(other.protected_files)
        self.skipped.extend(other.skipped)
        self.suppressed += other.suppressed
        for name, kinds in other.omitted.items():
            for kind, by_conf in kinds.items():
                for conf, n in by_conf.items():
                    mine = self.omitted.setdefault(name, {}).setdefault(kind, {})
                    mine[conf] = mine.get(conf, 0) + n

    def to_dict(self) -> dict[str, object]:
        return {
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "findings": [f.to_dict() for f in self.findings],
            "counts_by_kind": self.counts_by_kind(),
            "risk_by_file": self.risk_by_file,
            "protected_files": [{"file": p.file, "member": p.member, "reason": p.reason} for p in self.protected_files],
            "skipped": [{"file": s.file, "member": s.member, "reason": s.reason} for s in self.skipped],
            "suppressed": self.suppressed,
            "findings_total": self.count(),
            "truncated": self.truncated,
            "omitted": [
                {"file": name, "kind": kind, "count": sum(by_conf.values())}
                for name, kinds in sorted(self.omitted.items())
                for kind, by_conf in sorted(kinds.items())
            ],
        }
