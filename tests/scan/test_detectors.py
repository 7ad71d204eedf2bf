"""Detectors: validation, context, masking. Issue 4."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.fr import nir as stdnum_nir

from ecluse.scan._detect import Detector, nir_key_ok
from ecluse.scan.corpus import make_nir


def kinds(text: str, min_conf: float = 0.5, terms: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [
        (h.kind, text[h.start : h.end])
        for h in sorted(Detector(terms).scan(text), key=lambda h: h.start)
        if h.confidence >= min_conf
    ]


@given(st.integers(0, 2**32), st.sampled_from([1, 2]), st.dates(date(1920, 1, 1), date(2024, 12, 31)))
@settings(max_examples=300)
def test_nir_key_agrees_with_python_stdnum(seed: int, sex: int, birth: date) -> None:
    nir = make_nir(random.Random(seed), sex, birth)
    assert stdnum_nir.is_valid(nir)
    assert nir_key_ok(nir[:13], nir[13:])
    bad = make_nir(random.Random(seed), sex, birth, wrong_key=True)
    assert not nir_key_ok(bad[:13], bad[13:])


def test_corsica_keys() -> None:
    assert nir_key_ok("253072B073004", "70")
    assert nir_key_ok("253072A073004", "43")


@pytest.mark.parametrize(
    "form",
    ["279035121518989", "2 79 03 51 215 189 89", "2.79.03.51.215.189.89", "2-79-03-51-215-189-89", "2790351215189 89"],
)
def test_nir_forms_with_keyword(form: str) -> None:
    assert kinds(f"NIR : {form}") == [("nir", form)]


def test_nir_with_wrong_key_is_not_reported() -> None:
    assert kinds("NIR : 279035121518988") == []


def test_checksum_alone_is_below_the_default_threshold() -> None:
    # A valid key with no context is a medium finding (1 random number in 97 passes the key).
    assert kinds("ref 279035121518989 ok") == []
    assert kinds("ref 279035121518989 ok", min_conf=0.3) == [("nir", "279035121518989")]


def test_decoy_label_lowers_confidence() -> None:
    assert kinds('{"facture": "279035121518989"}') == []
    assert kinds('{"nir": "279035121518989"}') == [("nir", "279035121518989")]


def test_ins_needs_the_oid() -> None:
    text = "PID|1||279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||X^Y||19790315|F"
    got = kinds(text)
    assert ("ins", "279035121518989") in got
    assert ("birth_date", "19790315") in got


def test_column_density_promotes_an_unlabelled_identifier_column() -> None:
    rng = random.Random(1)
    rows = [f"{i};{make_nir(rng, 1, date(1980, 1, 1))};x" for i in range(10)]
    text = "a;b;c\n" + "\n".join(rows) + "\n"
    assert [k for k, _ in kinds(text)].count("nir") == 10


def test_invoice_column_of_random_15_digit_numbers_is_not_reported() -> None:
    rng = random.Random(2)
    rows = [f"{rng.randint(10**14, 10**15 - 1)};{rng.randint(1, 99)}" for _ in range(2000)]
    assert [k for k, _ in kinds("num_facture;montant\n" + "\n".join(rows))] == []


@pytest.mark.parametrize(
    "text,value",
    [
        ("tél : 06 12 34 56 78", "06 12 34 56 78"),
        ("Portable: +33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("telephone=0612345678", "0612345678"),
        ("contact +590 690 12 34 56", "+590 690 12 34 56"),
    ],
)
def test_phones(text: str, value: str) -> None:
    assert kinds(text) == [("phone_fr", value)]


def test_timestamps_sirets_and_ibans_are_not_phones() -> None:
    text = "2024-03-15T10:15:32Z siret=73282932000074 iban=FR7630006000011234567890189 tube 0612345678901"
    assert kinds(text) == []


def test_birth_dates_need_a_label() -> None:
    assert kinds("née le 15/03/1979") == [("birth_date", "15/03/1979")]
    assert kinds("prélevé le 15/03/2024") == []


def test_blood_group_in_context() -> None:
    assert kinds("Groupe sanguin : AB Rhésus négatif") == [("blood_group", "AB Rhésus négatif")]
    assert kinds("note A+ en maths") == []


def test_clinical_terms_need_an_identity_in_the_file() -> None:
    assert kinds("Sérologie VIH : 12,50 €") == []
    got = kinds("Patient NIR 279035121518989, sérologie VIH positive")
    assert ("clinical_term", "VIH") in got


def test_password_fields() -> None:
    assert kinds("portail login=123 password=Tr0ub4dor!") == [("portal_password", "Tr0ub4dor!")]
    assert kinds('{"mot_de_passe": "abc123"}') == [("portal_password", "abc123")]
    assert kinds("password=$2b$12$abcdefghijklmnopqrstuv") == []  # a hash is not a plaintext password
    assert kinds("password=${DB_PASSWORD}") == []


def test_listed_terms_ignore_case_and_accents() -> None:
    got = kinds("Mme HELENE LEFEVRE et m. lefèvre", terms=("Hélène Lefèvre", "Lefèvre"))
    assert got == [("listed_term", "HELENE LEFEVRE"), ("listed_term", "lefèvre")]


def test_excerpts_are_masked() -> None:
    hits = Detector(("Dupont",)).scan(
        "Dupont, NIR 279035121518989, tél 06 12 34 56 78, jean.dupont@gmail.com, née le 15/03/1979, "
        "groupe sanguin O+, mot_de_passe=Secret123"
    )
    excerpts = " ".join(h.excerpt for h in hits)
    for secret in ("279035121518989", "121518989", "12 34 56 78", "jean.dupont", "15/03", "Secret123", "Dupont"):
        assert secret not in excerpts
    assert "2 79 03 ** *** *** **" in excerpts
