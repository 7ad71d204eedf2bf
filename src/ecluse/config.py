"""Settings: one table (name, default, help) feeding the dataclass, the environment and the docs.

Settings are passed in, never read from a module-level singleton. ``Settings.from_env``
reads ``ECLUSE_<NAME>`` variables; ``docs/reference/settings.md`` is generated from
:data:`SETTINGS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

from ecluse.errors import ConfigError

__all__ = ["SETTINGS", "Setting", "Settings"]


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("workspace", ".ecluse", "Directory of the workspace (database, audit log, staging, keys)."),
    Setting("database_url", "", "SQLAlchemy URL of the workspace database; empty means SQLite "
            "in the workspace directory. PostgreSQL: postgresql+psycopg://user@host/db."),
    Setting("export_workers", "2", "Processes used by export and receive (one per core)."),
    Setting("kdf", "default", "Cost of the scrypt protection of new signing keys: 'default' "
            "(minisign's own, about 1 GiB of memory) or 'interactive' (faster, for demos and tests)."),
    Setting("residual_min_confidence", "0.5", "Confidence from which the residual scan of "
            "'close' counts a finding as patient data left behind."),
)


@dataclass(frozen=True, slots=True)
class Settings:
    workspace: Path = Path(".ecluse")
    database_url: str = ""
    export_workers: int = 2
    kdf: str = "default"
    residual_min_confidence: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``ECLUSE_*`` variables, then explicit overrides (e.g. CLI options)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"ECLUSE_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.kdf not in ("default", "interactive"):
            raise ConfigError("setting kdf must be 'default' or 'interactive'",
                              hint="set ECLUSE_KDF=default (recommended) or interactive")
        if settings.export_workers < 1:
            raise ConfigError("setting export_workers must be at least 1")
        return settings


def _convert(name: str, raw: str) -> object:
    try:
        if name == "workspace":
            return Path(raw)
        if name == "export_workers":
            return int(raw)
        if name == "residual_min_confidence":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"setting ECLUSE_{name.upper()} is not a valid value",
                          hint="see docs/reference/settings.md") from exc
    return raw
