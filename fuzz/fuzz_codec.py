"""atheris harness: a lab-format reader fed arbitrary bytes raises only FormatError.

Run: sh fuzz/run.sh NAME [SECONDS]   (NAME: hl7v25, hprim_sante, hprim_net, csvfile)
or:  ECLUSE_FUZZ_CODEC=hl7v25 nice -n 10 .venv/bin/python fuzz/fuzz_codec.py fuzz/corpus/hl7v25 -max_total_time=600
"""

import os
import sys

# atheris instruments Python bytecode: fuzz the Python source of the modules that are also compiled
# (ecluse._compiled); tests/test_compiled.py checks that compiled and source behave the same
os.environ["ECLUSE_PURE_PYTHON"] = "1"

import atheris

import ecluse  # noqa: F401  (installs the source finder before atheris's import hook, which must come first)

# the codec modules are imported here, inside the instrumented block: get_codec imports them lazily,
# and a module first imported outside this block would be fuzzed blind (no coverage feedback)
with atheris.instrument_imports():
    from ecluse.errors import FormatError
    from ecluse.formats import _common, _ranges, csvfile, hl7v25, hprim_net, hprim_sante  # noqa: F401
    from ecluse.formats.codec import get_codec

#: corpus directory name → codec name
CODECS = {"hl7v25": "hl7v25", "hprim_sante": "hprim-sante", "hprim_net": "hprim-net", "csvfile": "csv"}
CODEC = get_codec(CODECS[os.environ.get("ECLUSE_FUZZ_CODEC", "hl7v25")])


def test_one_input(data: bytes) -> None:
    try:
        for _ in CODEC.read(data, filename="fuzz"):
            pass
    except FormatError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
