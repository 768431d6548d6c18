#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Operating points of ``gensemcom transmit`` without the PHY: semantic vs JPEG vs AVIF per SNR.

For each image and SNR this reproduces exactly what the transmitter's encoders are given in
``gensemcom transmit IMAGE --channel awgn --cpp R`` (``transmit.run_transmission``), but
without running the OFDM/LDPC flowgraph (packets are assumed to arrive):

* semantic: the link profile's MCS plan for the SNR (``blocks.semantic_txrx.plan_for``), a
  symbol ``Budget`` of cpp·H·W·3 data-carrier symbols with the profile's packet costs (copies
  on fading channels included), MTU and packet groups (``transmit.semantic_budget``: what
  ``semantic_encoder`` builds), encode → decode;
* jpeg / avif: the baseline's MCS (``transmit.choose_baseline_mcs``: best expected PSNR),
  ``WholeImageCodec`` at that MCS with the same kind of budget, encode → decode (a baseline
  that fits nothing scores as mean grey, as in the flowgraph);
* metrics from ``gensemcom.metrics``; key PSNR on the semantic sender's key mask for every
  scheme (as ``gensemcom bench`` does with ``semantic_sender_mask``).

Baseline reconstructions do not depend on the semantic codec, so they are cached
(``--cache``, default /tmp/gensemcom_oppoints) and only their key PSNR is recomputed on each
new semantic mask. Prints one markdown table per SNR (per image and mean) and a summary.

Usage:
  python benchmarks/transmit_operating_points.py --images ../shared/data/kodak --snr=-5,0,5,10
  python benchmarks/transmit_operating_points.py --images ../shared/data/kodak --limit 4 --snr 0
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from semantic_bench import load_images  # this folder: the same image list and loading

BASELINES = ("jpeg", "avif")


def run_semantic(codec, link, image, snr_db, channel, cpp):
    height, width = image.shape[:2]
    from gnuradio.gensemcom.link.senders import semantic_budget
    plan, budget = semantic_budget(link, snr_db, channel, cpp * height * width * 3)
    t0 = time.perf_counter()
    enc = codec.encode(image, budget)
    t1 = time.perf_counter()
    dec = codec.decode(enc.data)
    t2 = time.perf_counter()
    report = enc.report
    return {"image": dec.image, "mask": enc.key_mask, "bytes": len(enc.data), "mcs": plan[2],
            "symbols": report.get("cost_symbols"), "budget_symbols": budget.budget_symbols,
            "split": report.get("split_bytes"), "mode": report.get("mode"),
            "hints_level": report.get("hints_level"), "key_scale": report.get("key_scale_factor"),
            "hints_thumbnail": report.get("hints_thumbnail"),
            "prompt_bytes": (report.get("split_bytes") or {}).get("prompt"),
            "encode_s": t1 - t0, "decode_s": t2 - t1}


def run_baseline(scheme, link, image, snr_db, channel, cpp, cache: Path, name):
    """(reconstruction, info) of the separation baseline; cached by image, scheme, SNR, cpp."""
    from gnuradio.gensemcom.imageio import load_image, save_png
    tag = f"{Path(name).stem}_{scheme}_{snr_db:g}_{channel}_{cpp:.6f}"
    png, info_path = cache / f"{tag}.png", cache / f"{tag}.json"
    if png.is_file() and info_path.is_file():
        return load_image(png), json.loads(info_path.read_text())
    from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
    from gnuradio.gensemcom.link.senders import choose_baseline_mcs
    from gnuradio.gensemcom.transport.budget import Budget
    height, width = image.shape[:2]
    symbols = int(cpp * height * width * 3)
    mcs, expected = choose_baseline_mcs(image, scheme, snr_db, channel, symbols, link)
    budget = Budget(budget_symbols=symbols, symbols_for_bytes=link.symbols_for_bytes({0: mcs}),
                    mtu_bytes=link.mtu_bytes, group_of=lambda importance: mcs)
    codec = WholeImageCodec(scheme)
    enc = codec.encode(image, budget)
    recon = codec.decode(enc.data).image
    info = {"mcs": mcs, "bytes": len(enc.data), "fits": enc.report["fits"],
            "file_bytes": enc.report["file_bytes"], "scale": enc.report["scale_factor"],
            "quality": enc.report["quality"], "expected_psnr": expected}
    cache.mkdir(parents=True, exist_ok=True)
    save_png(png, recon)
    info_path.write_text(json.dumps(info))
    return recon, info


def metrics_of(reference, test, mask):
    from gnuradio.gensemcom import metrics
    return {"psnr": metrics.psnr(reference, test), "ssim": metrics.ssim(reference, test),
            "vsi": metrics.vsi(reference, test), "key_psnr": metrics.psnr(reference, test, mask)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/kodak"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--only", default="", help="comma-separated image names (stems) to run")
    parser.add_argument("--snr", default="-5,0,5,10", help="comma-separated SNRs (dB)")
    parser.add_argument("--channel", default="awgn")
    parser.add_argument("--cpp", default="1/48")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--schemes", default="semantic,jpeg,avif")
    parser.add_argument("--codec-config", default="", help="JSON of CodecConfig fields (tuning)")
    parser.add_argument("--generator-config", default="", help="JSON of OfflineGenerator params")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/gensemcom_oppoints"))
    parser.add_argument("--out", type=Path, default=None, help="write per-image records as JSON")
    parser.add_argument("--per-image", action="store_true", help="print every image's row")
    args = parser.parse_args(argv)

    from fractions import Fraction

    from gnuradio.gensemcom.link.profile import LinkProfile
    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    config = {}
    if args.codec_config:
        config["codec"] = json.loads(args.codec_config)
    if args.generator_config:
        config["generator"] = {"name": "offline", **json.loads(args.generator_config)}
    codec = SemanticCodec.from_config(config)
    link = LinkProfile.load(args.profile)
    cpp = float(Fraction(args.cpp))
    snrs = [float(s) for s in args.snr.split(",") if s.strip()]
    schemes = [s for s in args.schemes.split(",") if s]
    names = [n for n in args.only.split(",") if n]
    images = load_images(args.images, args.limit, names)

    records = []
    for snr in snrs:
        for name, image in images:
            row = {"image": name, "snr_db": snr}
            sem = run_semantic(codec, link, image, snr, args.channel, cpp)
            mask = sem["mask"]
            row["key_fraction"] = float(mask.mean())
            if "semantic" in schemes:
                row["semantic"] = {**metrics_of(image, sem["image"], mask),
                                   **{k: v for k, v in sem.items() if k not in ("image", "mask")}}
            for scheme in BASELINES:
                if scheme in schemes:
                    recon, info = run_baseline(scheme, link, image, snr, args.channel, cpp, args.cache, name)
                    row[scheme] = {**metrics_of(image, recon, mask), **info}
            records.append(row)
            if args.per_image:
                print(_row_text(row, schemes), flush=True)
        print(_table(snr, [r for r in records if r["snr_db"] == snr], schemes), flush=True)
    print(_summary(records, schemes))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(records, indent=1, default=str))


def _fmt(m):
    if m is None:
        return "–"
    return f"{m['vsi']:.4f} / {m['key_psnr']:.2f} / {m['psnr']:.2f} / {m['ssim']:.3f} / {m['bytes']}"


def _row_text(row, schemes):
    sem = row.get("semantic") or {}
    split = sem.get("split") or {}
    detail = (f" [{sem.get('mode')}: key/hints/prompt/mask {split.get('key')}/{split.get('hints')}/"
              f"{split.get('prompt')}/{split.get('mask')} thumb {sem.get('hints_thumbnail')} "
              f"key scale {sem.get('key_scale')} enc {sem.get('encode_s', 0):.2f}s]") if sem else ""
    return (f"{row['snr_db']:+g} dB {row['image']}: kf {row['key_fraction']:.3f} "
            + " | ".join(f"{s} {_fmt(row.get(s))}" for s in schemes) + detail)


def _mean(rows, scheme, key):
    values = [r[scheme][key] for r in rows if scheme in r and r[scheme].get(key) is not None]
    return statistics.fmean(values) if values else float("nan")


def _table(snr, rows, schemes):
    head = "| image | key frac | " + " | ".join(f"{s} VSI / key PSNR / PSNR / SSIM / bytes" for s in schemes) + " |"
    lines = [f"\n### {snr:+g} dB", head, "|" + "---|" * (2 + len(schemes))]
    for r in rows:
        cells = " | ".join(_fmt(r.get(s)) for s in schemes)
        lines.append(f"| {r['image']} | {r['key_fraction']:.3f} | {cells} |")
    means = {s: {k: _mean(rows, s, k) for k in ("vsi", "key_psnr", "psnr", "ssim", "bytes")} for s in schemes}
    lines.append("| **mean** | {:.3f} | ".format(statistics.fmean(r["key_fraction"] for r in rows))
                 + " | ".join(_fmt(m) for m in means.values()) + " |")
    if "semantic" in schemes:
        for s in schemes:
            if s == "semantic":
                continue
            wins_vsi = sum(r["semantic"]["vsi"] > r[s]["vsi"] for r in rows)
            wins_key = sum(r["semantic"]["key_psnr"] > r[s]["key_psnr"] for r in rows)
            both = sum(r["semantic"]["vsi"] > r[s]["vsi"] and r["semantic"]["key_psnr"] > r[s]["key_psnr"]
                       for r in rows)
            lines.append(f"semantic vs {s}: VSI wins {wins_vsi}/{len(rows)}, key PSNR wins {wins_key}/{len(rows)}, "
                         f"both {both}/{len(rows)}")
    return "\n".join(lines)


def _summary(records, schemes):
    snrs = sorted({r["snr_db"] for r in records})
    lines = ["\n### Means over images: VSI / key PSNR / PSNR / SSIM / bytes",
             "| SNR (dB) | " + " | ".join(schemes) + " |", "|---|" + "---|" * len(schemes)]
    for snr in snrs:
        rows = [r for r in records if r["snr_db"] == snr]
        cells = []
        for s in schemes:
            m = {k: _mean(rows, s, k) for k in ("vsi", "key_psnr", "psnr", "ssim", "bytes")}
            cells.append(f"{m['vsi']:.4f} / {m['key_psnr']:.2f} / {m['psnr']:.2f} / {m['ssim']:.3f} / {m['bytes']:.0f}")
        lines.append(f"| {snr:+g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
