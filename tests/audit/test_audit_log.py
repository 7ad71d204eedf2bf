"""The audit log end to end: round trips, proofs, and every kind of tampering verify must catch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecluse.audit import (
    CHECKPOINTS_FILE,
    LOG_FILE,
    AuditLog,
    Checkpoint,
    verify_consistency,
    verify_inclusion,
)
from ecluse.crypto.note import NoteSigner
from ecluse.errors import AuditError, AuditIntegrityError

ORIGIN = "ecluse.example/workspace-1"
SIGNER = NoteSigner.generate(ORIGIN)
VERIFIER = SIGNER.verifier()
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fill(log: AuditLog, clock: Clock, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append(
            actor="alice@lab.example" if i % 2 else "system",
            action="package.export",
            objects={"migration": "mig-1", "package": f"pkg-{i}"},
            details={"records": i, "dry_run": False},
            now=clock(),
        )


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> Iterator[AuditLog]:
    audit = AuditLog.open(tmp_path / "audit", SIGNER, origin=ORIGIN)
    fill(audit, clock, 10)
    audit.checkpoint(now=clock())
    fill(audit, clock, 10, start=10)
    audit.checkpoint(now=clock())
    fill(audit, clock, 3, start=20)
    yield audit


def lines(log: AuditLog, name: str = LOG_FILE) -> list[bytes]:
    return (log.directory / name).read_bytes().splitlines()


def write(log: AuditLog, new_lines: list[bytes], name: str = LOG_FILE) -> None:
    (log.directory / name).write_bytes(b"".join(line + b"\n" for line in new_lines))


def edit_entry(line: bytes, **changes: object) -> bytes:
    obj = orjson.loads(line)
    obj.update(changes)
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def reverify(log: AuditLog, **kwargs: object) -> None:
    AuditLog.open(log.directory, SIGNER, origin=ORIGIN).verify(VERIFIER, **kwargs)  # type: ignore[arg-type]


# -- round trip -------------------------------------------------------------------------------------


def test_append_and_verify_round_trip(log: AuditLog) -> None:
    report = log.verify(VERIFIER)
    assert (report.entries, report.checkpoints, report.last_checkpoint_size) == (23, 2, 20)
    assert report.unsigned_entries == 3
    assert report.root_hex == log.root().hex()


def test_entries_read_back_as_written(log: AuditLog) -> None:
    entries = list(log.entries())
    assert [e.index for e in entries] == list(range(23))
    assert entries[3].actor == "alice@lab.example"
    assert entries[3].objects == {"migration": "mig-1", "package": "pkg-3"}
    assert entries[3].details == {"records": 3, "dry_run": False}
    assert entries[0].time == T0 + timedelta(seconds=1)
    assert [e.index for e in log.entries(5, 8)] == [5, 6, 7]


def test_lines_are_canonical_json(log: AuditLog) -> None:
    for line in lines(log):
        assert orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS) == line
        assert b" " not in line.replace(b"alice@lab.example", b"")


def test_reopening_restores_size_and_root(log: AuditLog) -> None:
    again = AuditLog.open(log.directory, SIGNER, origin=ORIGIN)
    assert (again.size(), again.root()) == (log.size(), log.root())
    assert again.checkpoints() == log.checkpoints()


def test_checkpoint_is_a_c2sp_note_over_origin_size_and_root(log: AuditLog, clock: Clock) -> None:
    cp = log.checkpoint(now=clock())
    body = cp.note.split("\n\n")[0]
    origin, size, _root_b64 = body.split("\n")
    assert (origin, int(size), cp.size, cp.root_hex) == (ORIGIN, 23, 23, log.root().hex())
    assert cp.note.endswith("\n") and "\n\n\u2014 " + ORIGIN + " " in cp.note
    assert Checkpoint.from_note(cp.note, VERIFIER).root_hex == cp.root_hex
    assert log.checkpoints()[-1] == cp


def test_empty_log_verifies_and_can_be_checkpointed(tmp_path: Path, clock: Clock) -> None:
    audit = AuditLog.open(tmp_path / "new", SIGNER, origin=ORIGIN)
    cp = audit.checkpoint(now=clock())
    assert cp.size == 0
    assert audit.verify(VERIFIER, witness=cp).entries == 0


def test_proofs_from_the_log_verify_against_its_checkpoints(log: AuditLog) -> None:
    first, second = log.checkpoints()
    entries = list(log.entries())
    for index in range(second.size):
        proof = log.inclusion_proof(index, second.size)
        verify_inclusion(entries[index].leaf_hash(), index, second.size, proof, second.root)
    proof = log.consistency_proof(first.size, second.size)
    verify_consistency(first.size, second.size, proof, first.root, second.root)


def test_naive_time_is_refused(log: AuditLog) -> None:
    with pytest.raises(AuditError, match="naive"):
        log.append(actor="system", action="audit.test", now=datetime(2025, 1, 1))


def test_a_rejected_append_writes_nothing_and_never_echoes_the_value(log: AuditLog, clock: Clock) -> None:
    before = (log.directory / LOG_FILE).read_bytes()
    nir = "2 85 05 78 006 084 36"
    with pytest.raises(AuditError) as info:
        log.append(actor="system", action="record.view", details={"patient": nir}, now=clock())
    assert nir not in str(info.value) and nir not in (info.value.hint or "")
    after = (log.directory / LOG_FILE).read_bytes()
    assert after == before and nir.encode() not in after
    assert log.size() == 23
    log.verify(VERIFIER)


def test_a_second_writer_is_detected(log: AuditLog, clock: Clock) -> None:
    other = AuditLog.open(log.directory, SIGNER, origin=ORIGIN)
    other.append(actor="system", action="audit.test", now=clock())
    with pytest.raises(AuditError, match="changed on disk"):
        log.append(actor="system", action="audit.test", now=clock())


# -- tampering: log.jsonl -----------------------------------------------------------------------------


def test_editing_a_field_in_a_middle_line_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows[14] = edit_entry(rows[14], actor="mallory@lab.example")
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 1 .*between index 10 and 19") as info:
        reverify(log)
    assert "restore the log from backup" in (info.value.hint or "")


def test_a_non_canonical_edit_names_the_entry(log: AuditLog) -> None:
    rows = lines(log)
    rows[4] = rows[4].replace(b'"action":', b'"action": ')
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="entry 4 is not in canonical form"):
        reverify(log)


def test_deleting_a_line_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    del rows[7]
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="line 8 holds index 8, expected 7"):
        reverify(log)


def test_deleting_a_line_and_renumbering_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    del rows[7]
    rows = [edit_entry(row, index=i) for i, row in enumerate(rows)]
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 0 .*between index 0 and 9"):
        reverify(log)


def test_inserting_a_line_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows.insert(12, edit_entry(rows[12], action="package.delete"))
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="line 14 holds index 12, expected 13"):
        reverify(log)


def test_swapping_two_lines_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows[2], rows[3] = rows[3], rows[2]
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="expected 2"):
        reverify(log)


def test_swapping_two_lines_and_their_indices_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows[2], rows[3] = edit_entry(rows[3], index=2), edit_entry(rows[2], index=3)
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="checkpoint 0"):
        reverify(log)


def test_truncating_the_tail_behind_the_last_checkpoint_is_detected(log: AuditLog) -> None:
    write(log, lines(log)[:18])
    with pytest.raises(AuditIntegrityError, match="covers 20 entries but the log holds 18"):
        reverify(log)


def test_a_line_that_is_not_json_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows[5] = rows[5][:-3]
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="line 6 is not valid JSON"):
        reverify(log)


def test_a_blank_line_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows.insert(5, b"")
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="line 6 is not valid JSON"):
        reverify(log)


def test_an_entry_with_wrong_fields_is_detected(log: AuditLog) -> None:
    rows = lines(log)
    rows[5] = edit_entry(rows[5], extra="x")
    write(log, rows)
    with pytest.raises(AuditIntegrityError, match="line 6 is not a well-formed entry"):
        reverify(log)


def test_an_incomplete_last_line_is_detected_and_blocks_opening(log: AuditLog) -> None:
    path = log.directory / LOG_FILE
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(AuditIntegrityError, match="line 23 is incomplete"):
        AuditLog.open(log.directory, SIGNER, origin=ORIGIN)


def test_checkpoint_refuses_to_bless_a_tampered_log(log: AuditLog, clock: Clock) -> None:
    rows = lines(log)
    rows[1] = edit_entry(rows[1], actor="mallory@lab.example")
    write(log, rows)
    tampered = AuditLog.open(log.directory, SIGNER, origin=ORIGIN)
    with pytest.raises(AuditIntegrityError, match="no longer extends its last checkpoint"):
        tampered.checkpoint(now=clock())


# -- tampering: rewriting history with the key, caught by a witness ---------------------------------


def test_a_rewrite_with_new_checkpoints_is_caught_by_an_earlier_witness(log: AuditLog, clock: Clock) -> None:
    witness = log.checkpoints()[-1]  # the controller kept this one (size 20)
    witness_text = witness.note
    # Someone holding the key truncates to 15 entries, drops the checkpoints, re-appends and re-signs.
    write(log, lines(log)[:15])
    write(log, [], CHECKPOINTS_FILE)
    rewritten = AuditLog.open(log.directory, SIGNER, origin=ORIGIN)
    fill(rewritten, clock, 10, start=100)
    rewritten.checkpoint(now=clock())
    assert rewritten.verify(VERIFIER).entries == 25  # internally consistent
    with pytest.raises(AuditIntegrityError, match=r"not consistent with the witness checkpoint \(size 20\)"):
        rewritten.verify(VERIFIER, witness=witness_text)
    with pytest.raises(AuditIntegrityError, match="witness"):
        rewritten.verify(VERIFIER, witness=witness)


def test_truncation_below_a_witness_is_caught(log: AuditLog) -> None:
    witness = log.checkpoints()[-1].note
    write(log, lines(log)[:12])
    write(log, lines(log, CHECKPOINTS_FILE)[:1], CHECKPOINTS_FILE)
    with pytest.raises(AuditIntegrityError, match="truncated after the witness"):
        reverify(log, witness=witness)


def test_an_honest_log_extends_its_witness(log: AuditLog, clock: Clock) -> None:
    witness = log.checkpoints()[0]
    fill(log, clock, 40, start=23)
    report = log.verify(VERIFIER, witness=witness.note)
    assert report.witness_size == 10


def test_a_witness_from_another_key_or_origin_is_refused(log: AuditLog, clock: Clock, tmp_path: Path) -> None:
    other = AuditLog.open(tmp_path / "other", NoteSigner.generate(ORIGIN), origin=ORIGIN)
    foreign = other.checkpoint(now=clock())
    with pytest.raises(AuditIntegrityError, match="not validly signed"):
        log.verify(VERIFIER, witness=foreign)
    elsewhere = AuditLog.open(tmp_path / "elsewhere", SIGNER, origin="ecluse.example/other")
    with pytest.raises(AuditIntegrityError, match="is for log"):
        log.verify(VERIFIER, witness=elsewhere.checkpoint(now=clock()))


# -- tampering: checkpoints.jsonl -------------------------------------------------------------------


def edit_checkpoint(log: AuditLog, number: int, **changes: object) -> None:
    rows = lines(log, CHECKPOINTS_FILE)
    rows[number] = edit_entry(rows[number], **changes)
    write(log, rows, CHECKPOINTS_FILE)


def test_editing_a_checkpoint_size_is_detected(log: AuditLog) -> None:
    edit_checkpoint(log, 0, size=9)
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 0 .*size or root was edited"):
        reverify(log)


def test_editing_a_checkpoint_root_is_detected(log: AuditLog) -> None:
    edit_checkpoint(log, 1, root="00" * 32)
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 1 .*size or root was edited"):
        reverify(log)


def test_editing_a_checkpoint_note_is_detected(log: AuditLog) -> None:
    record = orjson.loads(lines(log, CHECKPOINTS_FILE)[0])
    edit_checkpoint(log, 0, note=record["note"].replace("\n10\n", "\n11\n", 1), size=11)
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 0 .*not validly signed"):
        reverify(log)


def test_reordering_checkpoints_is_detected(log: AuditLog) -> None:
    rows = lines(log, CHECKPOINTS_FILE)
    write(log, rows[::-1], CHECKPOINTS_FILE)
    with pytest.raises(AuditIntegrityError, match="older or smaller"):
        reverify(log)


def test_a_checkpoint_line_that_is_not_json_is_detected(log: AuditLog) -> None:
    rows = lines(log, CHECKPOINTS_FILE)
    rows[1] = rows[1][1:]
    write(log, rows, CHECKPOINTS_FILE)
    with pytest.raises(AuditIntegrityError, match=r"checkpoint 1 .*not valid JSON"):
        reverify(log)


def test_verifying_with_the_wrong_key_fails(log: AuditLog) -> None:
    with pytest.raises(AuditIntegrityError, match="not validly signed"):
        log.verify(NoteSigner.generate(ORIGIN).verifier())


# -- property: any byte changed in a checkpointed log is detected -------------------------------------


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    directory = tmp_path_factory.mktemp("sealed")
    audit = AuditLog.open(directory, SIGNER, origin=ORIGIN)
    fill(audit, Clock(), 7)
    audit.checkpoint(now=T0 + timedelta(hours=1))
    return directory, (directory / LOG_FILE).read_bytes(), (directory / CHECKPOINTS_FILE).read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_in_a_checkpointed_log_is_detected(
    sealed: tuple[Path, bytes, bytes], data: st.DataObject
) -> None:
    directory, original, checkpoints = sealed
    position = data.draw(st.integers(0, len(original) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    (directory / LOG_FILE).write_bytes(original[:position] + bytes([replacement]) + original[position + 1 :])
    try:
        with pytest.raises(AuditIntegrityError):
            AuditLog.open(directory, SIGNER, origin=ORIGIN).verify(VERIFIER)
    finally:
        (directory / LOG_FILE).write_bytes(original)
        (directory / CHECKPOINTS_FILE).write_bytes(checkpoints)
