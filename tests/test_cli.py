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


def test_radio_endpoints_run_the_models_in_a_child_process_by_default():
    """tx/rx --executor: a child process for uhd:/soapy: (real time), a thread otherwise."""
    txrx, parser = cli.command_parser("rx")
    for endpoint, expected in (("uhd:type=b200", "process"), ("soapy:driver=rtlsdr", "process"),
                               ("zmq:tcp://127.0.0.1:5556", "thread"), ("sigmf:capture", "thread")):
        args = parser.parse_args(["--from", endpoint, "--out", "."])
        assert txrx._executor(args, endpoint) == expected
    args = parser.parse_args(["--from", "uhd:", "--out", ".", "--executor", "thread"])
    assert txrx._executor(args, "uhd:") == "thread"


def test_radio_sources_decode_with_bounded_effort_by_default():
    """rx --effort: fast (bounded decoding, keeps pace) for uhd:/soapy:, full otherwise; stated wins."""
    txrx, parser = cli.command_parser("rx")
    for endpoint, expected in (("uhd:type=b200", "fast"), ("soapy:driver=rtlsdr", "fast"),
                               ("zmq:tcp://127.0.0.1:5556", "full"), ("sigmf:capture", "full")):
        assert txrx._effort(parser.parse_args(["--from", endpoint, "--out", "."])) == expected
    assert txrx._effort(parser.parse_args(["--from", "uhd:", "--out", ".", "--effort", "full"])) == "full"
