"""The sensitive category of a result that carries none: from its LOINC code, then its label.

A result read from the synthetic LIS carries its category (``hiv``, ``genetic``, ``pregnancy``,
``tumour_marker``, ``drug_monitoring``: :data:`~ecluse.formats.records.SENSITIVE_CATEGORIES`).
A result read from another lab's HL7 or HPRIM archive, a CSV export or a foreign SQL database
usually does not, and a scope that leaves out HIV results must still leave them out. This
module gives such a result a category from a table of LOINC codes, and when the code is
unknown or missing (local codes), from words of its label (French and English).

The tables are deliberately broad: a routine test wrongly classed as sensitive is left out
of an extraction (the lab sees it in the counts and can widen the scope); a sensitive test
classed as routine would leave. A LOINC code shared by a routine and a sensitive use (the INR
of a patient on an anticoagulant and the INR of a pre-operative check) is classed by label
only. See docs/formats/categories.md.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

__all__ = ["LOINC_CATEGORIES", "category_of", "classify"]

#: LOINC code -> sensitive category.
LOINC_CATEGORIES: Final[dict[str, str]] = {
    # HIV: serology, antigen, viral load, genotype.
    "56888-1": "hiv", "7917-8": "hiv", "5221-7": "hiv", "31201-7": "hiv", "75622-1": "hiv",
    "25836-8": "hiv", "20447-9": "hiv", "9821-1": "hiv", "68961-2": "hiv", "43009-0": "hiv",
    "48345-3": "hiv", "48346-1": "hiv", "30361-0": "hiv", "49905-3": "hiv", "33866-5": "hiv",
    "5017-9": "hiv", "10351-5": "hiv", "24012-7": "hiv", "45175-7": "hiv",
    # Pregnancy: hCG (serum, urine, qualitative, quantitative).
    "21198-7": "pregnancy", "2106-3": "pregnancy", "19080-1": "pregnancy", "2118-8": "pregnancy",
    "2119-6": "pregnancy", "2112-1": "pregnancy", "2110-5": "pregnancy", "83086-9": "pregnancy",
    "25372-4": "pregnancy", "53624-3": "pregnancy",
    # Tumour markers.
    "2857-1": "tumour_marker", "10886-0": "tumour_marker", "12841-3": "tumour_marker",
    "10334-1": "tumour_marker", "6875-9": "tumour_marker", "2039-6": "tumour_marker",
    "24108-3": "tumour_marker", "1834-1": "tumour_marker", "19176-7": "tumour_marker",
    "17842-6": "tumour_marker", "83112-3": "tumour_marker", "2009-9": "tumour_marker",
    "15156-3": "tumour_marker", "33717-0": "tumour_marker",
    # Genetic tests.
    "21654-9": "genetic", "21667-1": "genetic", "21668-9": "genetic", "24475-6": "genetic",
    "21695-2": "genetic", "38404-0": "genetic", "21636-6": "genetic", "21637-4": "genetic",
    "29770-5": "genetic", "55233-1": "genetic", "81247-9": "genetic", "51967-8": "genetic",
    # Therapeutic drug monitoring (a test that reveals a treatment).
    "14334-7": "drug_monitoring", "3719-2": "drug_monitoring", "10535-3": "drug_monitoring",
    "4092-3": "drug_monitoring", "20578-1": "drug_monitoring", "11253-2": "drug_monitoring",
    "35151-1": "drug_monitoring", "3520-0": "drug_monitoring", "14977-3": "drug_monitoring",
    "6824-7": "drug_monitoring", "4049-3": "drug_monitoring", "3968-5": "drug_monitoring",
    "4086-5": "drug_monitoring", "14880-9": "drug_monitoring", "3432-8": "drug_monitoring",
    "9628-0": "drug_monitoring", "4090-7": "drug_monitoring", "29247-4": "drug_monitoring",
}

# Words of a label (lower-cased, accents removed), per category. Whole words or word starts:
# "vih" must not match "vihuela", "psa" must not match "capsaicine".
_LABEL_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "hiv": (r"vih", r"hiv", r"seropositiv\w*", r"sida", r"p24"),
    "pregnancy": (r"hcg", r"b-?hcg", r"grossesse", r"gonadotrophine\w* chorionique\w*", r"pregnan\w*",
                  r"choriogonadotrop\w*"),
    "tumour_marker": (r"psa", r"ca ?125", r"ca ?15[ .-]?3", r"ca ?19[ .-]?9", r"ace", r"cea",
                      r"antigene carcino[- ]?embryonnaire", r"alpha[- ]?f(o|oe)etoprotein\w*", r"afp",
                      r"marqueur\w* tumora\w*", r"tumou?r marker\w*", r"scc", r"nse", r"cyfra"),
    "genetic": (r"mutation\w*", r"genetique\w*", r"genetic\w*", r"genotyp\w*", r"gene", r"caryotype",
                r"karyotype", r"brca\d?", r"cftr", r"mucoviscidose", r"leiden", r"g20210a", r"hfe",
                r"hemochromatose", r"sequencage", r"adn", r"dna", r"trisomie"),
    "drug_monitoring": (r"lithium", r"lithemie", r"digoxin\w*", r"vancomycin\w*", r"tacrolimus", r"ciclosporin\w*",
                        r"cyclosporin\w*", r"everolimus", r"sirolimus", r"gentamicin\w*", r"amikacin\w*",
                        r"valpro\w*", r"depakin\w*", r"carbamazepin\w*", r"phenobarbital", r"phenytoin\w*",
                        r"methotrexat\w*", r"avk", r"anti-?vitamine k", r"fluindione", r"warfarin\w*",
                        r"acenocoumarol", r"theophyllin\w*", r"residuelle"),
}

_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (cat, re.compile(r"(?<![a-z0-9])(?:" + "|".join(words) + r")(?![a-z0-9])"))
    for cat, words in _LABEL_WORDS.items()
)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


@lru_cache(maxsize=8192)
def classify(loinc: str | None, label: str | None) -> str | None:
    """The sensitive category of a test from its LOINC code, else from its label; ``None`` if none."""
    if loinc:
        cat = LOINC_CATEGORIES.get(loinc.strip())
        if cat is not None:
            return cat
    if label:
        folded = _fold(label)
        for cat, pattern in _PATTERNS:
            if pattern.search(folded):
                return cat
    return None


def category_of(category: str | None, loinc: str | None, label: str | None) -> str | None:
    """The category a result carries, or the one its code or label reveals."""
    return category if category is not None else classify(loinc, label)
