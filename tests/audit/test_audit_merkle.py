"""RFC 6962 tree, proofs and verifiers: reference vectors, then every size up to 40."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecluse.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from ecluse.errors import AuditError, AuditIntegrityError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc6962.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(h)) for h in VECTORS["leaves_hex"]]
ROOTS = [bytes.fromhex(h) for h in VECTORS["roots_hex"]]
MAX = 40
BIG = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX)]


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written as directly as the RFC states it."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == VECTORS["empty_root_hex"]
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_rfc6962_reference_tree(size: int) -> None:
    assert root_from_leaves(LEAVES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}@{c['size']}")
def test_inclusion_proofs_match_the_reference(case: dict[str, object]) -> None:
    index, size = case["index"], case["size"]
    assert isinstance(index, int) and isinstance(size, int)
    want = [bytes.fromhex(h) for h in case["proof_hex"]]  # type: ignore[attr-defined]
    assert inclusion_proof(LEAVES, index, size) == want
    verify_inclusion(LEAVES[index], index, size, want, ROOTS[size - 1])


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-{c['new_size']}")
def test_consistency_proofs_match_the_reference(case: dict[str, object]) -> None:
    old, new = case["old_size"], case["new_size"]
    assert isinstance(old, int) and isinstance(new, int)
    want = [bytes.fromhex(h) for h in case["proof_hex"]]  # type: ignore[attr-defined]
    assert consistency_proof(LEAVES, old, new) == want
    verify_consistency(old, new, want, ROOTS[old - 1], ROOTS[new - 1])


def test_frontier_root_equals_the_rfc_definition_for_every_size() -> None:
    frontier = Frontier()
    for n in range(1, MAX + 1):
        frontier.append(BIG[n - 1])
        assert frontier.size == n
        assert frontier.root() == reference_mth(BIG[:n])


def test_every_inclusion_proof_up_to_40_verifies_and_a_flipped_bit_fails() -> None:
    for size in range(1, MAX + 1):
        root = reference_mth(BIG[:size])
        for index in range(size):
            proof = inclusion_proof(BIG, index, size)
            verify_inclusion(BIG[index], index, size, proof, root)
            with pytest.raises(AuditIntegrityError):
                verify_inclusion(BIG[index], index, size, proof, EMPTY_ROOT)
            if size > 1:
                with pytest.raises(AuditIntegrityError):
                    verify_inclusion(BIG[(index + 1) % size], index, size, proof, root)
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
                with pytest.raises(AuditIntegrityError):
                    verify_inclusion(BIG[index], index, size, bad, root)
            with pytest.raises(AuditIntegrityError):
                verify_inclusion(BIG[index], index, size, [*proof, root], root)
            if proof:
                with pytest.raises(AuditIntegrityError):
                    verify_inclusion(BIG[index], index, size, proof[:-1], root)


def test_every_consistency_proof_up_to_40_verifies_and_tampering_fails() -> None:
    roots = [EMPTY_ROOT] + [reference_mth(BIG[:n]) for n in range(1, MAX + 1)]
    for new in range(0, MAX + 1):
        for old in range(0, new + 1):
            proof = consistency_proof(BIG, old, new)
            verify_consistency(old, new, proof, roots[old], roots[new])
            if old in (0, new):
                assert proof == []
                continue
            with pytest.raises(AuditIntegrityError):
                verify_consistency(old, new, proof, roots[old - 1] if old > 1 else BIG[1], roots[new])
            with pytest.raises(AuditIntegrityError):
                verify_consistency(old, new, proof, roots[old], roots[new - 1])
            with pytest.raises(AuditIntegrityError):
                verify_consistency(old, new, proof[:-1], roots[old], roots[new])
            with pytest.raises(AuditIntegrityError):
                verify_consistency(old, new, [*proof, roots[new]], roots[old], roots[new])
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
                with pytest.raises(AuditIntegrityError):
                    verify_consistency(old, new, bad, roots[old], roots[new])


def test_equal_sizes_with_different_roots_are_inconsistent() -> None:
    with pytest.raises(AuditIntegrityError):
        verify_consistency(3, 3, [], ROOTS[2], ROOTS[3])


def test_proof_arguments_out_of_range_raise_audit_error() -> None:
    with pytest.raises(AuditError):
        inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(AuditError):
        inclusion_proof(LEAVES, 0, 9)
    with pytest.raises(AuditError):
        consistency_proof(LEAVES, 5, 4)
    with pytest.raises(AuditIntegrityError):
        verify_inclusion(LEAVES[0], 3, 3, [], ROOTS[2])
    with pytest.raises(AuditIntegrityError):
        verify_inclusion(b"short", 0, 1, [], ROOTS[0])
