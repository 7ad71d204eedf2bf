"""Cryptographic recipes: the age v1 file format and minisign-compatible signatures.

Everything else in Écluse calls these recipes; nothing else touches primitives, which come
from ``cryptography`` and ``hashlib``. See ``docs/crypto.md``.
"""

from __future__ import annotations

from ecluse.crypto import age, minisign

__all__ = ["age", "minisign"]
