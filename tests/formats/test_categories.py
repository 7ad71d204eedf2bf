"""The sensitive-category classifier for results that carry no category."""

from __future__ import annotations

import pytest

from ecluse.formats.categories import LOINC_CATEGORIES, category_of, classify
from ecluse.formats.records import SENSITIVE_CATEGORIES
from ecluse.legacy import _refdata as ref

_SENSITIVE_KEYS = {"bhcg": "pregnancy", "psa": "tumour_marker", "ca125": "tumour_marker",
                   "ca153": "tumour_marker", "cea": "tumour_marker", "inr_avk": "drug_monitoring",
                   "digo": "drug_monitoring", "lith": "drug_monitoring", "vanco": "drug_monitoring"}


def test_every_table_category_is_a_known_one() -> None:
    assert set(LOINC_CATEGORIES.values()) <= set(SENSITIVE_CATEGORIES)


@pytest.mark.parametrize("test", ref.NUMERIC_TESTS, ids=lambda t: t[0])
def test_synthetic_catalogue_numeric_tests(test: tuple[str, str, str]) -> None:
    key, loinc, label = test[0], test[1], test[2]
    assert classify(loinc, label) == _SENSITIVE_KEYS.get(key)


def test_synthetic_qualitative_and_genetic_tests() -> None:
    assert classify(*ref.HIV_TEST) == "hiv"
    assert classify(*ref.URINE_HCG_TEST) == "pregnancy"
    for loinc, label, _ in ref.GENETIC_TESTS:
        assert classify(loinc, label) == "genetic"
        assert classify(None, label) == "genetic"  # a local code: the label decides


@pytest.mark.parametrize(("label", "expected"), [
    ("Sérologie VIH", "hiv"), ("HIV-1 viral load", "hiv"), ("Antigène p24", "hiv"),
    ("β-hCG plasmatiques", "pregnancy"), ("Test de GROSSESSE urinaire", "pregnancy"),
    ("PSA libre", "tumour_marker"), ("CA 19-9", "tumour_marker"), ("CA15-3", "tumour_marker"),
    ("Caryotype constitutionnel", "genetic"), ("BRCA1 séquençage", "genetic"),
    ("Tacrolimus (résiduelle)", "drug_monitoring"), ("Lithémie", "drug_monitoring"),
    ("Glycémie à jeun", None), ("Capsaicine", None), ("Potassium", None), ("Hémoglobine", None),
    ("INR", None), ("TSH ultrasensible", None), ("Vihuela", None),
])
def test_labels(label: str, expected: str | None) -> None:
    assert classify(None, label) == expected


def test_code_wins_over_label_and_carried_category_wins_over_both() -> None:
    assert classify("56888-1", "Glycémie") == "hiv"
    assert classify("2345-7", "Glycémie") is None
    assert category_of("genetic", "56888-1", "VIH") == "genetic"
    assert category_of(None, "56888-1", None) == "hiv"
    assert category_of(None, None, None) is None
