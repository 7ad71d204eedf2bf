"""Residual health-data scanner: find plaintext patient data left on a server, and help remove it.

Detectors (NIR, INS, carte Vitale, phones, e-mails, birth dates, blood groups, sensitive LOINC
codes, a French clinical lexicon, password fields, and terms given by the caller) run over text
extracted from files, archives, SQLite databases, office files and PDFs. Findings carry a masked
excerpt only.
"""

from ecluse.scan._engine import scan_paths
from ecluse.scan._model import KINDS, Finding, ProtectedFile, ScanLimits, ScanReport, Skipped
from ecluse.scan._prefilter import default_cache_dir

__all__ = [
    "KINDS", "Finding", "ProtectedFile", "ScanLimits", "ScanReport", "Skipped", "default_cache_dir", "scan_paths",
]
