"""atheris harness: ecluse.formats.hl7v25.Hl7Codec.read on arbitrary bytes raises only FormatError.

Run: nice -n 10 .venv/bin/python fuzz/fuzz_hl7v25.py fuzz/corpus/hl7v25 -max_total_time=600
"""

import sys

import atheris

with atheris.instrument_imports():
    from ecluse.errors import FormatError
    from ecluse.formats.hl7v25 import Hl7Codec

CODEC = Hl7Codec()


def test_one_input(data: bytes) -> None:
    try:
        for _ in CODEC.read(data, filename="fuzz"):
            pass
    except FormatError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
