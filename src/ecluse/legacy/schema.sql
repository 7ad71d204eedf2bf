-- The synthetic legacy LIS: shaped like a French lab information system of the kind
-- that leaked in 2021 (patients with NIR/INS and contact details, requests, results, and
-- free-text comment columns). Text columns hold values as the legacy system prints them.

CREATE TABLE IF NOT EXISTS lis_info (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sites (
    finess TEXT PRIMARY KEY,          -- 9 characters, Luhn key
    name   TEXT NOT NULL,
    city   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS prescribers (
    rpps   TEXT PRIMARY KEY,          -- 11 digits, Luhn key
    family TEXT NOT NULL,
    given  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS patients (
    id              INTEGER PRIMARY KEY,
    ipp             TEXT NOT NULL UNIQUE,   -- the lab's patient id
    nir             TEXT,                   -- 15 characters, valid key; 2A/2B for Corsica
    nir_owner       TEXT,                   -- 'patient' or 'insured' (ouvrant droit)
    ins             TEXT,                   -- matricule INS (NULL when not retrieved)
    ins_oid         TEXT,                   -- 1.2.250.1.213.1.4.8/.9/.10/.11
    identity_status TEXT,                   -- PROV, RECUP, VALI, QUAL
    birth_name      TEXT,
    used_name       TEXT,
    given_names     TEXT,                   -- birth first names, space separated
    sex             TEXT,                   -- M, F, U
    birth_date      TEXT,                   -- YYYY-MM-DD
    birth_place     TEXT,                   -- INSEE COG commune code
    address         TEXT,
    postcode        TEXT,
    city            TEXT,
    phone           TEXT,
    email           TEXT,
    blood_group     TEXT,                   -- A+, O-, ...
    comment         TEXT                    -- free text, as typed at the desk
);

CREATE TABLE IF NOT EXISTS requests (
    id              INTEGER PRIMARY KEY,
    request_no      TEXT NOT NULL UNIQUE,   -- the lab's request number
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    site_finess     TEXT NOT NULL REFERENCES sites(finess),
    prescriber_rpps TEXT REFERENCES prescribers(rpps),
    collected_at    TEXT NOT NULL,          -- ISO 8601 with offset
    received_at     TEXT,
    specimen_type   TEXT,                   -- HL7 table 0487
    status          TEXT,                   -- final, partial, corrected
    comment         TEXT                    -- free-text clinical information
);

CREATE TABLE IF NOT EXISTS results (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES requests(id),
    patient_id  INTEGER NOT NULL REFERENCES patients(id),
    loinc       TEXT,
    label       TEXT,                       -- French label
    value       TEXT,
    value_type  TEXT NOT NULL,              -- NM, ST, CE
    unit        TEXT,                       -- UCUM
    ref_low     TEXT,
    ref_high    TEXT,
    flag        TEXT,                       -- HL7 table 0078
    status      TEXT,                       -- F, P, C
    category    TEXT,                       -- hiv, genetic, pregnancy, tumour_marker, drug_monitoring or NULL
    observed_at TEXT,
    comment     TEXT                        -- free-text comment on the result
);

CREATE INDEX IF NOT EXISTS requests_patient ON requests(patient_id);
CREATE INDEX IF NOT EXISTS results_request ON results(request_id);
CREATE INDEX IF NOT EXISTS results_patient ON results(patient_id);
