"""FHIR R4 mapping of the internal records, and FHIR Bulk Data NDJSON.

Records become plain dicts (fast to serialise with orjson); the reverse mapping reads
dicts back into records, so that a package can be imported into a database. Identifier
systems follow FR Core (formats.md §3): INS in ``urn:oid:<INS OID>`` with the
``fr-core-cs-v2-0203`` type, the identity status in the ``fr-core-identity-reliability``
extension, the billing NIR (``nir_owner="insured"``) in the ``NSS`` slice (never an INS).

Each request gives three resources: ``ServiceRequest/<id>``, ``Specimen/<id>`` and
``DiagnosticReport/<id>``; each result gives ``Observation/<id>``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

import orjson

from ecluse.errors import FormatError
from ecluse.formats.records import INS_OIDS, Patient, Request, Result

__all__ = [
    "RESOURCE_TYPES",
    "diagnostic_report",
    "observation",
    "observation_refs",
    "parse_ndjson_line",
    "patient",
    "records_from_resources",
    "service_request",
    "specimen",
    "validate_resource",
]

#: Resource types of a lab package, in the order they are written and imported.
RESOURCE_TYPES: Final[tuple[str, ...]] = (
    "Patient",
    "ServiceRequest",
    "Specimen",
    "Observation",
    "DiagnosticReport",
)

IPP_SYSTEM: Final = "urn:oid:1.2.250.1.999.1.1"
NSS_SYSTEM: Final = "urn:oid:1.2.250.1.213.1.4.8"
FINESS_SYSTEM: Final = "https://finess.esante.gouv.fr"
RPPS_SYSTEM: Final = "https://rpps.esante.gouv.fr"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
REQ_SYSTEM: Final = "urn:oid:1.2.250.1.999.1.2"
_V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
_FR_0203: Final = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
_RELIABILITY: Final = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
_FR_0445: Final = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445"
_BIRTHPLACE: Final = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
_BLOOD: Final = "https://ecluse.example/fhir/StructureDefinition/blood-group"
_COMMENT: Final = "https://ecluse.example/fhir/StructureDefinition/comment"
_NIR_OWNER: Final = "https://ecluse.example/fhir/StructureDefinition/nir-owner"
_CATEGORY: Final = "https://ecluse.example/fhir/StructureDefinition/sensitive-category"
_V2_0487: Final = "http://terminology.hl7.org/CodeSystem/v2-0487"
_INTERP: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_OBS_CAT: Final = [
    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
]
_DR_CAT: Final = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}]
_DR_CODE: Final = {"coding": [{"system": LOINC, "code": "11502-2"}], "text": "Compte rendu de biologie"}
_SR_CODE: Final = {"coding": [{"system": LOINC, "code": "26436-6"}], "text": "Examens de laboratoire"}
#: Constant parts, pre-serialised once: orjson copies a Fragment's bytes instead of walking
#: nested dicts for each of millions of resources. The resource dicts these functions return
#: are meant for ``orjson.dumps``.
_F = orjson.Fragment
_OBS_CAT_F: Final = _F(orjson.dumps(_OBS_CAT))
_DR_CAT_F: Final = _F(orjson.dumps(_DR_CAT))
_DR_CODE_F: Final = _F(orjson.dumps(_DR_CODE))
_SR_CODE_F: Final = _F(orjson.dumps(_SR_CODE))
_FILL_F: Final = _F(orjson.dumps({"coding": [{"system": _V2_0203, "code": "FILL"}]}))
_GENDER: Final = {"M": "male", "F": "female", "U": "unknown"}
_SEX: Final = {v: k for k, v in _GENDER.items()}
_OBS_STATUS: Final = {"F": "final", "P": "preliminary", "C": "corrected", "R": "preliminary",
                      "I": "registered", "X": "cancelled", "D": "entered-in-error"}
_V2_STATUS: Final = {"final": "F", "preliminary": "P", "corrected": "C", "registered": "I",
                     "cancelled": "X", "entered-in-error": "D"}
_DR_STATUS: Final = {"final": "final", "partial": "partial", "corrected": "corrected"}


_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _numtext(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def patient(p: Patient) -> dict[str, Any]:
    """A :class:`Patient` as a FHIR R4 Patient (FR Core identifiers)."""
    ident: list[dict[str, Any]] = [
        {"use": "usual", "type": {"coding": [{"system": _V2_0203, "code": "PI"}]},
         "system": IPP_SYSTEM, "value": p.id}
    ]
    if p.ins and p.ins_oid:
        ident.append({"use": "official",
                      "type": {"coding": [{"system": _FR_0203, "code": INS_OIDS.get(p.ins_oid, "INS-NIR")}]},
                      "system": "urn:oid:" + p.ins_oid, "value": p.ins})
    if p.nir and p.nir != p.ins:
        nss: dict[str, Any] = {"use": "secondary", "type": {"coding": [{"system": _V2_0203, "code": "NH"}]},
                               "system": NSS_SYSTEM, "value": p.nir}
        if p.nir_owner:
            nss["extension"] = [{"url": _NIR_OWNER, "valueCode": p.nir_owner}]
        ident.append(nss)
    elif p.nir and p.nir_owner:
        # the INS is the patient's own NIR: say whose it is on the INS identifier
        ident[-1]["extension"] = [{"url": _NIR_OWNER, "valueCode": p.nir_owner}]
    res: dict[str, Any] = {"resourceType": "Patient", "id": p.id, "identifier": ident}
    ext: list[dict[str, Any]] = []
    if p.identity_status:
        ext.append({"url": _RELIABILITY, "extension": [
            {"url": "identityStatus", "valueCoding": {"system": _FR_0445, "code": p.identity_status}}]})
    if p.birth_place:
        ext.append({"url": _BIRTHPLACE, "valueAddress": {"district": p.birth_place}})
    if p.blood_group:
        ext.append({"url": _BLOOD, "valueString": p.blood_group})
    if p.comment:
        ext.append({"url": _COMMENT, "valueString": p.comment})
    if ext:
        res["extension"] = ext
    names: list[dict[str, Any]] = []
    if p.birth_name or p.given_names:
        n: dict[str, Any] = {"use": "official"}
        if p.birth_name:
            n["family"] = p.birth_name
        if p.given_names:
            n["given"] = p.given_names.split(" ")
        names.append(n)
    if p.used_name:
        names.append({"use": "usual", "family": p.used_name})
    if names:
        res["name"] = names
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    if telecom:
        res["telecom"] = telecom
    if p.sex:
        res["gender"] = _GENDER.get(p.sex, "unknown")
    if p.birth_date:
        res["birthDate"] = p.birth_date
    if p.address or p.postcode or p.city:
        addr: dict[str, Any] = {"use": "home"}
        if p.address:
            addr["line"] = [p.address]
        if p.city:
            addr["city"] = p.city
        if p.postcode:
            addr["postalCode"] = p.postcode
        res["address"] = [addr]
    return res


def _ref(kind: str, ident: str) -> dict[str, str]:
    return {"reference": f"{kind}/{ident}"}


@functools.lru_cache(maxsize=8)
def _subject(patient_id: str) -> orjson.Fragment:
    """``{"reference": "Patient/<id>"}``, serialised; resources come grouped by patient."""
    return _F(orjson.dumps({"reference": "Patient/" + patient_id}))


def service_request(r: Request) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": r.id,
        "identifier": [{"type": _FILL_F, "system": REQ_SYSTEM, "value": r.id}],
        "status": "completed", "intent": "order", "code": _SR_CODE_F,
        "subject": _subject(r.patient_id),
    }
    if r.collected_at:
        res["authoredOn"] = r.collected_at
    if r.prescriber_rpps:
        res["requester"] = _requester(r.prescriber_rpps)
    if r.site_finess:
        res["performer"] = _performer(r.site_finess)
    if r.comment:
        res["note"] = [{"text": r.comment}]
    return res


def specimen(r: Request) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Specimen", "id": r.id,
        "accessionIdentifier": {"system": REQ_SYSTEM, "value": r.id},
        "subject": _subject(r.patient_id),
        "request": [_ref("ServiceRequest", r.id)],
    }
    if r.specimen_type:
        res["type"] = _specimen_type(r.specimen_type)
    if r.received_at:
        res["receivedTime"] = r.received_at
    if r.collected_at:
        res["collection"] = {"collectedDateTime": r.collected_at}
    return res


def diagnostic_report(r: Request, result_ids: Iterable[str]) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": r.id,
        "basedOn": [_ref("ServiceRequest", r.id)],
        "status": _DR_STATUS.get(r.status or "final", "final"),
        "category": _DR_CAT_F, "code": _DR_CODE_F,
        "subject": _subject(r.patient_id),
        "specimen": [_ref("Specimen", r.id)],
        "result": _result_refs(result_ids),
    }
    if r.collected_at:
        res["effectiveDateTime"] = r.collected_at
    if r.site_finess:
        res["performer"] = _performer(r.site_finess)
    return res


def _result_refs(result_ids: Iterable[str]) -> orjson.Fragment:
    """``[{"reference": "Observation/<id>"}, ...]`` without a dict per result: orjson escapes each
    reference string, so ``","`` only occurs between two of them and can be rewritten safely."""
    refs = orjson.dumps(["Observation/" + i for i in result_ids])
    if refs == b"[]":
        return _F(refs)
    return _F(b'[{"reference":' + refs[1:-1].replace(b'","', b'"},{"reference":"') + b"}]")


# A lab has a few sites, a few thousand prescribers, a handful of specimen types: their
# serialised forms are cached (bounded) instead of being rebuilt for each of a million requests.
@functools.lru_cache(maxsize=4096)
def _performer(finess: str) -> orjson.Fragment:
    return _F(orjson.dumps([{"identifier": {"system": FINESS_SYSTEM, "value": finess}}]))


@functools.lru_cache(maxsize=65536)
def _requester(rpps: str) -> orjson.Fragment:
    return _F(orjson.dumps({"identifier": {"system": RPPS_SYSTEM, "value": rpps}}))


@functools.lru_cache(maxsize=256)
def _specimen_type(code: str) -> orjson.Fragment:
    return _F(orjson.dumps({"coding": [{"system": _V2_0487, "code": code}]}))


ObservationRefs = tuple[orjson.Fragment, orjson.Fragment, orjson.Fragment]


def observation_refs(patient_id: str, request_id: str) -> ObservationRefs:
    """The references shared by every Observation of one request (subject, basedOn, specimen),
    serialised once: pass them to :func:`observation` for each result of the request."""
    return (_subject(patient_id),
            _F(orjson.dumps([{"reference": "ServiceRequest/" + request_id}])),
            _F(orjson.dumps({"reference": "Specimen/" + request_id})))


def observation(o: Result, refs: ObservationRefs | None = None) -> dict[str, Any]:
    """A :class:`Result` as a FHIR R4 Observation.

    The parts that repeat across millions of results (code, interpretation, reference range,
    and with ``refs`` the references of the request) are pre-serialised: this is the export's
    hot path. ``refs`` must be ``observation_refs(o.patient_id, o.request_id)``.
    """
    subject, based_on, spec = refs if refs is not None else observation_refs(o.patient_id, o.request_id)
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": o.id,
        "status": _OBS_STATUS.get(o.status or "F", "final"),
        "category": _OBS_CAT_F,
        "code": _code(o.loinc, o.label),
        "subject": subject,
        "basedOn": based_on,
        "specimen": spec,
    }
    if o.observed_at:
        res["effectiveDateTime"] = o.observed_at
    value = o.value
    if value is not None:
        if o.value_type == "NM" and _JSON_NUMBER.fullmatch(value):
            unit = o.unit
            res["valueQuantity"] = ({"value": orjson.Fragment(value), "unit": unit, "system": UCUM, "code": unit}
                                    if unit else {"value": orjson.Fragment(value)})
        elif o.value_type == "CE":
            res["valueCodeableConcept"] = {"text": value}
        else:
            res["valueString"] = value
    if o.flag:
        res["interpretation"] = _interpretation(o.flag)
    if o.ref_low is not None or o.ref_high is not None:
        res["referenceRange"] = _range(o.ref_low, o.ref_high, o.unit)
    if o.category:
        res["extension"] = _category(o.category)
    if o.comment:
        res["note"] = [{"text": o.comment}]
    return res


@functools.lru_cache(maxsize=4096)
def _code(loinc: str | None, label: str | None) -> orjson.Fragment:
    code: dict[str, Any] = {}
    if loinc:
        code["coding"] = [{"system": LOINC, "code": loinc}]
    if label:
        code["text"] = label
    return _F(orjson.dumps(code))


@functools.lru_cache(maxsize=64)
def _interpretation(flag: str) -> orjson.Fragment:
    return _F(orjson.dumps([{"coding": [{"system": _INTERP, "code": flag}]}]))


@functools.lru_cache(maxsize=64)
def _category(category: str) -> orjson.Fragment:
    return _F(orjson.dumps([{"url": _CATEGORY, "valueCode": category}]))


@functools.lru_cache(maxsize=16384)
def _range(low: str | None, high: str | None, unit: str | None) -> orjson.Fragment:
    """A reference range; bounds that are not decimal numbers (``<5``) go to ``text``."""
    rr: dict[str, Any] = {}
    text = False
    for key, bound in (("low", low), ("high", high)):
        if bound is None:
            continue
        if _JSON_NUMBER.fullmatch(bound):
            rr[key] = ({"value": orjson.Fragment(bound), "unit": unit, "system": UCUM, "code": unit} if unit
                       else {"value": orjson.Fragment(bound)})
        else:
            text = True
    if text:
        rr = {"text": f"{low or ''} - {high or ''}"}  # both sides kept, so the import can split it
    return _F(orjson.dumps([rr]))


# --- validation on receive ------------------------------------------------------------

_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "Patient": ("id", "identifier"),
    "ServiceRequest": ("id", "status", "intent", "subject"),
    "Specimen": ("id", "subject"),
    "Observation": ("id", "status", "code", "subject"),
    "DiagnosticReport": ("id", "status", "code", "subject"),
}


def parse_ndjson_line(line: bytes, *, file: str, line_no: int) -> dict[str, Any]:
    """Parse one NDJSON line into a resource dict; a FormatError names the file and line."""
    try:
        res = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise FormatError("not a JSON object", file=file, line=line_no) from exc
    if not isinstance(res, dict):
        raise FormatError("not a JSON object", file=file, line=line_no)
    return res


def validate_resource(res: dict[str, Any], expected_type: str, *, file: str, line_no: int) -> None:
    """The structural checks run on every resource of a package on receive.

    Full model validation (``fhir.resources``) runs in the test suite; on receive these
    checks catch a resource of the wrong type, without an id, or missing what its type
    requires, and name the file and line.
    """
    rtype = res.get("resourceType")
    if rtype != expected_type:
        raise FormatError(f"resource type is not {expected_type}", file=file, line=line_no,
                          field="resourceType")
    for name in _REQUIRED[expected_type]:
        if not res.get(name):
            raise FormatError("required element missing", file=file, line=line_no, field=name)
    ident = res["id"]
    if not isinstance(ident, str) or len(ident) > 64:
        raise FormatError("invalid resource id", file=file, line=line_no, field="id")


# --- FHIR → records ---------------------------------------------------------------------

def _ext(res: dict[str, Any], url: str) -> dict[str, Any] | None:
    for e in res.get("extension", ()):
        if e.get("url") == url:
            return e  # type: ignore[no-any-return]
    return None


def _ref_id(ref: dict[str, Any] | None) -> str:
    if not ref:
        return ""
    return str(ref.get("reference", "")).split("/", 1)[-1]


def record_from_patient(res: dict[str, Any]) -> Patient:
    p = Patient(id=res["id"])
    for ident in res.get("identifier", ()):
        system = ident.get("system", "")
        owner = _ext(ident, _NIR_OWNER)
        if system.startswith("urn:oid:") and system[8:] in INS_OIDS and ident.get("use") == "official":
            p.ins = ident.get("value")
            p.ins_oid = system[8:]
            if owner:
                p.nir = p.ins
                p.nir_owner = owner.get("valueCode")
        elif system == NSS_SYSTEM:
            p.nir = ident.get("value")
            p.nir_owner = owner.get("valueCode") if owner else None
    rel = _ext(res, _RELIABILITY)
    if rel:
        for sub in rel.get("extension", ()):
            if sub.get("url") == "identityStatus":
                p.identity_status = sub.get("valueCoding", {}).get("code")
    bp = _ext(res, _BIRTHPLACE)
    if bp:
        p.birth_place = bp.get("valueAddress", {}).get("district")
    bg = _ext(res, _BLOOD)
    if bg:
        p.blood_group = bg.get("valueString")
    cm = _ext(res, _COMMENT)
    if cm:
        p.comment = cm.get("valueString")
    for n in res.get("name", ()):
        if n.get("use") == "official":
            p.birth_name = n.get("family")
            if n.get("given"):
                p.given_names = " ".join(n["given"])
        elif n.get("use") == "usual":
            p.used_name = n.get("family")
    for t in res.get("telecom", ()):
        if t.get("system") == "phone":
            p.phone = t.get("value")
        elif t.get("system") == "email":
            p.email = t.get("value")
    if "gender" in res:
        p.sex = _SEX.get(res["gender"], "U")
    p.birth_date = res.get("birthDate")
    for a in res.get("address", ())[:1]:
        p.address = (a.get("line") or [None])[0]
        p.city = a.get("city")
        p.postcode = a.get("postalCode")
    return p


def record_from_service_request(sr: dict[str, Any], spm: dict[str, Any] | None,
                                dr: dict[str, Any] | None) -> Request:
    r = Request(id=sr["id"], patient_id=_ref_id(sr.get("subject")))
    r.collected_at = sr.get("authoredOn")
    req = sr.get("requester")
    if req:
        r.prescriber_rpps = req.get("identifier", {}).get("value")
    perf = sr.get("performer")
    if perf:
        r.site_finess = perf[0].get("identifier", {}).get("value")
    notes = sr.get("note")
    if notes:
        r.comment = notes[0].get("text")
    if spm:
        typ = spm.get("type")
        if typ:
            r.specimen_type = typ["coding"][0].get("code")
        r.received_at = spm.get("receivedTime")
    r.status = dr.get("status") if dr else None
    return r


def record_from_observation(o: dict[str, Any]) -> Result:
    r = Result(id=o["id"], request_id=_ref_id((o.get("basedOn") or [None])[0]),
               patient_id=_ref_id(o.get("subject")))
    code = o.get("code", {})
    if code.get("coding"):
        r.loinc = code["coding"][0].get("code")
    r.label = code.get("text")
    if "valueQuantity" in o:
        r.value_type = "NM"
        q = o["valueQuantity"]
        r.value = _numtext(q.get("value"))
        r.unit = q.get("code")
    elif "valueCodeableConcept" in o:
        r.value_type = "CE"
        r.value = o["valueCodeableConcept"].get("text")
    elif "valueString" in o:
        r.value_type = "ST"
        r.value = o["valueString"]
    interp = o.get("interpretation")
    if interp:
        r.flag = interp[0]["coding"][0].get("code")
    for rr in o.get("referenceRange", ())[:1]:
        if "text" in rr and "low" not in rr and "high" not in rr:
            low, _, high = str(rr["text"]).partition(" - ")
            r.ref_low, r.ref_high = low.strip() or None, high.strip() or None
        if "low" in rr:
            r.ref_low = _numtext(rr["low"]["value"])
            r.unit = r.unit or rr["low"].get("code")
        if "high" in rr:
            r.ref_high = _numtext(rr["high"]["value"])
            r.unit = r.unit or rr["high"].get("code")
    r.status = _V2_STATUS.get(o.get("status", "final"), "F")
    cat = _ext(o, _CATEGORY)
    if cat:
        r.category = cat.get("valueCode")
    r.observed_at = o.get("effectiveDateTime")
    notes = o.get("note")
    if notes:
        r.comment = notes[0].get("text")
    return r


def records_from_resources(
    patients: Iterable[dict[str, Any]],
    service_requests: Iterable[dict[str, Any]],
    specimens: dict[str, dict[str, Any]],
    reports: dict[str, dict[str, Any]],
    observations: Iterable[dict[str, Any]],
) -> Iterator[Patient | Request | Result]:
    """Read resources of a package back into records (patients, then requests, then results)."""
    for p in patients:
        yield record_from_patient(p)
    for sr in service_requests:
        yield record_from_service_request(sr, specimens.get(sr["id"]), reports.get(sr["id"]))
    for o in observations:
        yield record_from_observation(o)
