"""Render a :class:`ScanReport`: JSON, SARIF 2.1.0, a self-contained HTML page; and baselines.

Every renderer works from :class:`Finding` objects, whose excerpts are already masked: no
renderer ever sees a value in clear.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Iterable
from pathlib import Path

import orjson

from ecluse.errors import ScanError
from ecluse.scan._model import KINDS, Finding, ScanReport

__all__ = ["Baseline", "to_html", "to_json", "to_sarif"]

_TOOL_URI = "https://example.invalid/ecluse/docs/scan.md"


def to_json(report: ScanReport) -> bytes:
    return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)


def _level(conf: float) -> str:
    return "error" if conf >= 0.8 else "warning" if conf >= 0.5 else "note"


def to_sarif(report: ScanReport, *, version: str = "0.1.0") -> bytes:
    """SARIF 2.1.0, one rule per kind; archive members become a ``logicalLocation``."""
    rules = [
        {"id": kind, "name": kind, "shortDescription": {"text": text}, "helpUri": _TOOL_URI}
        for kind, text in KINDS.items()
    ]
    index = {kind: i for i, kind in enumerate(KINDS)}
    results = []
    for f in report.findings:
        loc: dict[str, object] = {
            "physicalLocation": {
                "artifactLocation": {"uri": Path(f.file).as_posix()},
                **(
                    {"region": {"startLine": f.line, "startColumn": f.column or 1}}
                    if f.line is not None and f.member is None
                    else {}
                ),
            }
        }
        if f.member:
            loc["logicalLocations"] = [
                {"fullyQualifiedName": f"{f.member}:{f.line or 0}:{f.column or 0}", "kind": "member"}
            ]
        result: dict[str, object] = {
            "ruleId": f.kind,
            "ruleIndex": index.get(f.kind, 0),
            "level": _level(f.confidence),
            "message": {"text": f"{KINDS.get(f.kind, f.kind)}: {f.excerpt}"},
            "locations": [loc],
            "properties": {"confidence": f.confidence, "detail": f.detail},
        }
        if f.fingerprint:
            result["partialFingerprints"] = {"ecluseValue/v1": f.fingerprint}
        results.append(result)
    run: dict[str, object] = {
        "tool": {"driver": {"name": "ecluse-scan", "version": version, "informationUri": _TOOL_URI, "rules": rules}},
        "results": results,
    }
    if report.truncated:
        run["properties"] = {
            "truncated": True,
            "findingsTotal": report.count(),
            "countsByKind": report.counts_by_kind(),
        }
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "warning",
                        "message": {"text": _truncation_note(report)},
                        "descriptor": {"id": "truncated"},
                    }
                ],
            }
        ]
    doc = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def _truncation_note(report: ScanReport) -> str:
    files = len(report.omitted)
    return (
        f"Findings truncated: {report.omitted_count()} findings in {files} file(s) are counted but not listed "
        f"(more than the per-file, per-kind limit); counts and risk scores include them."
    )


def to_html(report: ScanReport) -> str:
    """One page, no external resource, no script: safe to mail to a DPO."""
    e = html.escape
    risk = sorted(report.risk_by_file.items(), key=lambda kv: -kv[1])
    rows = "".join(
        f"<tr><td>{e(f.file)}</td><td>{e(f.location)}</td><td>{e(f.kind)}</td>"
        f"<td class=n>{f.confidence:.2f}</td><td><code>{e(f.excerpt)}</code></td><td>{e(f.detail)}</td></tr>"
        for f in report.findings
    )
    risk_rows = "".join(f"<tr><td>{e(name)}</td><td class=n>{score:.2f}</td></tr>" for name, score in risk)
    prot = "".join(
        f"<li>{e(p.file)}{' → ' + e(p.member) if p.member else ''}: {e(p.reason)}</li>" for p in report.protected_files
    )
    skipped = "".join(
        f"<li>{e(s.file)}{' → ' + e(s.member) if s.member else ''}: {e(s.reason)}</li>" for s in report.skipped
    )
    counts = ", ".join(f"{k}: {n}" for k, n in sorted(report.counts_by_kind().items())) or "none"
    truncated = f"<p class=warn><strong>{e(_truncation_note(report))}</strong></p>" if report.truncated else ""
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Écluse — residual data scan</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}.n{{text-align:right}}
code{{background:#f4f4f4}}</style></head><body>
<h1>Residual health-data scan</h1>
<p>{report.files_scanned} files, {report.bytes_scanned} bytes scanned; {report.count()} findings ({e(counts)});
{len(report.protected_files)} protected files; {len(report.skipped)} skipped; {report.suppressed} suppressed by
the baseline. Excerpts are masked.</p>{truncated}
<h2>Risk by file</h2><table><tr><th>file</th><th>risk</th></tr>{risk_rows}</table>
<h2>Findings</h2><table><tr><th>file</th><th>location</th><th>kind</th><th>confidence</th><th>excerpt</th>
<th>detail</th></tr>{rows}</table>
<h2>Protected (encrypted or opaque)</h2><ul>{prot}</ul>
<h2>Skipped</h2><ul>{skipped}</ul>
</body></html>
"""


class Baseline:
    """Accepted findings, by keyed fingerprint: HMAC-SHA256(key, kind, file, member, value).

    The file holds the key and the fingerprints, never a value. Whoever has the file can test a
    guessed value, so keep it with the same care as a scan report.
    """

    def __init__(self, key: bytes, fingerprints: Iterable[str] = ()) -> None:
        self.key = key
        self.fingerprints = set(fingerprints)

    @classmethod
    def new(cls) -> Baseline:
        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            doc = orjson.loads(path.read_bytes())
            return cls(bytes.fromhex(doc["key"]), doc["fingerprints"])
        except FileNotFoundError as exc:
            raise ScanError(f"baseline {path} does not exist", hint="Write one with --write-baseline.") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ScanError(f"baseline {path} is not a valid baseline file") from exc

    def save(self, path: Path, findings: Iterable[Finding]) -> None:
        prints = sorted(self.fingerprints | {f.fingerprint for f in findings if f.fingerprint})
        data = orjson.dumps({"version": 1, "key": self.key.hex(), "fingerprints": prints}, option=orjson.OPT_INDENT_2)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def apply(self, report: ScanReport) -> None:
        kept = [f for f in report.findings if f.fingerprint not in self.fingerprints]
        report.suppressed += len(report.findings) - len(kept)
        report.findings = kept
