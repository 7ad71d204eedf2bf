"""atheris harness: ecluse.formats.hprim_net.HprimNetCodec.read on arbitrary bytes raises only FormatError.

Run: nice -n 10 .venv/bin/python fuzz/fuzz_hprim_net.py fuzz/corpus/hprim_net -max_total_time=600
"""

import sys

import atheris

with atheris.instrument_imports():
    from ecluse.errors import FormatError
    from ecluse.formats.hprim_net import HprimNetCodec

CODEC = HprimNetCodec()


def test_one_input(data: bytes) -> None:
    try:
        for _ in CODEC.read(data, filename="fuzz"):
            pass
    except FormatError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
