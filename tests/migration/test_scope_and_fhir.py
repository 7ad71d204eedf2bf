"""What leaves is what the mandate allows, and every resource is valid FHIR R4 (issue 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from stdnum.fr import nir as stdnum_nir

from ecluse.migration.receive import receive_package

from .conftest import World

pytest.importorskip("fhir.resources")


@pytest.fixture
def received(world: World, tmp_path: Path) -> dict[str, list[dict]]:
    _, summary = world.exported()
    receive_package(summary.path, identities=[world.identity], sender_keys=world.pins(), target=tmp_path / "t")
    out: dict[str, list[dict]] = {}
    for f in (tmp_path / "t" / summary.package_id).glob("*.ndjson"):
        out.setdefault(f.name.split(".")[0], []).extend(orjson.loads(ln) for ln in f.open("rb"))
    return out


def test_every_exported_resource_validates_with_fhir_resources(received: dict[str, list[dict]]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    n = 0
    for rtype, resources in received.items():
        model = get_fhir_model_class(rtype)
        for res in resources:
            model.model_validate(res)
            n += 1
    assert n > 1000


def test_scope_sites_period_categories_free_text_and_fields(world: World,
                                                            received: dict[str, list[dict]]) -> None:
    sites = set(world.sites)
    for sr in received["ServiceRequest"]:
        assert sr["performer"][0]["identifier"]["value"] in sites
        assert "2019-01-01" <= sr["authoredOn"][:10] <= "2024-12-31"
        assert "note" not in sr
    for obs in received["Observation"]:
        cats = [e["valueCode"] for e in obs.get("extension", []) if e["url"].endswith("sensitive-category")]
        assert all(c in ("drug_monitoring", "pregnancy") for c in cats)
        assert "note" not in obs
    for p in received["Patient"]:
        assert "address" not in p and "telecom" not in p
        systems = {i["system"] for i in p["identifier"]}
        assert "urn:oid:1.2.250.1.213.1.4.8" not in systems  # the billing NIR is not in the scope
        assert not any(e["url"].endswith("/comment") for e in p.get("extension", []))
    assert any("name" in p for p in received["Patient"])
    assert any("birthDate" in p for p in received["Patient"])


def test_ins_and_identity_status_survive_exactly(world: World, received: dict[str, list[dict]]) -> None:
    conn = sqlite3.connect(world.source)
    legacy = {r[0]: r[1:] for r in conn.execute(
        "SELECT ipp, ins, ins_oid, identity_status, nir_owner FROM patients")}
    conn.close()
    checked = 0
    for p in received["Patient"]:
        ins, oid, status, owner = legacy[p["id"]]
        official = [i for i in p["identifier"] if i.get("use") == "official"]
        if ins is None:
            assert official == []
            continue
        assert official[0]["value"] == ins and official[0]["system"] == f"urn:oid:{oid}"
        assert stdnum_nir.is_valid(ins)
        got = [e for e in p.get("extension", []) if e["url"].endswith("fr-core-identity-reliability")]
        assert got[0]["extension"][0]["valueCoding"]["code"] == status
        assert owner != "insured"
        checked += 1
    assert checked > 50


def test_reference_integrity_inside_the_package(received: dict[str, list[dict]]) -> None:
    patients = {p["id"] for p in received["Patient"]}
    requests = {r["id"] for r in received["ServiceRequest"]}
    observations = {o["id"] for o in received["Observation"]}
    for o in received["Observation"]:
        assert o["subject"]["reference"][8:] in patients
        assert o["basedOn"][0]["reference"].split("/")[1] in requests
    for dr in received["DiagnosticReport"]:
        assert all(r["reference"].split("/")[1] in observations for r in dr["result"])
