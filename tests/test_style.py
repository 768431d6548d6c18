# SPDX-License-Identifier: GPL-3.0-or-later
"""The code follows one style (pycodestyle, 120 columns), as `make lint` checks it."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("python", "tests", "examples", "scripts", "benchmarks", "simulations")


def test_pycodestyle_is_clean():
    pycodestyle = pytest.importorskip("pycodestyle")
    files = [str(p) for folder in FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    report = pycodestyle.StyleGuide(max_line_length=120, quiet=True).check_files(files)
    assert report.total_errors == 0, f"{report.total_errors} style errors: run `make lint`"
