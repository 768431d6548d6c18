# SPDX-License-Identifier: GPL-3.0-or-later
"""The gensemcom command's frame: help, version, one-line errors with exit code 2."""
import subprocess
import sys

from gnuradio.gensemcom import cli


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_help_lists_every_command():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in cli.COMMANDS:
        assert f"  {name} " in proc.stdout


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("gensemcom ")


def test_unknown_command_is_one_line_exit_2():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "unknown command 'frobnicate'" in proc.stderr
    assert "Traceback" not in proc.stderr
