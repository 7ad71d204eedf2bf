"""A generator of labelled corpora for measuring the scanner: synthetic patients only.

Every sensitive value planted is recorded as a :class:`Label` ``(file, member, line, kind)``;
decoys (invoice numbers, SIRET, IBAN-like strings, timestamps, NIR-shaped numbers with a wrong
key, lab sample ids, role mailboxes, a test catalogue without patients) are planted unlabelled and
must not be reported. Names are drawn from short built-in lists; identities are consistent
(the NIR carries the patient's sex, birth year and month).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ecluse.scan._sources import MAGIC_AGE

__all__ = ["Label", "Patient", "generate", "generate_dense", "make_nir"]

_SURNAMES = [
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "RICHARD",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFEBVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
    "ROUX",
    "VINCENT",
    "FOURNIER",
    "MOREL",
    "GIRARD",
    "ANDRÉ",
    "LEFÈVRE",
    "MERCIER",
    "DUPONT",
    "LAMBERT",
    "BONNET",
    "FRANÇOIS",
    "MARTINEZ",
]
_FIRST_F = ["Hélène", "Marie", "Camille", "Léa", "Chloé", "Inès", "Zoé", "Anaïs", "Françoise", "Élodie"]
_FIRST_M = ["Jean", "Lucas", "Hugo", "Théo", "Noël", "Jérôme", "François", "Loïc", "Gaël", "Raphaël"]
_DOMAINS = ["gmail.com", "orange.fr", "free.fr", "laposte.net", "yahoo.fr", "sfr.fr", "hotmail.fr"]
_DEPTS = ["75", "69", "13", "2A", "2B", "33", "59", "974", "971", "67", "31", "44"]
_GROUPS = ["A", "B", "AB", "O"]


@dataclass(frozen=True, slots=True, order=True)
class Label:
    file: str
    member: str | None
    line: int
    kind: str


@dataclass(slots=True)
class Patient:
    surname: str
    first: str
    sex: int
    birth: date
    nir: str
    phone: str
    email: str
    blood: str
    ipp: str


def make_nir(rng: random.Random, sex: int, birth: date, *, wrong_key: bool = False) -> str:
    """A 15-character NIR consistent with sex and birth date, with a correct (or wrong) key."""
    dept = rng.choice(_DEPTS)
    commune = f"{rng.randint(1, 99):02d}" if len(dept) == 3 else f"{rng.randint(1, 899):03d}"
    body = f"{sex}{birth.year % 100:02d}{birth.month:02d}{dept}{commune}{rng.randint(1, 999):03d}"
    num = body.replace("2A", "19").replace("2B", "18") if dept in ("2A", "2B") else body
    key = 97 - int(num) % 97
    if wrong_key:
        key = (key + rng.randint(1, 96)) % 97 or 97
    return f"{body}{key:02d}"


def _fmt_nir(rng: random.Random, nir: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return nir
    sep = [" ", ".", "-"][style - 1]
    return sep.join([nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:15]])


def _fmt_phone(rng: random.Random, phone: str) -> str:
    style = rng.randrange(4)
    pairs = [phone[i : i + 2] for i in range(0, 10, 2)]
    if style == 0:
        return phone
    if style == 1:
        return " ".join(pairs)
    if style == 2:
        return ".".join(pairs)
    return "+33 " + phone[1] + " " + " ".join(pairs[1:])


def _patient(rng: random.Random) -> Patient:
    sex = rng.choice((1, 2))
    first = rng.choice(_FIRST_M if sex == 1 else _FIRST_F)
    surname = rng.choice(_SURNAMES)
    birth = date(rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28))
    phone = rng.choice(["06", "07", "01", "02", "03", "04", "05", "09"]) + f"{rng.randint(0, 99_999_999):08d}"
    local = f"{first.lower()}.{surname.lower()}{rng.randint(1, 99)}"
    local = local.translate(str.maketrans("éèêëàâäîïôöùûüçÉÈ", "eeeeaaaiioouuucEE")).replace(" ", "")
    return Patient(
        surname,
        first,
        sex,
        birth,
        make_nir(rng, sex, birth),
        phone,
        f"{local}@{rng.choice(_DOMAINS)}",
        rng.choice(_GROUPS) + rng.choice("+-"),
        f"{rng.randint(10_000_000, 99_999_999)}",
    )


def _siret(rng: random.Random) -> str:
    digits = [rng.randint(0, 9) for _ in range(13)]
    for check in range(10):
        cand = [*digits, check]
        total = 0
        for i, d in enumerate(reversed(cand)):
            d2 = d * 2 if i % 2 else d
            total += d2 - 9 if d2 > 9 else d2
        if total % 10 == 0:
            return "".join(map(str, cand))
    return "".join(map(str, digits)) + "0"


def _iban(rng: random.Random) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(23))
    return "FR76 " + " ".join(digits[i : i + 4] for i in range(0, 23, 4))


def _invoice15(rng: random.Random) -> str:
    return str(rng.randint(10**14, 10**15 - 1))


def _sample_id(rng: random.Random) -> str:
    return (
        rng.choice(["E", "LAB-", "ECH"])
        + f"{rng.randint(20, 25)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(0, 99999):05d}"
    )


def _ts(rng: random.Random) -> str:
    return (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
    )


@dataclass(slots=True)
class _Doc:
    """Lines of one text unit and the kinds planted on each line."""

    lines: list[str] = field(default_factory=list)
    kinds: list[set[str]] = field(default_factory=list)

    def add(self, line: str, *kinds: str) -> None:
        self.lines.append(line)
        self.kinds.append(set(kinds))

    def text(self, nl: str = "\n") -> str:
        return nl.join(self.lines) + nl

    def labels(self, file: str, member: str | None, first_line: int = 1) -> list[Label]:
        return [Label(file, member, i + first_line, k) for i, ks in enumerate(self.kinds) for k in sorted(ks)]


# ------------------------------------------------------------------------------------- documents
def _csv_patients(rng: random.Random, pats: list[Patient]) -> _Doc:
    d = _Doc()
    d.add("ipp;nom;prenom;sexe;date_naissance;nir;telephone;email;groupe_sanguin;num_facture;siret_payeur")
    for p in pats:
        d.add(
            ";".join(
                [
                    p.ipp,
                    p.surname,
                    p.first,
                    "MF"[p.sex - 1],
                    p.birth.strftime("%d/%m/%Y"),
                    _fmt_nir(rng, p.nir),
                    _fmt_phone(rng, p.phone),
                    p.email,
                    p.blood,
                    _invoice15(rng),
                    _siret(rng),
                ]
            ),
            "nir",
            "birth_date",
            "phone_fr",
            "email",
            "blood_group",
        )
    return d


def _tsv_export(rng: random.Random, pats: list[Patient]) -> _Doc:
    d = _Doc()
    d.add("patient_id\tlast_name\tfirst_name\tdob\tssn\tmobile\tsample_id\tinvoice\tcreated_at")
    for p in pats:
        d.add(
            "\t".join(
                [
                    p.ipp,
                    p.surname,
                    p.first,
                    p.birth.isoformat(),
                    p.nir,
                    p.phone,
                    _sample_id(rng),
                    _invoice15(rng),
                    _ts(rng),
                ]
            ),
            "nir",
            "birth_date",
            "phone_fr",
        )
    return d


def _ndjson(rng: random.Random, pats: list[Patient]) -> _Doc:
    d = _Doc()
    for p in pats:
        test = rng.choice(
            [
                ("56888-1", "Sérologie VIH 1+2", "hiv"),
                ("21198-7", "Béta-hCG plasmatique", "preg"),
                ("718-7", "Hémoglobine", None),
            ]
        )
        rec = {
            "ipp": p.ipp,
            "nir": p.nir,
            "naissance": p.birth.isoformat(),
            "tel": p.phone,
            "loinc": test[0],
            "libelle": test[1],
            "facture": _invoice15(rng),
            "horodatage": _ts(rng),
        }
        kinds = {"nir", "birth_date", "phone_fr"}
        if test[2]:
            kinds |= {"loinc_sensitive", "clinical_term"}
        d.add(json.dumps(rec, ensure_ascii=False), *kinds)
    return d


def _hl7(rng: random.Random, p: Patient) -> _Doc:
    d = _Doc()
    oid = rng.choice(["8", "10", "11"])
    d.add(
        f"MSH|^~\\&|SIL|LABO|DPI|HOPITAL|{_ts(rng)[:19].replace('-', '').replace(':', '').replace('T', '')}"
        f"||ORU^R01^ORU_R01|{rng.randint(10**9, 10**10)}|P|2.5|||||FRA|UNICODE UTF-8|||2.1^IHE_FR"
    )
    d.add(
        f"PID|1||{p.ipp}^^^LABO&1.2.250.1.999&ISO^PI~{p.nir}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.{oid}"
        f"&ISO^INS||{p.surname}^{p.first}^^^^^L||{p.birth.strftime('%Y%m%d')}|{'MF'[p.sex - 1]}|||"
        f"1 rue de la Paix^^Paris^^75001^FRA^H||^PRN^PH^^^^^^^^^{p.phone}",
        "ins",
        "birth_date",
        "phone_fr",
    )
    d.add(
        f"OBR|1|{_sample_id(rng)}|{_sample_id(rng)}|56888-1^Sérologie VIH^LN|||{_ts(rng)[:10].replace('-', '')}",
        "loinc_sensitive",
        "clinical_term",
    )
    d.add("OBX|1|CE|56888-1^VIH 1+2 Ac+Ag p24^LN||NEG^Négatif^L||||||F", "loinc_sensitive", "clinical_term")
    d.add(f"OBX|2|NM|718-7^Hémoglobine^LN||{rng.randint(110, 170) / 10}|g/dL^g/dL^UCUM|12-16|N|||F")
    return d


def _hprim_sante(rng: random.Random, p: Patient) -> _Doc:
    d = _Doc()
    d.add(f"H|~^\\&|{rng.randint(1000, 9999)}.HPR||LABO||ORU|||SIL||P|H2.2|{_ts(rng)[:10].replace('-', '')}")
    d.add(
        f"P|1|{p.ipp}|{p.nir}||{p.surname}~{p.first}||{p.birth.strftime('%Y%m%d')}|{'MF'[p.sex - 1]}",
        "nir",
        "birth_date",
    )
    d.add(f"OBR|1|{_sample_id(rng)}||21198-7~Béta-hCG~LN", "loinc_sensitive", "clinical_term")
    d.add(f"OBX|1|NM|21198-7~hCG~LN||{rng.randint(5, 90000)}|UI/L", "loinc_sensitive", "clinical_term")
    d.add("L|1")
    return d


def _hprim_net(rng: random.Random, p: Patient) -> _Doc:
    d = _Doc()
    d.add(p.ipp)
    d.add(p.surname, "listed_term")
    d.add(p.first)
    d.add(f"{rng.randint(1, 99)} avenue Jean Jaurès")
    d.add("")
    d.add("69003 LYON")
    d.add(p.birth.strftime("%d/%m/%Y"), "birth_date")
    d.add(p.nir, "nir")
    d.add(_sample_id(rng))
    d.add(_ts(rng)[:10])
    d.add("810001234567")
    d.add("Dr MEDECIN Paul")
    d.add("Compte rendu : chimiothérapie en cours, surveillance hématologique.", "clinical_term")
    d.add("****LAB****")
    d.add("RES|Leucocytes|LEUCO|N|3.2|G/L|4.0|10.0|L|||F")
    d.add("****FIN****")
    return d


def _sql_dump(rng: random.Random, pats: list[Patient]) -> _Doc:
    d = _Doc()
    d.add("-- dump of the LIS portal, 2023")
    d.add(
        "CREATE TABLE portail_patient (ipp VARCHAR(10), nom TEXT, nir CHAR(15), date_naissance DATE, "
        "telephone TEXT, email TEXT, mot_de_passe TEXT, facture CHAR(15));"
    )
    for p in pats:
        pw = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10))
        d.add(
            f"INSERT INTO portail_patient (ipp, nom, nir, date_naissance, telephone, email, mot_de_passe, facture) "
            f"VALUES ('{p.ipp}', '{p.surname.replace(chr(39), chr(39) * 2)}', '{p.nir}', "
            f"'{p.birth.isoformat()}', '{_fmt_phone(rng, p.phone)}', '{p.email}', '{pw}', '{_invoice15(rng)}');",
            "nir",
            "birth_date",
            "phone_fr",
            "email",
            "portal_password",
        )
    return d


def _log(rng: random.Random, pats: list[Patient]) -> _Doc:
    d = _Doc()
    for i in range(len(pats) * 6):
        r = rng.randrange(6)
        ts = _ts(rng)
        if r == 0:
            p = rng.choice(pats)
            d.add(
                f"{ts} INFO portail login user={p.email} from 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.7", "email"
            )
        elif r == 1:
            p = rng.choice(pats)
            d.add(
                f"{ts} DEBUG portail auth form login={p.ipp} password={p.first[:3]}{rng.randint(1000, 9999)}!",
                "portal_password",
            )
        elif r == 2:
            d.add(f"{ts} INFO batch invoice={_invoice15(rng)} siret={_siret(rng)} amount={rng.randint(1, 9999)}.00")
        elif r == 3:
            p = rng.choice(pats)
            bad = make_nir(rng, p.sex, p.birth, wrong_key=True)
            d.add(f"{ts} WARN import rejected nir={bad} (clé invalide) line={i}")
        elif r == 4:
            d.add(
                f"{ts} INFO sample {_sample_id(rng)} received, tube {rng.randint(10**9, 10**10 - 1)}, "
                f"took {rng.randint(1, 99999)} ms"
            )
        else:
            d.add(f"{ts} INFO notify contact@labo-exemple.fr via noreply@labo-exemple.fr iban={_iban(rng)}")
    return d


def _letter(rng: random.Random, p: Patient) -> _Doc:
    d = _Doc()
    civ = "Monsieur" if p.sex == 1 else "Madame"
    born = "né" if p.sex == 1 else "née"
    d.add("Laboratoire de biologie médicale — compte rendu")
    d.add(f"{civ} {p.first} {p.surname}, {born} le {p.birth.strftime('%d/%m/%Y')}", "birth_date")
    d.add(f"N° de sécurité sociale : {_fmt_nir(rng, p.nir)}", "nir")
    d.add(f"Téléphone : {_fmt_phone(rng, p.phone)} — courriel : {p.email}", "phone_fr", "email")
    d.add(f"Groupe sanguin : {p.blood[:-1]} Rhésus {'positif' if p.blood[-1] == '+' else 'négatif'}", "blood_group")
    cond = rng.choice(
        [
            "Sérologie VIH positive, mise sous trithérapie.",
            "Test de grossesse positif (béta-hCG).",
            "Suivi de mucoviscidose.",
            "Bilan pré-chimiothérapie pour lymphome.",
        ]
    )
    d.add(f"Conclusion : {cond}", "clinical_term")
    d.add(f"Facture n° {_invoice15(rng)} — SIRET {_siret(rng)}")
    return d


def _catalogue(rng: random.Random) -> _Doc:
    d = _Doc()
    d.add("Catalogue des analyses — tarifs 2024")
    for line in [
        "Sérologie VIH 1+2 (LOINC 56888-1) : 12,50 €",
        "Béta-hCG plasmatique (LOINC 21198-7)",
        "Caryotype constitutionnel, recherche de trisomie",
        "Groupe sanguin ABO-RhD : 2 déterminations",
        "Dosage lithium, méthadone",
        "Marqueurs tumoraux (cancer de la prostate) : PSA 2857-1",
    ]:
        d.add(line)
    for _ in range(20):
        d.add(f"Réf {_sample_id(rng)} — SIRET {_siret(rng)} — IBAN {_iban(rng)} — facture {_invoice15(rng)}")
    return d


def _invoices(rng: random.Random, n: int) -> _Doc:
    d = _Doc()
    d.add("num_facture,siret,iban,montant,date_emission,reference_echantillon")
    for _ in range(n):
        bad = make_nir(rng, rng.choice((1, 2)), date(rng.randint(1940, 2010), rng.randint(1, 12), 1), wrong_key=True)
        d.add(
            ",".join(
                [
                    _invoice15(rng),
                    _siret(rng),
                    _iban(rng).replace(" ", ""),
                    f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
                    _ts(rng)[:10],
                    rng.choice([_sample_id(rng), bad]),
                ]
            )
        )
    return d


# ------------------------------------------------------------------------------------- containers
def _docx(text_lines: list[str]) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{_xml(line)}</w:t></w:r></w:p>" for line in text_lines)
    doc = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", doc)
    return buf.getvalue()


def _xlsx(rows: list[list[str]]) -> bytes:
    def col(i: int) -> str:
        return chr(65 + i) if i < 26 else chr(64 + i // 26) + chr(65 + i % 26)

    xml_rows = "".join(
        f'<row r="{r + 1}">'
        + "".join(f'<c r="{col(c)}{r + 1}" t="inlineStr"><is><t>{_xml(v)}</t></is></c>' for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet '
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{xml_rows}</sheetData></worksheet>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def generate(out: Path, *, seed: int = 0, patients: int = 200) -> list[Label]:
    """Write a labelled corpus under ``out`` and return its labels (paths relative to ``out``)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    pats = [_patient(rng) for _ in range(patients)]
    labels: list[Label] = []
    out.mkdir(parents=True, exist_ok=True)

    def write(rel: str, data: bytes) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def put(rel: str, doc: _Doc, *, encoding: str = "utf-8", nl: str = "\n") -> None:
        write(rel, doc.text(nl).encode(encoding))
        labels.extend(doc.labels(rel, None))

    half = patients // 2
    put("exports/patients.csv", _csv_patients(rng, pats[:half]), encoding="cp1252", nl="\r\n")
    put("exports/export_en.tsv", _tsv_export(rng, pats[half:]))
    put("api/results.ndjson", _ndjson(rng, pats))
    put("db/portail.sql", _sql_dump(rng, pats[: patients // 4]))
    put("logs/portail.log", _log(rng, pats[:20]))
    put("docs/catalogue.txt", _catalogue(rng), encoding="cp1252")
    put("compta/factures.csv", _invoices(rng, patients))

    hl7_all = _Doc()
    for i, p in enumerate(pats[:40]):
        msg = _hl7(rng, p)
        if i < 10:
            put(f"hl7/in/msg_{i:03d}.hl7", msg, nl="\r")
        hl7_all.lines += msg.lines
        hl7_all.kinds += msg.kinds
    for i, p in enumerate(pats[40:60]):
        put(f"hprim/sante_{i:03d}.hpr", _hprim_sante(rng, p), encoding="cp1252", nl="\r\n")
    for i, p in enumerate(pats[60:80]):
        doc = _hprim_net(rng, p)
        doc.kinds[1].discard("listed_term")
        put(f"hprim/net_{i:03d}.hpn", doc, encoding="cp1252", nl="\r\n")

    # Letters as text and as docx.
    for i, p in enumerate(pats[80:100]):
        put(f"courriers/cr_{i:03d}.txt", _letter(rng, p))
    for i, p in enumerate(pats[100:110]):
        doc = _letter(rng, p)
        rel = f"courriers/cr_{i:03d}.docx"
        write(rel, _docx(doc.lines))
        labels.extend(doc.labels(rel, "word/document.xml"))

    # A spreadsheet.
    sheet = _csv_patients(rng, pats[110:130])
    rel = "exports/liste.xlsx"
    write(rel, _xlsx([line.split(";") for line in sheet.lines]))
    labels.extend(sheet.labels(rel, "xl/worksheets/sheet1.xml"))

    # A SQLite database.
    rel = "db/lis.sqlite"
    con = sqlite3.connect(out / rel)
    con.execute("CREATE TABLE patients (ipp TEXT, nom TEXT, nir TEXT, ddn TEXT, portable TEXT, facture TEXT)")
    sq = _Doc()
    sq.add("ipp\tnom\tnir\tddn\tportable\tfacture")
    for p in pats[130:160]:
        con.execute(
            "INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?)",
            (p.ipp, p.surname, p.nir, p.birth.strftime("%d/%m/%Y"), p.phone, _invoice15(rng)),
        )
        sq.add("", "nir", "birth_date", "phone_fr")
    con.commit()
    con.close()
    labels.extend(sq.labels(rel, "table:patients"))

    # Archives: tar.gz of HL7 and a CSV; a zip holding a zip holding a CSV; a gz of a log.
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:gz") as tf:
        for name, doc in (("hl7/all.hl7", hl7_all), ("patients.csv", _csv_patients(rng, pats[160:180]))):
            data = doc.text().encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
            labels.extend(doc.labels("archives/backup_2023.tar.gz", f"backup_2023.tar!{name}"))
    write("archives/backup_2023.tar.gz", tar_buf.getvalue())

    inner_doc = _csv_patients(rng, pats[180:])
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("extract/patients.csv", inner_doc.text())
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner.zip", inner.getvalue())
        z.writestr("readme.txt", "Export du 12/03/2023, référence 2024031500123.\n")
    write("archives/nested.zip", outer.getvalue())
    labels.extend(inner_doc.labels("archives/nested.zip", "inner.zip!extract/patients.csv"))

    log_doc = _log(rng, pats[:10])
    write("archives/portail.log.gz", gzip.compress(log_doc.text().encode(), mtime=0))
    labels.extend(log_doc.labels("archives/portail.log.gz", "portail.log"))

    # Protected: age-encrypted and high-entropy files produce no finding.
    write("secure/patients.csv.age", MAGIC_AGE + b"-> X25519 abc\n" + os.urandom(2048))
    write("secure/blob.bin", bytes(rng.getrandbits(8) for _ in range(4096)))
    return sorted(labels)


def generate_dense(out: Path, size_bytes: int, *, seed: int = 0, progress: Callable[[int], None] | None = None) -> int:
    """A large unlabelled corpus of patient data only, for benchmarks: copies of generated units.

    Every file is a patient export (about one finding per 200 bytes): the worst case for the
    scanner. :mod:`ecluse.scan.corpus_server` writes the mixed corpus of a whole server.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    pats = [_patient(rng) for _ in range(2000)]
    makers: list[tuple[str, Callable[[list[Patient]], _Doc]]] = [
        ("csv", lambda ps: _csv_patients(rng, ps)),
        ("tsv", lambda ps: _tsv_export(rng, ps)),
        ("ndjson", lambda ps: _ndjson(rng, ps)),
        ("sql", lambda ps: _sql_dump(rng, ps)),
        ("log", lambda ps: _log(rng, ps)),
        ("csv", lambda ps: _invoices(rng, len(ps) * 3)),
    ]
    written = 0
    n = 0
    out.mkdir(parents=True, exist_ok=True)
    while written < size_bytes:
        ext, maker = makers[n % len(makers)]
        doc = maker(rng.sample(pats, 400))
        # Bulk files (at most 8 MB each) of patient exports followed by anonymous lab results.
        filler = "\n".join(_lab_result_line(rng) for _ in range(len(doc.lines) * 8)) + "\n"
        unit = doc.text().encode() + filler.encode()
        reps = max(1, min(64, (size_bytes - written) // len(unit), (8 << 20) // len(unit)))
        body = unit * reps
        (out / f"part_{n:05d}.{ext}").write_bytes(body)
        written += len(body)
        n += 1
        if progress:
            progress(written)
    return written


def _lab_result_line(rng: random.Random) -> str:
    code, name = rng.choice(
        [
            ("718-7", "Hémoglobine"),
            ("6690-2", "Leucocytes"),
            ("777-3", "Plaquettes"),
            ("2951-2", "Sodium"),
            ("2823-3", "Potassium"),
            ("14682-9", "Créatinine"),
        ]
    )
    return (
        f"{_sample_id(rng)};{code};{name};{rng.randint(10, 9999) / 10};{_ts(rng)};"
        f"{rng.randint(10**7, 10**8 - 1)};N;VALIDE"
    )
