"""Écluse: move a medical lab's patient data under a signed scope, encrypted end to end."""
from ecluse import _compiled

__version__ = "0.1.0"
__all__ = ["__version__"]

if _compiled.pure_python():
    _compiled.install_source_finder()
