"""The append-only, tamper-evident audit log.

An RFC 6962 Merkle tree over canonical-JSON entries, with checkpoints signed as C2SP notes
(:mod:`ecluse.crypto.note`). Entries hold ids and small facts, never patient values: a list of
processors checks each event before it is written. Format and checks: docs/audit.md.
"""

from __future__ import annotations

from ecluse.audit.checkpoint import Checkpoint
from ecluse.audit.log import CHECKPOINTS_FILE, LOG_FILE, AuditLog, Entry, VerifyReport
from ecluse.audit.merkle import (
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from ecluse.audit.processors import (
    DEFAULT_PROCESSORS,
    Processor,
    check_shapes,
    reject_patient_like_values,
    require_fields,
)

__all__ = [
    "CHECKPOINTS_FILE",
    "DEFAULT_PROCESSORS",
    "LOG_FILE",
    "AuditLog",
    "Checkpoint",
    "Entry",
    "Processor",
    "VerifyReport",
    "check_shapes",
    "leaf_hash",
    "node_hash",
    "reject_patient_like_values",
    "require_fields",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]
