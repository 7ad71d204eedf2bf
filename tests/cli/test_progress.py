"""The progress bar of long commands, drawn as on a terminal (the other CLI tests have none)."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from ecluse.cli import _common


def test_progress_bar_draws_before_its_first_update_and_after(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(_common, "console", Console(file=out, force_terminal=True, width=100))
    with _common.progress_bar("scanning (MB on disk)") as update:
        time.sleep(0.3)  # Rich redraws about ten times a second: the total is still unknown here
        update(5, 10)
        time.sleep(0.3)
    text = out.getvalue()
    assert "scanning (MB on disk)" in text
    assert "0/?" in text and "5/10" in text
