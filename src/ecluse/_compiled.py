"""Which modules are compiled with Cython, and a switch to run their Python source instead.

The modules listed in :data:`MODULES` are plain Python (type-checked by mypy, read by humans) that
``setup.py`` also compiles with Cython into extension modules when the package is installed or
built (``make build``). Python imports the extension before the ``.py`` file beside it. Nothing in
the source depends on being compiled: without a C compiler or Cython the package installs and runs
the same code, interpreted, more slowly (docs/decisions/0005-compiled-hot-paths.md).

``ECLUSE_PURE_PYTHON=1`` in the environment makes Python import the ``.py`` source of these modules
even where the extension is built: for the fuzzer (atheris instruments Python bytecode only), for
the tests that compare the compiled and the interpreted code, and for debugging.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # importlib.abc alone costs about 20 ms: every `import ecluse` would pay it
    import importlib.machinery
    from collections.abc import Sequence
    from types import ModuleType

#: Modules compiled by setup.py (read by setup.py without importing the package: keep it a literal).
MODULES: Final[tuple[str, ...]] = (
    "ecluse.formats._common",
    "ecluse.formats._ranges",
    "ecluse.formats.csvfile",
    "ecluse.formats.hl7v25",
    "ecluse.formats.hprim_net",
    "ecluse.formats.hprim_sante",
    "ecluse.formats.records",
    "ecluse.scan._detect",
    "ecluse.scan._engine",
    "ecluse.scan._lexicon",
    "ecluse.scan._prefilter",
    "ecluse.scan._sources",
)

#: The environment variable that turns compiled modules off.
PURE_ENV: Final = "ECLUSE_PURE_PYTHON"


def pure_python() -> bool:
    """Whether ``ECLUSE_PURE_PYTHON`` asks for the Python source of the compiled modules."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def compiled() -> dict[str, bool]:
    """For each module of :data:`MODULES`, whether the loaded module is the compiled extension.

    Imports the modules (they are all cheap to import)."""
    out = {}
    for name in MODULES:
        module = importlib.import_module(name)
        out[name] = not (module.__file__ or "").endswith(".py")
    return out


class _SourceFinder:
    """Finds the ``.py`` source of the modules of :data:`MODULES`, ahead of their extension (a meta
    path finder: ``sys.meta_path`` asks it ``find_spec``)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        for folder in path:
            source = os.path.join(folder, f"{leaf}.py")
            if os.path.isfile(source):
                import importlib.util

                return importlib.util.spec_from_file_location(fullname, source)
        return None


def install_source_finder() -> None:
    """Put the source finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())
