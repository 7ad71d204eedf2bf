"""Build the Cython extensions of the modules listed in src/ecluse/_compiled.py (everything else is
in pyproject.toml). They are an optimisation: without Cython or a C compiler, or with
ECLUSE_PURE_PYTHON=1, the package installs as pure Python (docs/decisions/0005-compiled-hot-paths.md).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

HERE = Path(__file__).resolve().parent


def _modules() -> tuple[str, ...]:
    tree = ast.parse((HERE / "src/ecluse/_compiled.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "MODULES":
            return tuple(ast.literal_eval(node.value))  # type: ignore[arg-type]
    raise SystemExit("setup.py: MODULES not found in src/ecluse/_compiled.py")


def _extensions() -> list[Extension]:
    if os.environ.get("ECLUSE_PURE_PYTHON", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("setup.py: Cython is not installed: building pure Python")
        return []
    # optional: a failed compilation leaves that module interpreted instead of failing the install;
    # `make build` runs with ECLUSE_REQUIRE_COMPILED=1, which makes it fail
    optional = os.environ.get("ECLUSE_REQUIRE_COMPILED", "") in ("", "0")
    exts = [Extension(name, [f"src/{name.replace('.', '/')}.py"], optional=optional) for name in _modules()]
    return cythonize(exts, build_dir="build/cython", quiet=True,
                     compiler_directives={"language_level": "3"})


class build_ext(_build_ext):
    """In place (``make build``), each extension replaces the previous one by a rename: copied over it,
    a module mapped by a running ``ecluse`` process would change under it (a crash, not an error)."""

    def copy_file(self, infile, outfile, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self.inplace:
            return super().copy_file(infile, outfile, *args, **kwargs)
        tmp = f"{outfile}.{os.getpid()}.tmp"
        _, copied = super().copy_file(infile, tmp, *args, **kwargs)
        os.replace(tmp, outfile)
        return outfile, copied


setup(ext_modules=_extensions(), cmdclass={"build_ext": build_ext})
