#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which encoder options serve each whole-image baseline best (tune, chroma subsampling, WebP method).

Each baseline codes the whole image as a bare stream (``classical.stillcodec``) at the best
quality and scale that fit a byte budget (``classical.baselines.fit_whole_image``). This script
fits every option combination on natural test images that are NOT the benchmark's (skimage's
bundled photos), at budgets of 0.03 to 0.25 bit per pixel, and prints mean PSNR and VSI per
option, so that the choice in ``classical.baselines.BASELINE_OPTIONS`` is a measured one.

    python benchmarks/baseline_options.py [--json out.json]
"""
import argparse
import json
import sys
import time

import numpy as np

IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "immunohistochemistry")
BITS_PER_PIXEL = (0.03125, 0.0625, 0.125, 0.25)
OPTIONS = {
    "avif": [{"tune": None, "subsampling": "4:2:0"}, {"tune": "ssim", "subsampling": "4:2:0"},
             {"tune": None, "subsampling": "4:4:4"}, {"tune": "ssim", "subsampling": "4:4:4"}],
    "jpeg": [{"subsampling": "4:2:0"}, {"subsampling": "4:4:4"}],
    "webp": [{"method": 4}, {"method": 6}],
}


def load(name):
    from skimage import data
    image = getattr(data, name)()
    image = image[0] if isinstance(image, tuple) else image
    return np.ascontiguousarray(image[..., :3])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="also write the per-option means as JSON")
    parser.add_argument("--speed", type=int, default=6, help="AV1 encoder speed (default 6, as the senders)")
    args = parser.parse_args(argv)
    from gnuradio.gensemcom.classical.baselines import fit_whole_image
    from gnuradio.gensemcom.metrics import psnr, vsi
    results = {}
    started = time.perf_counter()
    for codec, choices in OPTIONS.items():
        for options in choices:
            label = f"{codec} " + " ".join(f"{k}={v}" for k, v in options.items())
            scores = {bpp: [] for bpp in BITS_PER_PIXEL}
            for name in IMAGES:
                image = load(name)
                for bpp in BITS_PER_PIXEL:
                    budget = int(bpp * image.shape[0] * image.shape[1] / 8)
                    fit = fit_whole_image(image, budget, codec, standard_file=False, speed=args.speed, **options)
                    scores[bpp].append((psnr(image, fit.image), vsi(image, fit.image), fit.fits))
            results[label] = {str(bpp): {"psnr": float(np.mean([s[0] for s in v])),
                                         "vsi": float(np.mean([s[1] for s in v])),
                                         "fits": int(sum(s[2] for s in v))} for bpp, v in scores.items()}
            cells = "  ".join(f"{bpp:.3f}: {r['psnr']:5.2f} dB {r['vsi']:.4f} ({r['fits']}/{len(IMAGES)})"
                              for bpp, r in zip(BITS_PER_PIXEL, results[label].values()))
            print(f"{label:38s} {cells}", flush=True)
    print(f"{len(IMAGES)} images ({', '.join(IMAGES)}), {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"images": IMAGES, "bits_per_pixel": BITS_PER_PIXEL, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
