#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewrite docs/results.md's tables and docs/img/results/ figures from the published sweep.

    python benchmarks/results_report.py                 # what `make results` runs
    python benchmarks/results_report.py --results out/a/results.csv out/b/results.csv --doc /tmp/r.md
    python benchmarks/results_report.py --publish out/sweep-a out/sweep-b   # merge sweeps into the published file

Reads results CSV files (gzip allowed; the published sweep is docs/results/results.csv.gz),
checks them (every row within its sample budget), and writes, between the markers
``<!-- results:start -->`` and ``<!-- results:end -->`` of the document: the sweep's shape,
the budget check, mean tables per channel, one paired table per baseline (semantic − baseline,
95 % paired t over images, seeds averaged first, win / tie / loss) and the ablation table.
Figures (each metric vs SNR, means with 95 % CI, the bound dashed) go to docs/img/results/.
Everything in that block is generated: edit the prose around it, not inside it.
"""
import argparse
import csv
import gzip
import io
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- results:start -->", "<!-- results:end -->"
BASELINES = ("av1", "webp", "jpeg", "roi-av1")
ORDER = ("semantic", "av1", "webp", "jpeg", "roi-av1", "avif", "semantic-no-generator", "semantic-no-prompt",
         "semantic-no-hints", "semantic-no-key", "av1+capacity")


def read_rows(paths):
    """Typed rows of results CSV files (``bench.store`` columns; .gz read transparently)."""
    from gnuradio.gensemcom.bench.store import COLUMNS, decode_line
    rows = []
    for path in paths:
        path = Path(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            header = handle.readline()
            if next(csv.reader([header.rstrip("\n")])) != list(COLUMNS):
                raise SystemExit(f"results_report: {path} does not have this version's results columns")
            rows += [decode_line(line) for line in handle if line.strip()]
    return rows


def budget_check(rows) -> str:
    charged = [r for r in rows if r.get("samples_budget") is not None and r.get("samples_used") is not None]
    over = [r for r in charged if r["samples_used"] > r["samples_budget"]]
    unsent = Counter(r["scheme"] for r in rows if r.get("sent") == 0)
    text = (f"Budget check: {len(charged)} rows report samples_used and samples_budget; "
            f"{len(over)} exceed their budget.")
    if unsent:
        text += " Rows where nothing fit (sent = 0, scored as the flat image): " + ", ".join(
            f"{scheme} {n}" for scheme, n in sorted(unsent.items())) + "."
    return text


def shape(rows) -> str:
    images = sorted({r["image"] for r in rows})
    schemes = [s for s in ORDER if any(r["scheme"] == s for r in rows)]
    schemes += sorted({r["scheme"] for r in rows} - set(schemes))
    lines = [f"- {len(rows)} rows: {len(images)} images ({images[0]} … {images[-1]}), schemes "
             + ", ".join(schemes)]
    for channel in sorted({r["channel"] for r in rows}):
        sub = [r for r in rows if r["channel"] == channel]
        snrs = sorted({r["snr_db"] for r in sub})
        seeds = sorted({r["seed"] for r in sub})
        lines.append(f"- {channel}: SNR {', '.join(f'{s:g}' for s in snrs)} dB; seeds {seeds}; cpp "
                     + ", ".join(sorted({r['cpp'] for r in sub})))
    return "\n".join(lines)


def generated_block(rows, figures) -> str:
    from gnuradio.gensemcom.bench.headline import ablations, headline, markdown, verdict_markdown
    schemes = [s for s in ORDER if any(r["scheme"] == s for r in rows)]
    parts = [START, "", "### The sweep", "", shape(rows), "", budget_check(rows), "",
             "### Means (for reading; verdicts are in the paired tables)", "",
             "VSI / key-region PSNR (dB) / PSNR (dB) / SSIM / delivered, means over images (seeds first).",
             markdown(rows, schemes), "",
             "### Paired differences: semantic − baseline",
             "", "Per (channel, SNR) and metric: mean over images of the per-image difference ± the 95 % "
             "paired Student-t half-width; **win** where the interval lies above zero (below for LPIPS), "
             "loss where it lies below, tie otherwise.",
             verdict_markdown(headline(rows, baselines=BASELINES)), "",
             "### Ablations: semantic − semantic without one part (what the part adds)",
             verdict_markdown(ablations(rows)), ""]
    if figures:
        parts += ["### Figures", ""] + [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    parts.append(END)
    return "\n".join(parts)


def write_figures(rows, folder) -> list:
    from gnuradio.gensemcom.bench.plots import write_plots
    from gnuradio.gensemcom.bench.summary import summarize
    written = write_plots(summarize(rows), folder)
    for path in written:
        if not str(path).endswith(".png"):
            Path(path).unlink()                 # the docs show PNGs; PDFs are in each sweep's plots/
    return sorted(p for p in written if str(p).endswith(".png"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", nargs="+", type=Path, default=[ROOT / "docs/results/results.csv.gz"],
                        help="results CSV files (.csv or .csv.gz); default: the published sweep")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs/results.md",
                        help="the document whose generated block is rewritten (default docs/results.md)")
    parser.add_argument("--figures", default=str(ROOT / "docs/img/results"),
                        help="folder for the figures ('' for none)")
    parser.add_argument("--publish", nargs="+", type=Path, metavar="SWEEP_FOLDER",
                        help="first merge these sweep folders' results.csv into the first --results file (gzip)")
    args = parser.parse_args(argv)
    if args.publish:
        args.results[0].parent.mkdir(parents=True, exist_ok=True)
        write_results_csv_gz(args.publish, args.results[0])
    missing = [str(p) for p in args.results if not p.is_file()]
    if missing:
        print(f"results_report: no such results file: {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = read_rows(args.results)
    figures = []
    if args.figures:
        written = write_figures(rows, Path(args.figures))
        figures = [str(Path(p).relative_to(args.doc.parent.resolve())) if Path(p).is_relative_to(
            args.doc.parent.resolve()) else str(p) for p in written]
    text = args.doc.read_text() if args.doc.is_file() else f"# Results\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        print(f"results_report: {args.doc} has no {START} … {END} block", file=sys.stderr)
        return 2
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    args.doc.write_text(head + generated_block(rows, figures) + tail)
    print(f"{args.doc}: {len(rows)} rows; {len(figures)} figures in {args.figures}")
    print(budget_check(rows))
    return 0


def write_results_csv_gz(folders, target):
    """Merge sweep folders' results.csv into one gzip file (the published sweep)."""
    from gnuradio.gensemcom.bench.store import encode_row, header_line, read_results
    buffer = io.StringIO()
    buffer.write(header_line())
    for folder in folders:
        for row in read_results(folder):
            buffer.write(encode_row(row))
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(buffer.getvalue().encode("utf-8"))        # mtime 0: the same rows, the same bytes


if __name__ == "__main__":
    sys.exit(main())
