# SPDX-License-Identifier: GPL-3.0-or-later
"""Send one image through the real GNU Radio flowgraph and measure what arrives.

The flowgraph: semantic_tx (encoder → fragmenter → OFDM/QAM/LDPC transmitter) → channel
preset → semantic_rx (OFDM receiver → reassembler → decoder). The same PHY carries every
scheme:

  semantic        key regions (AV1), structured prompt and hints; each importance class gets
                  the cheapest MCS x copies x erasure code x packet size that meets its target
  semantic-no-*   ablations: no generator, no prompt, no hints, no key area
  av1|webp|jpeg   the whole image as a bare stream at the best quality and scale that fit,
  roi-av1|avif    with the plan of best expected quality for the SNR (--mcs fixes one MCS)

Definitions
  --snr     Es/N0 per data subcarrier in dB (see docs/phy.md); the transmitter plans with it
  --cpp     channel uses per pixel = complex data-carrier symbols / (H·W·3); 1/48 is the
            field's usual ratio. --budget-symbols N gives the symbols directly. The image may
            put samples_budget = cpp·H·W·3 x the PHY's nominal samples per data symbol on the air
  samples_used   every complex sample through the channel: gaps, preambles, headers, pilots,
                 cyclic prefixes, copies, repair packets, the filler burst; <= samples_budget
  symbols_used   data-carrier symbols of every packet's header and payload OFDM symbols
  packets_ok     packets whose payload CRC passed, counted against packets sent
  delivered      the receiver decoded an image from what arrived; complete: all of it arrived
When nothing fits the budget, nothing is sent and the command says so (exit 2), for every
scheme alike. A scheme whose decoder got nothing is scored as a flat image at the original's
mean level (delivered: false). Key-region metrics of every scheme use the semantic sender's
key mask for the same image and budget. LPIPS is null, with the reason, when its AlexNet
weights are not on this machine.

examples:
  gensemcom transmit kodim01.png --scheme semantic --snr 0 --channel awgn --cpp 1/48 --out rx.png
  gensemcom transmit kodim01.png --scheme av1 --snr 0 --channel rayleigh --cpp 1/48 --out av1.png --json
  gensemcom transmit photo.png --scheme jpeg --mcs qpsk-1/2 --snr 3 --budget-symbols 20000 --out rx.png
"""
import sys
from pathlib import Path

from ..errors import BadInputError
from ..params import CHANNEL, PROFILE, SCHEME, SEED, SNR_DB
from .common import fraction, nonnegative_int, positive_int, print_json, snr_db, unit_fraction
from .impairments import add_impairment_arguments, transmission_options
from .models import add_stack_arguments

FIELDS = ("scheme", "snr_db", "channel", "samples_used", "samples_budget", "bytes_sent", "packets_sent",
          "packets_ok", "psnr", "ssim", "vsi", "lpips", "key_psnr", "sections_received", "wall_s")


class _Progress:
    """Stage lines on stderr for a transmission that takes more than a couple of seconds
    (``tqdm``: nothing appears for a quick one)."""

    STAGES = ("planning and encoding", "on the air", "decoding", "done")

    def __init__(self, enabled=True):
        self.enabled, self.bar = enabled, None

    def __enter__(self):
        if self.enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=len(self.STAGES), desc="transmit", unit="stage", delay=2.0, file=sys.stderr,
                            bar_format="{desc}: {n}/{total} {postfix} [{elapsed}]")
        return self

    def stage(self, name):
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(1 if name != self.STAGES[0] else 0)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


def add_feedback_arguments(parser):
    """--feedback, --feedback-loss, --max-rounds (transmit and bench)."""
    from ..flowgraphs.transmit import FEEDBACK_MODES
    from .common import probability
    parser.add_argument("--feedback", choices=FEEDBACK_MODES, default="none",
                        help="closed loop: none (open loop); csi (a probe's SNR comes back, the sender plans at "
                             "it); ack (after each round the receiver reports what is missing, the sender "
                             "repeats it: selective repeat, more erasure-code shares); full (both). Probe, "
                             "reports and repeats are charged to the image's samples (default none)")
    parser.add_argument("--feedback-loss", type=probability, default=0.0, metavar="P",
                        help="probability that a feedback report is lost (default 0)")
    parser.add_argument("--max-rounds", type=positive_int, default=3, metavar="N",
                        help="rounds of repeats at most (ack, full; default 3)")


def add_arguments(parser, name):
    parser.add_argument("image", help="input image (PNG, JPEG, WebP, TIFF, BMP)")
    SCHEME.add_to(parser)
    SNR_DB.add_to(parser, type=snr_db, required=True, metavar="DB",
                  help=SNR_DB.help_text() + " (the transmitter plans with it)")
    CHANNEL.add_to(parser, default=None,
                   help=CHANNEL.help_text("awgn") + "; an --impairments preset may bring its own")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--cpp", type=fraction, metavar="R", help="channel uses per pixel, e.g. 1/48")
    budget.add_argument("--budget-symbols", type=positive_int, metavar="N", help="data-carrier symbols for the image")
    PROFILE.add_to(parser)
    parser.add_argument("--mcs", default="", metavar="MCS", help="send every packet at this MCS (baselines: "
                        "a fixed MCS instead of the best one; e.g. qpsk-1/2)")
    parser.add_argument("--key-fraction", type=unit_fraction, default=None, metavar="F",
                        help="semantic: target key-area share (default: from the budget)")
    SEED.add_to(parser, type=nonnegative_int)
    add_feedback_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, metavar="OUT.png", help="where to write the received image")
    parser.add_argument("--no-agreement", action="store_true", help="skip the semantic-agreement measures")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_stack_arguments(parser)
    add_impairment_arguments(parser)


def run(args):
    from ..bench.execute import RunOptions, score
    from ..bench.tasks import Task, format_cpp
    from ..fileio import atomic_path
    from ..flowgraphs.transmit import run_transmission, semantic_sender_mask
    from ..imageio import load_image
    from ..link.profile import LinkProfile
    from ..phy.mcs import get_mcs

    if args.out.suffix.lower() != ".png":
        raise BadInputError(f"--out must be a .png file, got {args.out}")
    if not args.out.parent.exists():
        raise BadInputError(f"--out folder does not exist: {args.out.parent}")
    if args.mcs:
        get_mcs(args.mcs)
    LinkProfile.load(args.profile)
    impairments = transmission_options(args)
    image = load_image(args.image)
    height, width = image.shape[:2]
    cpp = args.cpp if args.cpp is not None else args.budget_symbols / (height * width * 3)
    if args.scheme.startswith("semantic") or args.models or args.quant:
        from .models import stack_from_args
        stack = stack_from_args(args)          # validates --models/--quant/--device before the run
        if stack is not None:
            stack.check_weights()               # missing weights: one line, exit 2, before any flowgraph
    with _Progress(enabled=not args.json) as progress:
        tx = run_transmission(image, args.scheme, args.snr, args.channel, cpp=cpp, profile=args.profile,
                              models=args.models, quant=args.quant, seed=args.seed, key_fraction=args.key_fraction,
                              fixed_mcs=args.mcs, on_progress=progress.stage, feedback=args.feedback,
                              feedback_loss=args.feedback_loss, max_rounds=args.max_rounds,
                              channel_options=impairments)
    if not tx.sent:
        raise BadInputError(tx.note or "nothing fits the channel budget: nothing was sent")
    task = Task(str(args.image), Path(args.image).name, args.scheme + (f"@{args.mcs}" if args.mcs else ""),
                args.snr, args.channel, format_cpp(cpp), args.seed)
    key_mask = tx.key_mask if args.scheme == "semantic" else semantic_sender_mask(
        image, args.snr, args.channel, cpp, args.profile)
    result = {"image": tx.image if tx.delivered else None, "delivered": tx.delivered, "key_mask": key_mask,
              "prompt_sent": tx.encoder_report.get("prompt_text"),
              "prompt_received": tx.decoder_report.get("prompt_text")}
    row, _ = score(task, image, result, RunOptions(agreement=not args.no_agreement))
    with atomic_path(args.out) as tmp:
        from PIL import Image
        Image.fromarray(tx.image).save(tmp, "PNG")
    out = {
        "scheme": args.scheme, "snr_db": args.snr, "channel": args.channel, "cpp": format_cpp(cpp),
        "samples_budget": tx.samples_budget, "samples_used": tx.samples_used, "symbols_used": tx.symbols_used,
        "plan": tx.plan, "feedback": args.feedback, "bytes_sent": tx.bytes_sent, "packets_sent": tx.packets_sent,
        "packets_ok": tx.packets_ok,
        "delivered": tx.delivered, "complete": tx.complete, "psnr": row.get("psnr"), "ssim": row.get("ssim"),
        "ms_ssim": row.get("ms_ssim"),
        "vsi": row.get("vsi"), "lpips": row.get("lpips"),
        "lpips_status": None if row.get("lpips") is not None else row.get("lpips_status"),
        "key_psnr": row.get("key_psnr"), "key_ssim": row.get("key_ssim"),
        "key_fraction": float(key_mask.mean()), "sections_received": tx.sections_received,
        "sections_sent": tx.sections_sent, "mcs_plan": {str(k): v for k, v in tx.mcs_plan.items()},
        "prompt_bytes": next((s.get("bytes") for s in tx.encoder_report.get("sections", [])
                              if s.get("type") == "prompt"), 0),
        "top5_overlap": row.get("top5_overlap"), "caption_similarity": row.get("caption_similarity"),
        "rx_snr_db": tx.rx_snr_db, "wall_s": round(tx.wall_s, 3), "out": str(args.out),
    }
    if args.json:
        print_json(out)
    else:
        for key, value in out.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            print(f"{key:>18}: {value}")
        print(f"received image written to {args.out}", file=sys.stderr)
    return 0
