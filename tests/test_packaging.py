# SPDX-License-Identifier: GPL-3.0-or-later
"""The package as users install it: one version, a licence, extras, honest errors for missing weights."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_written_once():
    version = re.search(r'^__version__ = "([^"]+)"', (ROOT / "python/gensemcom/version.py").read_text(), re.M)[1]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "version.py" in cmake and not re.search(r"project\([^)]*VERSION\s+\d", cmake)
    out = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.startswith(f"gensemcom {version} (")


def test_licence_and_changelog():
    licence = (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3" in licence
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "GPL-3.0-or-later"
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_the_offline_default_needs_no_large_model_or_distributed_stack():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    for heavy in ("ray", "diffusers", "peft", "bitsandbytes", "torchao", "accelerate"):
        assert not re.search(rf"(^|\s|\"){heavy}[\[<>=~ ]", base + " "), heavy
    extras = project["optional-dependencies"]
    assert {"large", "ray", "dev"} <= set(extras)
    assert any(d.startswith("ray") for d in extras["ray"])
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[large,ray,dev]'" in makefile and "venv-offline" in makefile


def test_every_python_file_says_its_licence():
    missing = [str(p.relative_to(ROOT)) for folder in ("python", "tests", "scripts", "benchmarks", "simulations")
               for p in (ROOT / folder).rglob("*.py")
               if "SPDX-License-Identifier: GPL-3.0-or-later" not in "".join(p.read_text().splitlines(True)[:3])]
    assert not missing, f"files without an SPDX line in their first lines: {missing[:10]}"


@pytest.mark.parametrize("models", ["large"])
def test_missing_weights_are_a_user_error_that_says_what_to_do(models, tmp_path, monkeypatch, astronaut):
    """Exit 2, one line: the card, the Hugging Face cache folder as it is laid out, the command."""
    from PIL import Image
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    Image.fromarray(astronaut[::4, ::4]).save(tmp_path / "a.png")
    out = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "transmit", str(tmp_path / "a.png"),
                          "--snr", "10", "--cpp", "1/16", "--models", models, "--out", str(tmp_path / "o.png")],
                         capture_output=True, text=True, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and "internal error" not in lines[0] and "Traceback" not in out.stderr
    assert "model card" in lines[0] and str(tmp_path / "hf" / "hub") in lines[0]
    assert "snapshots/<commit of refs/main>" in lines[0] and "gensemcom models download" in lines[0]
