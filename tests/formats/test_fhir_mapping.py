"""The FHIR mapping's pre-serialised parts parse back to exactly what plain dicts would give."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ecluse.formats import fhir
from ecluse.formats.records import Request, Result


@given(st.lists(st.text(max_size=12), max_size=8))
def test_result_references_fragment_equals_the_plain_list(ids: list[str]) -> None:
    got = orjson.loads(orjson.dumps({"r": fhir._result_refs(ids)}))["r"]
    assert got == [{"reference": "Observation/" + i} for i in ids]


@given(st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10), st.text(max_size=10))
def test_observation_with_shared_refs_equals_without(pid: str, rid: str, loinc: str) -> None:
    o = Result(id="1", request_id=rid, patient_id=pid, loinc=loinc or None, label="Sodium", value="140",
               unit="mmol/L", ref_low="135", ref_high="145", flag="N", status="F")
    with_refs = orjson.dumps(fhir.observation(o, fhir.observation_refs(pid, rid)))
    assert with_refs == orjson.dumps(fhir.observation(o))
    doc = orjson.loads(with_refs)
    assert doc["subject"] == {"reference": "Patient/" + pid}
    assert doc["basedOn"] == [{"reference": "ServiceRequest/" + rid}]
    assert doc["valueQuantity"]["value"] == 140


def test_diagnostic_report_lists_its_results() -> None:
    r = Request(id="D1", patient_id="IPP1", status="final")
    doc = orjson.loads(orjson.dumps(fhir.diagnostic_report(r, ["1", "2"])))
    assert doc["result"] == [{"reference": "Observation/1"}, {"reference": "Observation/2"}]
    assert doc["subject"] == {"reference": "Patient/IPP1"}
