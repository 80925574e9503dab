"""The strict gates run with the suite: architecture layers (import-linter), lint (ruff),
and types (mypy, strict on domain/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def test_layers_are_kept() -> None:
    r = _run(str(BIN / "lint-imports"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_ruff_is_clean() -> None:
    r = _run(str(BIN / "ruff"), "check", "src", "tests", "bench")
    assert r.returncode == 0, r.stdout[-4000:]


@pytest.mark.slow
def test_domain_is_strictly_typed() -> None:
    r = _run(str(BIN / "mypy"), "src/bookpulse/domain")
    assert r.returncode == 0, r.stdout[-4000:]
