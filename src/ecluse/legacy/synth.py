"""Generate a synthetic legacy LIS database (SQLite) shaped like ``schema.sql``.

Every person, identifier and result is invented; identifiers are structurally valid (NIR key,
FINESS and RPPS Luhn keys) and the INS uses the *test* OID ``1.2.250.1.213.1.4.10``, never the
production one. See docs/synthetic-lis.md for the distributions.

Determinism: patients are generated in fixed-size chunks, each from its own RNG seeded by
``(seed, chunk index)``. Chunks may run in worker processes; the main process writes them in
chunk order, so the database content depends on the seed only, not on scheduling.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import math
import multiprocessing
import os
import random
import sqlite3
import tempfile
import unicodedata
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

from ecluse.errors import ConfigError
from ecluse.legacy import _refdata as ref
from ecluse.legacy.identifiers import finess_with_key, nir_key, rpps_with_key

__all__ = [
    "CHUNK_PATIENTS",
    "GENERATOR_VERSION",
    "INS_NIR_TEST_OID",
    "SynthStats",
    "generate",
]

GENERATOR = "ecluse.legacy.synth"
GENERATOR_VERSION = "1"
INS_NIR_TEST_OID = "1.2.250.1.213.1.4.10"
CHUNK_PATIENTS = 2000  # part of the output definition: changing it changes the data

Row = tuple[object, ...]

_FIRST_DAY = date(2015, 1, 1)
_LAST_DAY = date(2024, 12, 31)
_BIRTH_FIRST = date(1930, 1, 1)
_BIRTH_LAST = date(2024, 12, 31)
_REFERENCE_YEAR = 2020  # "age" used to pick profiles


@dataclass(frozen=True)
class SynthStats:
    """What :func:`generate` wrote."""

    path: Path
    patients: int
    requests: int
    results: int
    sites: int
    prescribers: int
    size_bytes: int


# --- Fixed tables (built once per process) -------------------------------------------------


class _Test(NamedTuple):
    loinc: str | None
    label: str
    unit: str
    fmt: str
    floor: float
    ranges: tuple[str | None, str | None, str | None, str | None]
    limits: tuple[float | None, float | None, float | None, float | None]
    log: bool
    mu_m: float
    sd_m: float
    mu_f: float
    sd_f: float


@dataclass(frozen=True)
class _Tables:
    day_str: tuple[str, ...]  # 2015-01-01 .. 2024-12-31, ISO date
    day_off: tuple[str, ...]  # "+01:00" / "+02:00"
    open_days: tuple[int, ...]  # indices of days that are not Sundays
    birth_str: tuple[str, ...]  # 1930-01-01 .. 2024-12-31
    birth_year_starts: tuple[int, ...]  # index of 1 January of each year in birth_str
    birth_year_cum: tuple[float, ...]  # cumulative weights of birth years
    tests: dict[str, _Test]
    panels: tuple[tuple[tuple[str, ...], float, str], ...]
    given: dict[tuple[str, int], tuple[str, ...]]
    surnames: tuple[str, ...]
    surnames_upper: tuple[str, ...]
    ascii_names: dict[str, str]
    residence: dict[str, tuple[ref.Commune, ...]]
    dept_region: dict[str, str]
    region_depts: dict[str, tuple[str, ...]]
    other_birth: tuple[str, ...]
    overseas_birth: tuple[str, ...]
    country_birth: tuple[str, ...]
    blood: tuple[str, ...]
    blood_cum: tuple[int, ...]


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.replace("œ", "oe").replace("Œ", "OE"))
    kept = "".join(c for c in folded if c.isascii() and (c.isalnum() or c == "-"))
    return kept.lower()


@cache
def _tables() -> _Tables:
    n_days = (_LAST_DAY - _FIRST_DAY).days + 1
    day_str: list[str] = []
    day_off: list[str] = []
    open_days: list[int] = []
    dst = {y: (_last_sunday(y, 3), _last_sunday(y, 10)) for y in range(2015, 2025)}
    for i in range(n_days):
        d = _FIRST_DAY + timedelta(days=i)
        day_str.append(d.isoformat())
        start, end = dst[d.year]
        # Offsets are exact for day-time hours: the switch happens at 02:00/03:00 local.
        day_off.append("+02:00" if start <= d < end else "+01:00")
        if d.weekday() != 6:
            open_days.append(i)

    n_birth = (_BIRTH_LAST - _BIRTH_FIRST).days + 1
    birth_str = tuple((_BIRTH_FIRST + timedelta(days=i)).isoformat() for i in range(n_birth))
    years = range(_BIRTH_FIRST.year, _BIRTH_LAST.year + 1)
    starts = tuple((date(y, 1, 1) - _BIRTH_FIRST).days for y in years)

    def year_weight(y: int) -> float:
        if y < 1945:
            return 0.6
        if y < 1965:
            return 1.25
        if y < 1990:
            return 1.1
        if y < 2010:
            return 0.9
        return 0.65

    tests: dict[str, _Test] = {}
    for key, loinc, label, unit, dec, ranges, dist in ref.NUMERIC_TESTS:
        kind, mu_m, sd_m, mu_f, sd_f = dist
        if kind == "l":
            mu_m, mu_f = math.log(mu_m), math.log(mu_f)
        lo_m, hi_m, lo_f, hi_f = (None if v is None else float(v) for v in ranges)
        tests[key] = _Test(
            loinc,
            label,
            unit,
            f"%.{dec}f",
            10.0**-dec,
            ranges,
            (lo_m, hi_m, lo_f, hi_f),
            kind == "l",
            mu_m,
            sd_m,
            mu_f,
            sd_f,
        )

    given: dict[tuple[str, int], tuple[str, ...]] = {}
    for era in range(3):
        given["F", era] = ref.GIVEN_F[era]
        given["M", era] = ref.GIVEN_M[era]
    names = {*ref.SURNAMES, *(n for pool in ref.GIVEN_F + ref.GIVEN_M for n in pool)}
    dept_region = {d: r for r, ds in ref.REGION_DEPTS.items() for d in ds}
    blood_cum = tuple(accumulate(w for _, w in ref.BLOOD_GROUPS))
    return _Tables(
        day_str=tuple(day_str),
        day_off=tuple(day_off),
        open_days=tuple(open_days),
        birth_str=birth_str,
        birth_year_starts=starts,
        birth_year_cum=tuple(accumulate(year_weight(y) for y in years)),
        tests=tests,
        panels=tuple((keys, p, spec) for _, keys, p, spec in ref.PANELS),
        given=given,
        surnames=ref.SURNAMES,
        surnames_upper=tuple(s.upper() for s in ref.SURNAMES),
        ascii_names={n: _ascii(n) for n in names},
        residence=dict(ref.COMMUNES),
        dept_region=dept_region,
        region_depts=dict(ref.REGION_DEPTS),
        other_birth=tuple(c[0] for c in ref.OTHER_BIRTH_COMMUNES),
        overseas_birth=tuple(c[0] for c in ref.OVERSEAS_BIRTH_COMMUNES),
        country_birth=tuple(c[0] for c in ref.COUNTRIES),
        blood=tuple(g for g, _ in ref.BLOOD_GROUPS),
        blood_cum=blood_cum,
    )


# --- Sites and prescribers (depend on the seed only) ---------------------------------------


@dataclass(frozen=True)
class _Reference:
    sites: tuple[tuple[str, str, str], ...]  # finess, name, city
    site_depts: tuple[str, ...]
    site_cum: tuple[int, ...]
    prescribers: tuple[tuple[str, str, str], ...]  # rpps, family, given
    site_prescribers: tuple[tuple[str, ...], ...]  # rpps working near each site


@cache
def _reference(seed: int) -> _Reference:
    rng = random.Random(f"ecluse-synth:{seed}:reference")  # noqa: S311 - synthetic data, not secrets
    t = _tables()
    sites: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for dept, city, name in ref.SITES:
        while True:
            finess = finess_with_key(f"{dept}{rng.randrange(10**6):06d}")
            if finess not in seen:
                seen.add(finess)
                break
        sites.append((finess, name, city))
    prescribers: list[tuple[str, str, str]] = []
    per_site: list[list[str]] = [[] for _ in sites]
    site_cum = tuple(accumulate(ref.SITE_WEIGHTS))
    rpps_seen: set[str] = set()
    for _ in range(2000):
        while True:
            rpps = rpps_with_key(f"10{rng.randrange(10**8):08d}")
            if rpps not in rpps_seen:
                rpps_seen.add(rpps)
                break
        sex = "F" if rng.random() < 0.5 else "M"
        given = rng.choice(t.given[sex, rng.choice((1, 1, 2))])
        family = rng.choice(t.surnames_upper)
        prescribers.append((rpps, family, given))
        per_site[bisect_left(site_cum, rng.random() * site_cum[-1])].append(rpps)
    return _Reference(
        sites=tuple(sites),
        site_depts=tuple(d for d, _, _ in ref.SITES),
        site_cum=site_cum,
        prescribers=tuple(prescribers),
        site_prescribers=tuple(tuple(p) for p in per_site),
    )


# --- Chunks --------------------------------------------------------------------------------

_COUNT_CUM = tuple(accumulate((50, 24, 12, 7, 3, 2, 1, 1)))  # 1..8 requests, mean ~2.04


def _request_counts(seed: int, index: int, n: int) -> list[int]:
    rnd = random.Random(f"ecluse-synth:{seed}:counts:{index}").random  # noqa: S311
    total = _COUNT_CUM[-1]
    return [bisect_left(_COUNT_CUM, rnd() * total) + 1 for _ in range(n)]


@dataclass(frozen=True)
class _ChunkSpec:
    seed: int
    index: int
    first_patient: int
    first_request: int
    counts: tuple[int, ...]


@dataclass
class _Chunk:
    patients: list[Row]
    requests: list[Row]
    results: list[Row]


def _chunk_specs(seed: int, patients: int) -> Iterator[_ChunkSpec]:
    first_request = 1
    for index, start in enumerate(range(0, patients, CHUNK_PATIENTS)):
        n = min(CHUNK_PATIENTS, patients - start)
        counts = tuple(_request_counts(seed, index, n))
        yield _ChunkSpec(seed, index, start + 1, first_request, counts)
        first_request += sum(counts)


def _make_chunk(spec: _ChunkSpec) -> _Chunk:
    return _ChunkWriter(spec.seed, spec.index, _tables(), _reference(spec.seed)).run(
        spec.first_patient, spec.first_request, spec.counts
    )


# --- One chunk of patients, with their requests and results -------------------------------

_STATUS_OWN = (("PROV", 12), ("RECUP", 18), ("VALI", 15), ("QUAL", 55))
_STATUS_OWN_CUM = tuple(accumulate(w for _, w in _STATUS_OWN))
_NO_OVERRIDES: dict[str, tuple[float, float]] = {}
_OFFSET_2015 = (_FIRST_DAY - _BIRTH_FIRST).days
_HIV_POS_COMMENT = "Sérologie positive : confirmation par Western-Blot sur un second prélèvement"


def _fr_date(day_index: int) -> str:
    d = _FIRST_DAY + timedelta(days=day_index)
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


@dataclass
class _Person:
    pid: int
    sex: str  # M, F, U
    male: bool  # biological sex used for ranges and the NIR
    year: int
    birth_index: int  # index in _Tables.birth_str
    age: int  # in _REFERENCE_YEAR
    gp: str
    home_site: int
    overrides: dict[str, tuple[float, float]]
    avk: bool = False
    lithium: bool = False
    digoxin: bool = False
    hiv: bool = False
    pregnant: bool = False
    cancer: bool = False
    cf: bool = False
    first_pregnancy_day: int = -1


class _ChunkWriter:
    """Generates the rows of one chunk from its own RNG."""

    def __init__(self, seed: int, index: int, tables: _Tables, reference: _Reference) -> None:
        self.rng = random.Random(f"ecluse-synth:{seed}:chunk:{index}")  # noqa: S311
        self.t = tables
        self.r = reference
        self.patients: list[Row] = []
        self.requests: list[Row] = []
        self.results: list[Row] = []

    def run(self, first_patient: int, first_request: int, counts: tuple[int, ...]) -> _Chunk:
        rid = first_request
        for i, n in enumerate(counts):
            rid = self._patient(first_patient + i, rid, n)
        return _Chunk(self.patients, self.requests, self.results)

    # -- identity --

    def _nir_body(self, male: bool, year: int, month: str, cog: str) -> str:
        if cog[1] in "AB" and year < 1976:
            cog = "20" + cog[2:]  # born in Corsica before the 1976 split: department 20
        order = int(self.rng.random() * 999) + 1
        return f"{'1' if male else '2'}{year % 100:02d}{month}{cog}{order:03d}"

    def _birth_place(self, dept: str) -> str:
        rnd, choice, t = self.rng.random, self.rng.choice, self.t
        u = rnd()
        if u < 0.55:
            return choice(t.residence[dept])[0]
        if u < 0.75:
            return choice(t.residence[choice(t.region_depts[t.dept_region[dept]])])[0]
        if u < 0.87:
            return choice(t.other_birth)
        if u < 0.89:
            return choice(t.overseas_birth)
        if u < 0.90:
            return choice(t.residence["2A" if rnd() < 0.5 else "2B"])[0]
        return choice(t.country_birth)

    def _insured_nir(self, male: bool, year: int, child: bool, dept: str) -> str:
        """The NIR of the insured person (ouvrant droit): a parent, or a spouse."""
        rnd = self.rng.random
        if child:
            other_male = rnd() < 0.5
            other_year = max(1930, year - 20 - int(rnd() * 21))
        else:
            other_male = not male
            other_year = min(2004, max(1930, year + int(rnd() * 9) - 4))
        month = f"{int(rnd() * 12) + 1:02d}"
        body = self._nir_body(other_male, other_year, month, self._birth_place(dept))
        return body + nir_key(body)

    def _patient(self, pid: int, rid: int, n_requests: int) -> int:
        rng, t, r = self.rng, self.t, self.r
        rnd, choice = rng.random, rng.choice
        u = rnd()
        sex = "F" if u < 0.515 else ("M" if u < 0.997 else "U")
        male = sex == "M" or (sex == "U" and rnd() < 0.5)
        yi = bisect_left(t.birth_year_cum, rnd() * t.birth_year_cum[-1])
        starts = t.birth_year_starts
        start = starts[yi]
        end = starts[yi + 1] if yi + 1 < len(starts) else len(t.birth_str)
        bidx = start + int(rnd() * (end - start))
        birth = t.birth_str[bidx]
        year = int(birth[:4])
        age = _REFERENCE_YEAR - year

        site = bisect_left(r.site_cum, rnd() * r.site_cum[-1])
        dept = r.site_depts[site]
        region = t.dept_region[dept]
        if rnd() < 0.2:
            dept = choice(t.region_depts[region])
        cog_home, city, postcode = choice(t.residence[dept])
        del cog_home
        birth_place = self._birth_place(dept)

        era = 0 if year < 1960 else (1 if year < 1990 else 2)
        pool = t.given["M" if male else "F", era]
        u = rnd()
        n_given = 1 if u < (0.35 if era == 0 else 0.5) else (2 if u < 0.85 else 3)
        given: list[str] = []
        for _ in range(n_given):
            g = choice(pool)
            if g not in given:
                given.append(g)
        si = int(rnd() * len(t.surnames))
        birth_name = t.surnames_upper[si]
        used_name = birth_name
        if not male and age >= 25 and rnd() < 0.6:
            spouse = t.surnames_upper[int(rnd() * len(t.surnames))]
            if spouse != birth_name:
                used_name = spouse if rnd() < 0.85 else f"{spouse}-{birth_name}"

        # NIR, INS and identity status
        u = rnd()
        nir: str | None
        ins: str | None = None
        oid: str | None = None
        owner: str | None
        if u < 0.03:
            nir, owner = None, None
            status = "PROV" if rnd() < 0.75 else "VALI"
        else:
            child = age < 18
            p_insured = 0.40 if child else (0.05 if not male else 0.02)
            if rnd() < p_insured:
                nir, owner = self._insured_nir(male, year, child, dept), "insured"
                status = "PROV" if rnd() < 0.7 else "RECUP"
            else:
                body = self._nir_body(male, year, birth[5:7], birth_place)
                nir = ins = body + nir_key(body)
                owner, oid = "patient", INS_NIR_TEST_OID
                k = bisect_left(_STATUS_OWN_CUM, rnd() * _STATUS_OWN_CUM[-1])
                status = _STATUS_OWN[k][0]

        # Contact details
        if rnd() < 0.02:
            address: str | None = None
        elif rnd() < 0.08:
            address = choice(ref.LIEUX_DITS)
        else:
            num = int(rnd() * 120) + 1
            address = f"{num}{' bis' if rnd() < 0.04 else ''} {choice(ref.STREETS)}"
        phone: str | None = None
        u = rnd()
        if u < 0.6:
            phone = f"0{6 if rnd() < 0.7 else 7}{int(rnd() * 1e8):08d}"
        elif u < 0.92:
            phone = f"{ref.PHONE_PREFIX.get(region, '02')}{int(rnd() * 1e8):08d}"
        email: str | None = None
        if rnd() < 0.6:
            a = t.ascii_names
            g, f = a[given[0]], a[t.surnames[si]].replace("-", "")
            u = rnd()
            if u < 0.45:
                local = f"{g}.{f}"
            elif u < 0.7:
                local = f"{g[0]}{f}"
            elif u < 0.9:
                local = f"{g}.{f}{year % 100:02d}"
            else:
                local = f"{f}.{g}{int(rnd() * 100)}"
            email = f"{local}@{choice(ref.EMAIL_DOMAINS)}"
        blood: str | None = None
        if rnd() < 0.7:
            blood = t.blood[bisect_left(t.blood_cum, rnd() * t.blood_cum[-1])]

        # Clinical profile (drives tests, values and comments)
        gp_pool = r.site_prescribers[site] or tuple(p[0] for p in r.prescribers)
        person = _Person(pid, sex, male, year, bidx, age, choice(gp_pool), site, _NO_OVERRIDES)
        ov: dict[str, tuple[float, float]] = {}
        if age >= 40 and rnd() < 0.10:
            ov["glu"] = (math.log(1.35), 0.22)
            ov["hba1c"] = (math.log(7.3), 0.14)
        if age >= 65 and rnd() < 0.10:
            ov["crea"] = (math.log(165.0), 0.35)
        person.avk = rnd() < (0.10 if age >= 65 else 0.02 if age >= 40 else 0.0)
        person.lithium = age >= 18 and rnd() < 0.005
        person.digoxin = age >= 70 and rnd() < 0.03
        person.hiv = age >= 18 and rnd() < 0.004
        person.pregnant = not male and 18 <= age <= 42 and rnd() < 0.12
        if person.pregnant:
            ov["bhcg"] = (math.log(25000.0), 1.0)
        person.cancer = age >= 45 and rnd() < 0.03
        if person.cancer:
            ov["psa" if male else "ca153"] = (math.log(9.0 if male else 48.0), 0.7)
        person.cf = age < 40 and rnd() < 0.0005
        if ov:
            person.overrides = ov

        rid = self._requests(person, rid, n_requests)

        comment: str | None = None
        u = rnd()
        if person.pregnant and person.first_pregnancy_day >= 0 and u < 0.35:
            comment = f"Patiente enceinte, terme prévu le {_fr_date(person.first_pregnancy_day + 200)}"
        elif person.hiv and u < 0.5:
            comment = "Suivi VIH, traitement ARV"
        elif person.cf and u < 0.8:
            comment = "Mucoviscidose (mutation F508del)"
        elif person.avk and u < 0.25:
            comment = "Sous AVK, INR cible 2-3"
        elif person.cancer and not male and u < 0.3:
            comment = "ATCD cancer du sein"
        elif rnd() < 0.025:
            comment = choice(ref.PATIENT_COMMENTS_GENERIC)

        self.patients.append(
            (
                pid,
                f"IPP{pid:08d}",
                nir,
                owner,
                ins,
                oid,
                status,
                birth_name,
                used_name,
                " ".join(given),
                sex,
                birth,
                birth_place,
                address,
                postcode if address else None,
                city if address else None,
                phone,
                email,
                blood,
                comment,
            )
        )
        return rid

    # -- requests and results --

    def _requests(self, p: _Person, rid: int, n: int) -> int:
        rng, t, r = self.rng, self.t, self.r
        rnd, choice = rng.random, rng.choice
        open_days = t.open_days
        lo = min(bisect_left(open_days, p.birth_index - _OFFSET_2015), len(open_days) - 1)
        span = len(open_days) - lo
        days = sorted(open_days[lo + int(rnd() * span)] for _ in range(n))
        for day in days:
            site = p.home_site if rnd() < 0.85 else bisect_left(r.site_cum, rnd() * r.site_cum[-1])
            u = rnd()
            if u < 0.02:
                prescriber: str | None = None
            elif u < 0.72:
                prescriber = p.gp
            else:
                prescriber = choice(r.site_prescribers[site] or (p.gp,))
            m = 420 + int(rnd() * 300) if rnd() < 0.8 else 720 + int(rnd() * 420)
            m2 = m + 10 + int(rnd() * 170)
            ds, off = t.day_str[day], t.day_off[day]
            collected = f"{ds}T{m // 60:02d}:{m % 60:02d}:00{off}"
            received = f"{ds}T{m2 // 60:02d}:{m2 % 60:02d}:00{off}"
            if rnd() < 0.85:
                observed = collected
            else:
                m3 = m2 + 15 + int(rnd() * 105)
                observed = f"{ds}T{m3 // 60:02d}:{m3 % 60:02d}:00{off}"
            u = rnd()
            status = "final" if u < 0.97 else ("partial" if u < 0.99 else "corrected")
            age = int(ds[:4]) - p.year
            specimen, comment = self._results(p, rid, day, age, observed, status)
            self.requests.append(
                (
                    rid,
                    f"D{rid:09d}",
                    p.pid,
                    r.sites[site][0],
                    prescriber,
                    collected,
                    received,
                    specimen,
                    status,
                    comment,
                )
            )
            rid += 1
        return rid

    def _num(
        self, key: str, male: bool, ov: dict[str, tuple[float, float]], value: float | None = None
    ) -> tuple[_Test, str | None, str | None, str, str, float]:
        """The test, ref_low, ref_high, printed value, flag and numeric value of one result."""
        test = self.t.tests[key]
        if value is None:
            o = ov.get(key)
            if o is None:
                mu, sd = (test.mu_m, test.sd_m) if male else (test.mu_f, test.sd_f)
            else:
                mu, sd = o
            value = self.rng.gauss(mu, sd)
            if test.log:
                value = math.exp(value)
        if value < test.floor:
            value = test.floor
        s = test.fmt % value
        x = float(s)
        ranges, limits = test.ranges, test.limits
        if male:
            lo_s, hi_s, lo, hi = ranges[0], ranges[1], limits[0], limits[1]
        else:
            lo_s, hi_s, lo, hi = ranges[2], ranges[3], limits[2], limits[3]
        flag = "L" if lo is not None and x < lo else ("H" if hi is not None and x > hi else "N")
        return test, lo_s, hi_s, s, flag, x

    def _results(
        self, p: _Person, rid: int, day: int, age: int, observed: str, req_status: str
    ) -> tuple[str, str | None]:
        """Append the results of one request; return its specimen type and comment."""
        rng, t = self.rng, self.t
        rnd, choice = rng.random, rng.choice
        male, ov = p.male, p.overrides
        # (kind, key, category): kind "n" numeric test, "q" qualitative, "g" genetic (key = index)
        wanted: list[tuple[str, str, str | None]] = []
        specimens: set[str] = set()
        extra_comment: str | None = None

        preg_only = False
        if not male and 15 <= age <= 49 and rnd() < (0.5 if p.pregnant else 0.08):
            if rnd() < 0.7:
                wanted.append(("n", "bhcg", "pregnancy"))
            else:
                wanted.append(("q", "uhcg", "pregnancy"))
                preg_only = rnd() < 0.5
            if p.pregnant and p.first_pregnancy_day < 0:
                p.first_pregnancy_day = day
                extra_comment = "Grossesse, 1er trimestre"
        if not preg_only:
            for keys, prob, spec in t.panels:
                if rnd() < prob:
                    specimens.add(spec)
                    wanted.extend(("n", k, None) for k in keys)
            if not specimens:
                keys, _, spec = t.panels[int(rnd() * len(t.panels))]
                specimens.add(spec)
                wanted.extend(("n", k, None) for k in keys)
        if age >= 15 and (rnd() < 0.025 or (p.hiv and rnd() < 0.3)):
            wanted.append(("q", "hiv", "hiv"))
        if male and age >= 50 and rnd() < (0.6 if p.cancer else 0.10):
            wanted.append(("n", "psa", "tumour_marker"))
        if not male and age >= 40:
            if rnd() < (0.6 if p.cancer else 0.03):
                wanted.append(("n", "ca153", "tumour_marker"))
            if rnd() < 0.03:
                wanted.append(("n", "ca125", "tumour_marker"))
        if age >= 45 and rnd() < 0.015:
            wanted.append(("n", "cea", "tumour_marker"))
        if p.avk and rnd() < 0.85:
            wanted = [w for w in wanted if w[1] != "inr"]
            wanted.append(("n", "inr_avk", "drug_monitoring"))
            specimens.add("PLAS")
            if rnd() < 0.3:
                extra_comment = "Sous AVK (fluindione), contrôle INR"
        if p.lithium and rnd() < 0.7:
            wanted.append(("n", "lith", "drug_monitoring"))
        if p.digoxin and rnd() < 0.5:
            wanted.append(("n", "digo", "drug_monitoring"))
        if rnd() < 0.003:
            wanted.append(("n", "vanco", "drug_monitoring"))
        if rnd() < 0.008 or (p.cf and rnd() < 0.3):
            wanted.append(("g", "0" if p.cf else str(int(rnd() * len(ref.GENETIC_TESTS))), "genetic"))
            specimens.add("BLD")

        if preg_only and len(wanted) == 1:
            specimen = "UR"
        elif "SER" in specimens or not specimens:
            specimen = "SER"
        elif "BLD" in specimens:
            specimen = "BLD"
        else:
            specimen = "PLAS"

        n = len(wanted)
        partial_from = n - max(1, n // 3) if req_status == "partial" else n
        corrected_at = int(rnd() * n) if req_status == "corrected" else -1
        vals: dict[str, float] = {}
        append = self.results.append
        pid = p.pid
        for i, (kind, key, category) in enumerate(wanted):
            status = "P" if i >= partial_from else ("C" if i == corrected_at else "F")
            comment: str | None = choice(ref.RESULT_COMMENTS) if rnd() < 0.028 else None
            if kind == "n":
                forced: float | None = None
                if key == "hct" and "hb" in vals:
                    forced = vals["hb"] * 3.0 + rng.gauss(0.0, 1.2)
                elif key == "egfr":
                    if "crea" not in vals or age < 18:
                        continue
                    forced = _ckd_epi(vals["crea"], age, male)
                elif key == "ldl":
                    tg = vals.get("tg", 1.0)
                    if tg >= 3.4:
                        loinc, label, unit = "13457-7", "Cholestérol LDL calculé", "g/L"
                        append(
                            (
                                rid,
                                pid,
                                loinc,
                                label,
                                None,
                                "NM",
                                unit,
                                None,
                                "1.60",
                                None,
                                status,
                                None,
                                observed,
                                "Non calculable (triglycérides > 3.40 g/L)",
                            )
                        )
                        continue
                    forced = vals.get("chol", 2.0) - vals.get("hdl", 0.5) - tg / 5.0
                test, lo_s, hi_s, s, flag, x = self._num(key, male, ov, forced)
                vals[key] = x
                if key == "k" and x >= 6.0:
                    comment = f"Valeur critique téléphonée au prescripteur à {observed[11:16]}"
                append(
                    (
                        rid,
                        pid,
                        test.loinc,
                        test.label,
                        s,
                        "NM",
                        test.unit,
                        lo_s,
                        hi_s,
                        flag,
                        status,
                        category,
                        observed,
                        comment,
                    )
                )
            elif kind == "q":
                if key == "hiv":
                    loinc, label = ref.HIV_TEST
                    positive = p.hiv
                    if positive:
                        comment = _HIV_POS_COMMENT
                else:
                    loinc, label = ref.URINE_HCG_TEST
                    positive = p.pregnant
                append(
                    (
                        rid,
                        pid,
                        loinc,
                        label,
                        "Positif" if positive else "Négatif",
                        "CE",
                        None,
                        None,
                        None,
                        "A" if positive else "N",
                        status,
                        category,
                        observed,
                        comment,
                    )
                )
            else:
                g = int(key)
                loinc_g, label, outcomes = ref.GENETIC_TESTS[g]
                if p.cf and g == 0:
                    j = len(outcomes) - 1
                else:
                    cum = list(accumulate(w for _, w in outcomes))
                    j = bisect_left(cum, rnd() * cum[-1])
                append(
                    (
                        rid,
                        pid,
                        loinc_g,
                        label,
                        outcomes[j][0],
                        "ST",
                        None,
                        None,
                        None,
                        "N" if j == 0 else "A",
                        status,
                        category,
                        observed,
                        comment,
                    )
                )

        comment_req: str | None = None
        if rnd() < 0.10:
            if extra_comment is not None and rnd() < 0.6:
                comment_req = extra_comment
            elif p.hiv and rnd() < 0.5:
                comment_req = "Suivi VIH, patient sous ARV"
            else:
                comment_req = choice(ref.REQUEST_COMMENTS)
        return specimen, comment_req


def _ckd_epi(creat_umol: float, age: int, male: bool) -> float:
    """eGFR by CKD-EPI 2009 (mL/min/1.73 m²), without the ethnicity factor."""
    scr = creat_umol / 88.4
    kappa, alpha = (0.9, -0.411) if male else (0.7, -0.329)
    ratio = scr / kappa
    gfr = float(141.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.209 * 0.993**age)
    return gfr if male else gfr * 1.018


# --- Database ------------------------------------------------------------------------------


def _schema_sql() -> str:
    return importlib.resources.files("ecluse.legacy").joinpath("schema.sql").read_text("utf-8")


def _dedupe_nirs(rows: list[Row], seen: set[str]) -> None:
    """Keep each patient's own NIR unique: on a clash, take the next free order number."""
    for i, row in enumerate(rows):
        nir = row[2]
        if not isinstance(nir, str) or row[3] != "patient":
            continue
        body = nir[:13]
        if body in seen:
            order = int(body[10:13])
            while body in seen:
                order = order % 999 + 1
                body = f"{body[:10]}{order:03d}"
            nir = body + nir_key(body)
            new = list(row)
            new[2] = nir
            if new[4] is not None:
                new[4] = nir
            rows[i] = tuple(new)
        seen.add(body)


def _chunks(specs: Iterator[_ChunkSpec], workers: int) -> Iterator[_Chunk]:
    if workers <= 0:
        for spec in specs:
            yield _make_chunk(spec)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque[Future[_Chunk]] = deque()
        try:
            for spec in specs:
                pending.append(pool.submit(_make_chunk, spec))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


_INSERT_PATIENT = f"INSERT INTO patients VALUES ({', '.join('?' * 20)})"
_INSERT_REQUEST = f"INSERT INTO requests VALUES ({', '.join('?' * 10)})"
_INSERT_RESULT = (
    "INSERT INTO results (request_id, patient_id, loinc, label, value, value_type, unit, ref_low, "
    f"ref_high, flag, status, category, observed_at, comment) VALUES ({', '.join('?' * 14)})"
)


def _write(
    conn: sqlite3.Connection,
    *,
    patients: int,
    seed: int,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int, int, int]:
    schema = _schema_sql()
    conn.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
        "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-262144;"
    )
    conn.executescript(schema)
    # Secondary indexes are built once at the end (re-running the schema recreates them).
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall():
        conn.execute(f'DROP INDEX "{name}"')

    reference = _reference(seed)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO sites VALUES (?, ?, ?)", reference.sites)
    conn.executemany("INSERT INTO prescribers VALUES (?, ?, ?)", reference.prescribers)
    n_requests = n_results = done = 0
    seen: set[str] = set()
    for chunk in _chunks(_chunk_specs(seed, patients), workers):
        _dedupe_nirs(chunk.patients, seen)
        conn.executemany(_INSERT_PATIENT, chunk.patients)
        conn.executemany(_INSERT_REQUEST, chunk.requests)
        conn.executemany(_INSERT_RESULT, chunk.results)
        done += len(chunk.patients)
        n_requests += len(chunk.requests)
        n_results += len(chunk.results)
        if progress is not None:
            progress(done, patients)
    created = (date(2025, 1, 1) + timedelta(days=seed % 365)).isoformat() + "T02:00:00+01:00"
    info = {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "synthetic": "true",
        "seed": str(seed),
        "patients": str(patients),
        "requests": str(n_requests),
        "results": str(n_results),
        "sites": str(len(reference.sites)),
        "prescribers": str(len(reference.prescribers)),
        "ins_oid": INS_NIR_TEST_OID,
        "created_at": created,
    }
    conn.executemany("INSERT INTO lis_info VALUES (?, ?)", sorted(info.items()))
    conn.execute("COMMIT")
    conn.executescript(schema)
    return n_requests, n_results, len(reference.sites), len(reference.prescribers)


def _publish(tmp: Path, path: Path) -> None:
    """Move the finished file into place without ever replacing an existing one."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ConfigError(f"{path} already exists", hint="choose another path or delete the existing file") from None
    except OSError:
        # No hard links on this file system: check, then rename (same directory).
        if path.exists():
            raise ConfigError(
                f"{path} already exists", hint="choose another path or delete the existing file"
            ) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def generate(
    path: Path,
    *,
    patients: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> SynthStats:
    """Create a synthetic legacy LIS database at ``path`` and return what it holds.

    ``patients`` patients get about 2 requests each and about 6 results per request. The same
    ``seed`` gives the same content. ``progress(done, total)`` is called after every chunk of
    :data:`CHUNK_PATIENTS` patients. ``workers`` is the number of generator processes (0: all in
    this process; default: 0 for small runs, else up to 2). The file is written under a
    temporary name in the same directory and renamed at the end; an existing ``path`` is never
    overwritten (:class:`~ecluse.errors.ConfigError`).
    """
    path = Path(path)
    if patients < 0:
        raise ConfigError("the number of patients cannot be negative", hint="pass --patients 1 or more")
    if path.exists():
        raise ConfigError(f"{path} already exists", hint="choose another path or delete the existing file")
    if not path.parent.is_dir():
        raise ConfigError(f"directory {path.parent} does not exist", hint="create it first")
    if workers is None:
        workers = 0 if patients <= 4 * CHUNK_PATIENTS else min(2, os.cpu_count() or 1)

    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            n_req, n_res, n_sites, n_presc = _write(
                conn, patients=patients, seed=seed, workers=workers, progress=progress
            )
        finally:
            conn.close()
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return SynthStats(
        path=path,
        patients=patients,
        requests=n_req,
        results=n_res,
        sites=n_sites,
        prescribers=n_presc,
        size_bytes=path.stat().st_size,
    )
