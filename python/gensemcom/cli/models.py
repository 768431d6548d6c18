# SPDX-License-Identifier: GPL-3.0-or-later
"""List, inspect, download and benchmark model cards (the large-model backends).

A model card (models/*.yaml) names a backend for one role of the semantic codec -- segmenter,
prompt_generator or generator -- with its checkpoint, dtype, device, quantization and LoRA
adapters; a stack card names one card per role. Every command that codes images takes
`--models CARD`: a stack (offline = the default, large, tiny), one model card (it replaces
that role in the offline stack), or a comma-separated list.

Weights never download while coding: fetch them once, on a machine with network access, with
`gensemcom models download CARD` (into the Hugging Face cache, ~/.cache/huggingface, or
--local-dir), then copy that cache to the offline machine if needed. Cards are looked for in
$GENSEMCOM_MODELS_DIR, the source tree's models/ and share/gr-gensemcom/models.

sub-commands:
  list                 every card found, with role, backend, checkpoint and whether weights are here
  show CARD            one card as data, where its weights are (or what is missing)
  download CARD...     fetch weights (safetensors + configs only) with huggingface_hub
  bench CARD           load time, peak memory, weight memory and latency per --quant setting

quantization (--quant, comma-separated list for bench):
  none           card dtype (float32 on CPU, float16 on GPU)
  int8           bitsandbytes LLM.int8 linear layers (~4x smaller weights)
  nf4            bitsandbytes 4-bit NormalFloat (~7x smaller weights)
  torchao-int8   torchao int8 weight-only (~4x smaller; the CPU path)
  (realesrgan cards: int8 = static int8 convolutions on the CPU, torch.ao; nf4 and torchao-int8
   quantize linear layers only and fail on this all-convolution model)

a hint generator (realesrgan-x4plus) is benched as a whole decode of a 768x512 image (--image-size),
with the decoded image's PSNR/SSIM/VSI and their change against --quant none

examples:
  gensemcom models list
  gensemcom models show large
  gensemcom models download large
  gensemcom models bench tiny-blip --quant none,int8,nf4,torchao-int8 --json
  gensemcom models bench realesrgan-x4plus --quant none,int8 --runs 5
"""
from .common import image_size, positive_int, print_json

ACTIONS = ("list", "show", "download", "bench")


def add_stack_arguments(parser):
    """Add --models, --quant and --device to a command that codes images (encode, decode,
    transmit ...); ``stack_from_args`` turns them into the codec's backend stack."""
    from ..params import MODELS, QUANT
    group = parser.add_argument_group("models (see `gensemcom models --help`)")
    MODELS.add_to(group, default=None, metavar="CARD",
                  help="backend stack: a stack card (offline = default, large, tiny), a model card "
                       "replacing its role, a comma-separated list, or a .yaml path")
    QUANT.add_to(group, type=str, default=None, metavar="MODE",
                 help=QUANT.help_text(list_choices=True) + ", or per role ROLE=MODE,... (default: each card's)")
    group.add_argument("--device", default=None, metavar="DEV", help="auto, cpu, cuda or cuda:N")


def stack_from_args(args):
    """The ``models.Stack`` that --models/--quant/--device select (validated now, loaded lazily);
    pass it as ``SemanticCodec(stack=...)``."""
    from ..models import load_stack
    return load_stack(args.models, quant=args.quant, device=args.device)


def add_arguments(parser, name):
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION", help=f"one of {', '.join(ACTIONS)}")
    parser.add_argument("cards", nargs="*", metavar="CARD", help="card name or path to a .yaml card")
    parser.add_argument("--quant", default="none,int8,nf4",
                        help="bench: comma-separated modes to measure (default none,int8,nf4)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the card's)")
    parser.add_argument("--dtype", default=None, choices=("float32", "float16", "bfloat16"),
                        help="bench: float dtype (default: the card's: float16 on GPU, float32 on CPU)")
    parser.add_argument("--runs", type=positive_int, default=3,
                        help="bench: timed calls per setting (median)")
    parser.add_argument("--image-px", type=positive_int, default=256, help="bench: side of the test image")
    parser.add_argument("--image-size", type=image_size, default=None, metavar="WxH",
                        help="bench of a hint generator (realesrgan): size of the decoded image (default 768x512)")
    parser.add_argument("--local-dir", default=None,
                        help="download: into this folder instead of the hub cache")
    parser.add_argument("--json", action="store_true", help="print JSON (one object per line)")


def _checkpoint_text(card):
    ckpt = card.checkpoint
    if ckpt.get("repo_id"):
        return f"{ckpt['repo_id']}@{ckpt.get('revision') or 'main'}"
    if ckpt.get("path"):
        return str(ckpt["path"])
    if ckpt.get("builder"):
        return f"tiny builder {ckpt['builder']}"
    if ckpt.get("package"):
        return f"pip {ckpt['package']}"
    return "-"


def weights_status(card):
    """("present" | "missing" | "built on use" | "none", folder or message)."""
    from ..errors import MissingWeightsError
    from ..models.weights import resolve_weights
    if not card.is_large:
        return "none", ""
    if card.checkpoint.get("builder"):
        return "built on use", ""
    try:
        return "present", str(resolve_weights(card))
    except MissingWeightsError as exc:
        return "missing", str(exc)


def _need_cards(args, count=None):
    from ..errors import BadInputError
    if not args.cards:
        raise BadInputError(f"`models {args.action}` needs a CARD (see `gensemcom models list`)")
    if count == 1 and len(args.cards) > 1:
        raise BadInputError(f"`models {args.action}` takes one CARD, got {len(args.cards)}")


def _members(card):
    from ..models.cards import stack_roles
    if card.kind == "stack":
        return [c for c in stack_roles(card).values() if c.is_large]
    return [card]


def run(args) -> int:
    from .. import models
    if args.action == "list":
        rows = []
        for card in models.list_cards():
            status, _ = weights_status(card)
            rows.append({"name": card.name, "kind": card.kind, "role": card.role or "-",
                         "backend": card.backend or ",".join(f"{r}={n}" for r, n in card.stack.items()),
                         "checkpoint": _checkpoint_text(card) if card.kind == "model" else "-",
                         "weights": status if card.kind == "model" else "-",
                         "size_mb": card.expected_size_mb, "description": card.description})
        if args.json:
            for row in rows:
                print_json(row)
        else:
            header = ("name", "kind", "role", "checkpoint", "weights")
            table = [header] + [tuple(str(r[k]) for k in header) for r in rows]
            widths = [max(len(line[i]) for line in table) for i in range(len(header))]
            for line in table:
                print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
        return 0

    _need_cards(args, 1 if args.action in ("show", "bench") else None)
    if args.action == "show":
        card = models.load_card(args.cards[0])
        out = {**card.to_dict(), "source": str(card.source) if card.source else None}
        if card.kind == "stack":
            out["resolved"] = {role: c.name for role, c in models.stack_roles(card).items()}
        else:
            from ..models.weights import pinned_revision
            out["weights"], out["weights_detail"] = weights_status(card)
            if card.checkpoint.get("repo_id"):
                out["resolved_commit"] = pinned_revision(card)
        if args.json:
            print_json(out)
        else:
            import yaml
            print(yaml.safe_dump(out, sort_keys=False, allow_unicode=True).rstrip())
        return 0

    if args.action == "download":
        from ..models.weights import download, revisions_file
        for name in args.cards:
            for card in _members(models.load_card(name)):
                folder = download(card, local_dir=args.local_dir, progress=not args.json)
                row = {"card": card.name, "folder": str(folder), "revision": folder.name}
                if args.json:
                    print_json(row)
                else:
                    print(f"{card.name}: {folder}")
                    if card.checkpoint.get("repo_id") and not args.local_dir:
                        print(f"  recorded: loads use commit {folder.name} from now on "
                              f"({revisions_file()}); to pin it for everyone, set checkpoint.revision in the card")
        return 0

    from ..models.bench import bench_card, format_table
    from ..models.quant import check_mode
    quants = [check_mode(q.strip()) for q in args.quant.split(",") if q.strip()]
    rows = []
    for card in _members(models.load_card(args.cards[0])):
        for row in bench_card(card.source or card.name, quants, device=args.device, runs=args.runs,
                              image_px=args.image_px, dtype=args.dtype, image_size=args.image_size):
            rows.append(row)
            if args.json:
                print_json(row)
    if not args.json:
        print(format_table(rows))
    return 0
