"""RFC 6962 / RFC 9162 Merkle tree hashes, proofs and proof verification.

- leaf hash ``SHA-256(0x00 || entry)``, node hash ``SHA-256(0x01 || left || right)``;
- the tree head of ``n`` leaves is the RFC's MTH: split at the largest power of two below ``n``;
- :class:`Frontier` keeps the right edge of the tree (one hash per set bit of the size), so an append
  costs O(log n) amortised and the root is a fold over at most log2(n) hashes;
- proofs follow RFC 6962 §2.1.1 (PATH) and §2.1.2 (SUBPROOF); the verifiers follow RFC 9162
  §2.1.3.2 and §2.1.4.2 and raise :class:`AuditIntegrityError`, never return a bool.

Functions here work on leaf *hashes*, so callers hash their entries once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from ecluse.errors import AuditError, AuditIntegrityError

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The right edge of an append-only tree: the roots of its perfect subtrees, left to right."""

    __slots__ = ("_nodes", "size")

    def __init__(self) -> None:
        self.size = 0
        self._nodes: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        node = leaf
        size = self.size
        # Each trailing 1 bit of the old size is a perfect subtree that the new leaf completes.
        while size & 1:
            node = node_hash(self._nodes.pop(), node)
            size >>= 1
        self._nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._nodes:
            return EMPTY_ROOT
        node = self._nodes[-1]
        for left in reversed(self._nodes[:-1]):
            node = node_hash(left, node)
        return node


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, computed with a :class:`Frontier` (O(n), iterative)."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _mth(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaves[start]
    k = _split(end - start)
    return node_hash(_mth(leaves, start, start + k), _mth(leaves, start + k, end))


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size]) over leaf hashes."""
    if not 0 <= index < size <= len(leaves):
        raise AuditError(
            f"no inclusion proof for index {index} in a tree of size {size}",
            hint="the index must be below the size, and the size at most the log's size",
        )
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(_mth(leaves, start + k, end))
            end = start + k
        else:
            path.append(_mth(leaves, start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """RFC 6962 PROOF(old_size, D[0:new_size]) over leaf hashes; empty when a size is 0 or equal."""
    if not 0 <= old_size <= new_size <= len(leaves):
        raise AuditError(
            f"no consistency proof from size {old_size} to size {new_size}",
            hint="the old size must be at most the new size, and both at most the log's size",
        )
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(_mth(leaves, start + k, end))
            end = start + k
        else:
            path.append(_mth(leaves, start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append(_mth(leaves, start, end))
    path.reverse()
    return path


def _fail(message: str) -> AuditIntegrityError:
    return AuditIntegrityError(
        message, hint="the log or the proof was altered; restore the log from backup and report an incident"
    )


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise _fail("a hash in the proof is not 32 bytes")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2. Raises :class:`AuditIntegrityError` unless the proof holds."""
    _check_hashes(leaf, root, *proof)
    if not 0 <= index < size:
        raise _fail(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise _fail("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail("the inclusion proof is too short")
    if not hmac.compare_digest(r, root):
        raise _fail(f"entry {index} is not included in the tree of size {size} with this root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2. Raises :class:`AuditIntegrityError` unless the proof holds."""
    _check_hashes(old_root, new_root, *proof)
    if not 0 <= old_size <= new_size:
        raise _fail(f"size {old_size} cannot be a prefix of size {new_size}")
    if old_size == new_size:
        if proof:
            raise _fail("a consistency proof between equal sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise _fail(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise _fail("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise _fail("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _fail("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail("the consistency proof is too short")
    if not (hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)):
        raise _fail(f"the tree of size {new_size} does not extend the tree of size {old_size}")
