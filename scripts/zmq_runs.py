#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The three-process ZeroMQ example (zmq_rx, zmq_channel, zmq_tx), run many times: hangs and aborts.

Each run starts the receiver, the channel emulator and the transmitter, and ends, taking the
modes in turn (--modes):
  self     all three end by themselves, as the examples are written: the transmitter after its
           images, the receiver after its reference images, the channel emulator when its input
           has been idle for --idle-s
  sigterm  SIGTERM to all three as soon as the receiver has written its first image, in the
           middle of the run (Ctrl-C, a supervisor, GRC's stop button)
A receiver still waiting for missing images --grace-s seconds after the others ended (self runs)
gets SIGTERM; ending then is WAITING (images missing), not ending is a HANG. Any other process
that has not exited --grace-s seconds later is a HANG (its Python and native stacks
are saved with py-spy and gdb before SIGKILL); one that dies of a signal, or whose log shows a
glibc/C++/Python fatal error, is an ABORT. Everything else must exit 0.

The return link is always wired (zmq_rx publishes its reports, zmq_tx subscribes); with
--repeat-reserve > 0 the transmitter repeats what the reports say is missing (closed loop), with
0 it ignores them (open loop). Each run records the images written and their sections missing.

  GRC_BLOCKS_PATH=grc grcc -o /tmp/gen examples/zmq_*.grc
  .venv/bin/python scripts/zmq_runs.py --generated /tmp/gen --runs 100 --hogs 1 --json runs.json

Exit status 0 when every run delivered its images with no hang and no abort.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gnuradio.gensemcom.constants import CHANNELS

FATAL_MARKERS = ("double free", "corrupted", "free(): invalid", "malloc(): ", "terminate called",
                 "Fatal Python error", "Segmentation fault", "Aborted")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_images(folder, count=2):
    """``count`` small test images in ``folder`` (skimage photos at 1/4 size, then crops of them)."""
    from PIL import Image
    from skimage import data
    photos = {"astronaut": data.astronaut()[::4, ::4], "coffee": data.coffee()[::4, ::4]}
    for index in range(count):
        name, photo = list(photos.items())[index % 2]
        if index >= 2:        # more images: shifted 96x96 crops
            y, x = (7 * index) % (photo.shape[0] - 96), (11 * index) % (photo.shape[1] - 96)
            photo, name = photo[y:y + 96, x:x + 96], f"{name}{index:02d}"
        Image.fromarray(photo).save(folder / f"{name}.png")
    return count


def stacks(pid, path):
    """Python and native stacks of a hung process, into ``path``."""
    venv_bin = Path(sys.executable).parent
    with open(path, "w") as out:
        for cmd in ([str(venv_bin / "py-spy"), "dump", "--native", "--pid", str(pid)],
                    ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"]):
            try:
                out.write(subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout)
            except (OSError, subprocess.TimeoutExpired) as exc:
                out.write(f"{cmd[0]}: {exc}\n")


def finish(proc, log, grace_s, keep, mode, nudge=False):
    """Wait ``grace_s`` for ``proc``; classify it as ok / error / abort / hang. In a sigterm run a
    process that ended by itself just before the signal can die of it during interpreter exit
    (Python restores the default handlers then): rc -15 with a clean log counts as ok.
    ``nudge`` (a receiver still waiting for images that will not come): SIGTERM after the grace,
    then as long again; ending then is "waiting" (images missing, not a hang)."""
    nudged = False
    try:
        rc = proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        rc = None
        if nudge:
            proc.send_signal(signal.SIGTERM)
            nudged = True
            try:
                rc = proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        if rc is None:
            stacks(proc.pid, Path(keep) / f"{log.stem}.stacks.txt")
            proc.kill()
            proc.wait(timeout=30)
            return "hang", None
    fatal = any(marker in log.read_text(errors="replace") for marker in FATAL_MARKERS)
    if nudged:
        return ("waiting" if not fatal and rc in (0, -signal.SIGTERM) else "abort"), rc
    terminated = mode == "sigterm" and rc == -signal.SIGTERM
    if fatal or (rc < 0 and not terminated):
        return "abort", rc
    if rc == -signal.SIGTERM:
        return "ok", rc
    return ("ok" if rc == 0 else "error"), rc


def one_run(index, generated, images, count, work, args):
    """One three-process run; returns a dict with each process's outcome."""
    mode = args.modes[index % len(args.modes)]
    run_dir = work / f"run{index:03d}"
    out = run_dir / "rx"
    out.mkdir(parents=True)
    port_a, port_b, port_c = free_port(), free_port(), free_port()
    feedback = ["-F", f"tcp://127.0.0.1:{port_c}"]
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    python = [sys.executable, "-u"]
    logs = {name: run_dir / f"{name}.log" for name in ("rx", "channel", "tx")}
    procs = {}
    started = time.monotonic()
    with open(logs["rx"], "wb") as rx_out, open(logs["channel"], "wb") as ch_out:
        procs["rx"] = subprocess.Popen(python + [str(generated / "zmq_rx.py"), "-i", str(images), "-o", str(out),
                                                 "-a", f"tcp://127.0.0.1:{port_b}", "-n", str(args.snr),
                                                 "-b", str(args.cpp), *feedback],
                                       stdout=rx_out, stderr=subprocess.STDOUT, env=env)
        procs["channel"] = subprocess.Popen(
            python + [str(generated / "zmq_channel.py"), "-c", args.channel, "-n", str(args.snr),
                      "-S", str(args.shadowing_db),
                      "-I", f"tcp://127.0.0.1:{port_a}",
                      "-O", f"tcp://127.0.0.1:{port_b}", "-t", str(args.idle_s)],
            stdout=ch_out, stderr=subprocess.STDOUT, env=env)
    result = {"run": index, "mode": mode}
    try:
        time.sleep(2)
        with open(logs["tx"], "wb") as tx_out:
            procs["tx"] = subprocess.Popen(python + [str(generated / "zmq_tx.py"), "-i", str(images),
                                                     "-n", str(args.snr), "-c", args.channel, "-b", str(args.cpp),
                                                     "-a", f"tcp://127.0.0.1:{port_a}", *feedback,
                                                     "-R", str(args.repeat_reserve), "-r", str(args.sample_rate),
                                                     "-C", args.repeat_channel],
                                           stdout=tx_out, stderr=subprocess.STDOUT, env=env)
        wanted = count if mode == "self" else 1
        deadline = time.monotonic() + 300
        while len(list(out.glob("*.json"))) < wanted and time.monotonic() < deadline:
            if mode == "self" and procs["tx"].poll() is not None and procs["channel"].poll() is not None:
                break            # nothing more can arrive: the receiver gets its grace, then a nudge
            time.sleep(0.1)
        if mode == "sigterm":        # in the middle of the run: the transmitter may still be sending
            for name in ("tx", "channel", "rx"):
                if procs[name].poll() is None:
                    procs[name].send_signal(signal.SIGTERM)
        for name in ("tx", "channel", "rx"):
            grace = args.grace_s + (args.idle_s if mode == "self" and name == "channel" else 0)
            result[name], result[f"{name}_rc"] = finish(procs[name], logs[name], grace, run_dir, mode,
                                                        nudge=mode == "self" and name == "rx")
        closing = re.search(r"return link: (\d+) report\(s\) received, (\d+) repeat round\(s\) sent with (\d+) "
                            r"packet\(s\)", logs["tx"].read_text(errors="replace"))
        if closing:
            result["reports"], result["repeat_rounds"], result["repeat_packets"] = map(int, closing.groups())
        silence = re.search(r"(\d+) image\(s\) acknowledged, (\d+) round\(s\) for silence",
                            logs["tx"].read_text(errors="replace"))
        if silence:
            result["acknowledged"], result["silent_rounds"] = map(int, silence.groups())
        heard = re.search(r"receiver: (\d+) packet\(s\), (\d+) image\(s\) emitted, (\d+) report\(s\) and (\d+) "
                          r"acknowledgement\(s\) sent, (\d+) late fragment\(s\), (\d+) image\(s\) dropped",
                          logs["rx"].read_text(errors="replace"))
        if heard:
            keys = ("rx_packets", "rx_images_emitted", "rx_reports", "rx_acknowledgements", "rx_late", "rx_dropped")
            result.update(zip(keys, map(int, heard.groups())))
        rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
        result["images"] = len(rows)
        result["sections_missing"] = sum(int(r.get("sections_missing", 0)) for r in rows)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result["wall_s"] = round(time.monotonic() - started, 1)
    bad = [k for k in ("tx", "channel", "rx") if result.get(k) != "ok"]
    if result.get("images", 0) < (count if mode == "self" else 1):
        bad.append("images")
    result["ok"] = not bad
    if result["ok"] and not args.keep_all:
        for path in sorted(run_dir.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        run_dir.rmdir()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generated", type=Path, required=True, help="folder of the grcc-generated zmq_*.py")
    parser.add_argument("--runs", type=int, default=100, help="runs (default 100)")
    parser.add_argument("--modes", type=lambda text: text.split(","), default=["self", "sigterm"],
                        help="how runs end, taken in turn: self, sigterm (default self,sigterm)")
    parser.add_argument("--hogs", type=int, default=0, help="busy-loop processes running meanwhile (load)")
    parser.add_argument("--grace-s", type=float, default=30.0, help="seconds a process has to exit (default 30)")
    parser.add_argument("--idle-s", type=float, default=10.0,
                        help="the channel emulator's -t (end when idle), added to the grace in self runs (default 10)")
    parser.add_argument("--channel", default="awgn", help="the channel emulator's preset (default awgn)")
    parser.add_argument("--snr", type=float, default=15.0, help="its SNR, Es/N0 in dB (default 15)")
    parser.add_argument("--cpp", type=float, default=0.125, help="the transmitter's budget (default 0.125)")
    parser.add_argument("--shadowing-db", type=float, default=0.0,
                        help="the channel emulator's log-normal shadowing, dB (default 0: none)")
    parser.add_argument("--stream-images", type=int, default=2, help="images per run (default 2)")
    parser.add_argument("--repeat-reserve", type=float, default=0.0,
                        help="zmq_tx -R: share of each image's samples kept for repeats (0 = open loop)")
    parser.add_argument("--sample-rate", type=float, default=0.0,
                        help="zmq_tx -r: a radio's continuous stream at this rate, Hz (default 0: bursts only)")
    parser.add_argument("--repeat-channel", default="awgn", choices=CHANNELS,
                        help="zmq_tx -C: the PER curves repeats are planned with (default awgn)")
    parser.add_argument("--work", type=Path, default=None, help="folder for logs (default: a temporary one)")
    parser.add_argument("--keep-all", action="store_true", help="keep the logs of good runs too")
    parser.add_argument("--json", type=Path, default=None, help="write every run's outcome here")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="zmq-runs-"))
    work.mkdir(parents=True, exist_ok=True)
    images = work / "images"
    images.mkdir(exist_ok=True)
    count = make_images(images, args.stream_images)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    results = []
    try:
        for index in range(args.runs):
            result = one_run(index, args.generated.resolve(), images, count, work, args)
            results.append(result)
            print(json.dumps(result), flush=True)
    except KeyboardInterrupt:       # Ctrl-C: the finished runs still make a summary
        print(f"interrupted during run {len(results)}; summary of the {len(results)} finished runs", flush=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    summary = {"runs": len(results), "ok": sum(r["ok"] for r in results),
               "hangs": sum(r.get(k) == "hang" for r in results for k in ("tx", "channel", "rx")),
               "receivers_waiting": sum(r.get("rx") == "waiting" for r in results),
               "aborts": sum(r.get(k) == "abort" for r in results for k in ("tx", "channel", "rx")),
               "errors": sum(r.get(k) == "error" for r in results for k in ("tx", "channel", "rx")),
               "killed_during_exit": sum(r.get(f"{k}_rc") == -signal.SIGTERM for r in results
                                         for k in ("tx", "channel", "rx")),
               "runs_missing_images": sum("images" in r and r["images"] < (count if r["mode"] == "self" else 1)
                                          for r in results),
               "images_missing": sum(count - r["images"] for r in results if "images" in r and r["mode"] == "self"),
               "sections_missing": sum(r.get("sections_missing", 0) for r in results),
               "reports": sum(r.get("reports", 0) for r in results),
               "repeat_packets": sum(r.get("repeat_packets", 0) for r in results),
               "acknowledged": sum(r.get("acknowledged", 0) for r in results),
               "silent_rounds": sum(r.get("silent_rounds", 0) for r in results),
               "repeat_reserve": args.repeat_reserve, "repeat_channel": args.repeat_channel,
               "sample_rate": args.sample_rate, "hogs": args.hogs,
               "logs": str(work)}
    print(json.dumps(summary), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
    return 0 if summary["ok"] == summary["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
