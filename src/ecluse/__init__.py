"""Écluse: move a medical lab's patient data under a signed scope, encrypted end to end."""
__version__ = "0.1.0"
__all__ = ["__version__"]
