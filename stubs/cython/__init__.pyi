# Type stub for the parts of Cython's pure-Python mode (the `cython` shadow module) that Écluse's
# compiled modules use. The record classes need `dataclasses` and `cclass` typed, so that mypy
# sees them as the dataclasses they are; anything else is left untyped, as before this stub.
from typing import Any, TypeVar

from . import dataclasses as dataclasses

_T = TypeVar("_T")

compiled: bool

def cclass(cls: _T) -> _T: ...
def __getattr__(name: str) -> Any: ...
