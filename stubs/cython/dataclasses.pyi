# In pure-Python mode cython.dataclasses is the standard library's dataclasses module.
from dataclasses import dataclass as dataclass, field as field, fields as fields, replace as replace
