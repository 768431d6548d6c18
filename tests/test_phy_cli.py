# SPDX-License-Identifier: GPL-3.0-or-later
"""`gensemcom link`: JSON, sweep with CSV and plot, one-line errors with exit code 2; GRC."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[1]


def link(*args):
    return subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "link", *args],
                          capture_output=True, text=True, timeout=170)


@pytest.mark.parametrize("args,message", [
    (["--mcs", "8psk"], "unknown MCS '8psk'; choose from bpsk, qpsk, 16qam, 64qam"),
    (["--channel", "rain"], "unknown channel 'rain'; choose from awgn, rayleigh, rician, multipath"),
    (["--payload-bytes", "4097"], "payload must be 1 to 4096 bytes, got 4097"),
    (["--snr", "loud"], "SNR must be a number in dB, got 'loud'"),
    (["--sweep", "0:ten:2"], "SNR must be a number in dB, got 'ten'"),
    (["--cfo", "0.5"], "--cfo must lie in (-0.4, 0.4)"),
    (["--csv", "/no/such/folder/x.csv"], "output folder does not exist"),
    (["--impairments", "mars"], "invalid choice: 'mars' (choose from 'none', 'lab-cable'"),
    (["--iq-phase-deg", "90"], "iq_phase_deg must be <= 45"),
    (["--sro-ppm", "20", "--carrier-hz", "2.45e9"], "|cfo| must be below 0.4 subcarrier spacings"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    proc = link(*args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.flowgraph
def test_json_run_reports_every_field():
    proc = link("--mcs", "qpsk-1/2", "--snr", "12", "--channel", "awgn", "--packets", "8",
                "--payload-bytes", "200", "--seed", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    for key in ("mcs", "snr_db", "channel", "packets_sent", "packets_ok", "per", "ber",
                "bits_compared", "samples", "samples_per_s", "wall_s"):
        assert key in row
    assert (row["mcs"], row["snr_db"], row["channel"], row["packets_sent"]) == ("qpsk-1/2", 12.0, "awgn", 8)
    assert row["per"] == 1 - row["packets_ok"] / row["packets_sent"] == 0.0
    assert row["bits_compared"] == 8 * 200 * 8 and row["ber"] == 0.0
    assert row["samples_per_s"] == pytest.approx(row["samples"] / row["wall_s"])


@pytest.mark.flowgraph
def test_impairment_preset_with_overrides():
    proc = link("--mcs", "qpsk-1/2", "--snr", "15", "--packets", "4", "--payload-bytes", "300",
                "--impairments", "b200-indoor", "--sro-ppm", "-3", "--phase-noise-dbc", "-90", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert (row["impairments"], row["channel"], row["packets_ok"]) == ("b200-indoor", "awgn", 4)


def test_transmit_and_channel_take_the_impairment_options():
    from argparse import Namespace

    from gnuradio.gensemcom.cli.impairments import transmission_options
    args = Namespace(impairments="walking-nlos", channel=None, snr=10.0, seed=1, doppler_hz=20.0,
                     **{name: None for name in ("sro_ppm", "sample_rate_hz")})
    fields = transmission_options(args)
    assert args.channel == "multipath" and fields["doppler_hz"] == 20.0 and fields["profile"] == "tgn-d"
    for command in ("transmit", "channel"):
        help_text = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", command, "--help"],
                                   capture_output=True, text=True, timeout=60).stdout
        for flag in ("--impairments", "--sro-ppm", "--phase-noise-dbc", "--iq-imbalance-db", "--iq-phase-deg",
                     "--doppler-hz", "--sample-rate", "--dc-offset-dbc"):
            assert flag in help_text, (command, flag)


@pytest.mark.flowgraph
def test_sweep_writes_table_csv_and_plot(tmp_path):
    out_csv, out_png = tmp_path / "per.csv", tmp_path / "per.png"
    proc = link("--mcs", "16qam", "--sweep", "6,20", "--packets", "4", "--payload-bytes", "100",
                "--csv", str(out_csv), "--plot", str(out_png))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["mcs", "channel", "snr_db"] and len(lines) == 3
    rows = list(csv.DictReader(out_csv.open()))
    assert [float(r["snr_db"]) for r in rows] == [6.0, 20.0]
    assert float(rows[0]["ber"]) > float(rows[1]["ber"])
    assert out_png.stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp leftovers


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not installed")
def test_grc_example_compiles(tmp_path):
    env = dict(os.environ, GRC_BLOCKS_PATH=str(ROOT / "grc"))
    proc = subprocess.run(["grcc", "-o", str(tmp_path), str(ROOT / "examples" / "phy_loopback.grc")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    generated = (tmp_path / "phy_loopback.py").read_text()
    assert "gensemcom.ofdm_qam_tx(" in generated and "gensemcom.channel_preset(" in generated
