# SPDX-License-Identifier: GPL-3.0-or-later
"""`gensemcom encode`, `decode` and `inspect`: the semantic codec on files."""
from __future__ import annotations

import sys

from ..errors import BadInputError
from ..params import BUDGET_BYTES, CODEC
from .common import positive_int, print_json, unit_fraction

DESCRIPTIONS = {
    "encode": """\
Encode an image into a .gsc semantic container that fits a byte budget.

The key regions (faces, people, salient objects; or the ones you give with --mask/--boxes)
are coded with a classical codec at the best quality that fits; the rest of the image becomes
a structured text prompt (labels, colours, layout, texture) plus, where it pays, a tiny
colour thumbnail, which the decoder's generator turns back into pixels.

The budget is the whole container in bytes: header, prompt, mask, hints and key streams.
Smaller budgets get a smaller key area: --key-fraction overrides the automatic choice
(for 768x512: 0.10 of the image at 1536 bytes, 0.17 at 3072, 0.24 at 6144, 0.31 at 12288,
grown a little when the codec's last quality step leaves bytes unused). When no key stream
fits, the container holds only the prompt (and hints) and the whole image is regenerated;
when not even a minimal prompt fits (55 bytes), encoding fails.

examples:
  gensemcom encode photo.png -o photo.gsc --budget-bytes 3072
  gensemcom encode photo.png -o photo.gsc --budget-bytes 1536 --mask-out key.png --json
  gensemcom encode photo.png -o photo.gsc --boxes "100,50,300,260" --codec webp
""",
    "decode": """\
Decode a .gsc container into an image of the original size.

Key regions are decoded and pasted back with blended seams; the rest is regenerated from
the prompt and hints by the generator. A damaged file is refused unless --salvage is given,
which decodes every section that still checks out and regenerates the rest.

examples:
  gensemcom decode photo.gsc -o photo_rx.png
  gensemcom decode photo.gsc -o photo_rx.png --json
""",
    "inspect": """\
Show a .gsc container: header, sections with their sizes and importance classes (0 = most
protected), the key-stream settings, the key-mask share and the structured prompt.

examples:
  gensemcom inspect photo.gsc
  gensemcom inspect photo.gsc --json
""",
}


def add_arguments(parser, name):
    if name == "encode":
        parser.add_argument("image", metavar="IMAGE", help="PNG, JPEG, WebP, TIFF or BMP image")
        parser.add_argument("-o", "--output", metavar="FILE.gsc", required=True, help="container to write")
        BUDGET_BYTES.add_to(parser, type=positive_int, metavar="N")
        parser.add_argument("--key-fraction", type=unit_fraction, metavar="F",
                            help="target share of the image coded as key regions, e.g. 0.2 "
                                 "(default: automatic)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--mask", metavar="KEYMASK.png",
                           help="your key regions: an image of the same size, white (>= 128) = key")
        group.add_argument("--boxes", metavar="x0,y0,x1,y1;...", help="your key regions as pixel boxes")
        parser.add_argument("--mask-out", metavar="MASK.png",
                            help="write the key mask used (same size as the image, 255 = key)")
        CODEC.add_to(parser)
        parser.add_argument("--image-id", type=int, default=0, metavar="N",
                            help="image id 0..65535 carried by the container and its fragments")
    elif name == "decode":
        parser.add_argument("container", metavar="FILE.gsc", help="container written by `gensemcom encode`")
        parser.add_argument("-o", "--output", metavar="OUT.png", required=True, help="image to write (PNG)")
        parser.add_argument("--salvage", action="store_true",
                            help="decode what checks out in a damaged container instead of refusing it")
        parser.add_argument("--seed", type=int, metavar="N", help="generator seed (default: the image id)")
    else:
        parser.add_argument("container", metavar="FILE.gsc", help="container to show")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    if name in ("encode", "decode"):
        from .models import add_stack_arguments
        add_stack_arguments(parser)


def make_codec(settings: dict = None, stack=None):
    """The codec the commands use: the offline default stack unless ``stack`` is given.

    ``stack``: an object with ``segmenter``/``prompt_generator``/``generator`` attributes
    (what a ``--models`` card loads).
    """
    from ..semantic.codec import CodecConfig, SemanticCodec
    return SemanticCodec(config=CodecConfig.from_dict(settings or {}), stack=stack)


def run(args) -> int:
    return {"encode": _encode, "decode": _decode, "inspect": _inspect}[args.command](args)


def _stack(args):
    """The model stack --models/--quant/--device select; None for the offline default."""
    if not (args.models or args.quant or args.device):
        return None
    from .models import stack_from_args
    return stack_from_args(args)


def _read_container(path) -> bytes:
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no such file: {path}")
    data = path.read_bytes()
    if not data:
        raise BadInputError(f"{path} is empty")
    return data


def _encode(args) -> int:
    from ..fileio import check_output_path, write_bytes_atomic
    from ..imageio import load_image, load_mask, parse_boxes, save_png
    for path in (args.output, args.mask_out):       # both, before any work: no half-done outputs
        if path:
            check_output_path(path)
    image = load_image(args.image)
    height, width = image.shape[:2]
    key_mask = None
    if args.mask:
        key_mask = load_mask(args.mask, width, height)
    elif args.boxes:
        key_mask = parse_boxes(args.boxes, width, height)
    if not 0 <= args.image_id < 65536:
        raise BadInputError(f"--image-id must be 0..65535, got {args.image_id}")
    codec = make_codec({"codec": args.codec}, _stack(args))
    result = codec.encode(image, args.budget_bytes, key_mask=key_mask, image_id=args.image_id,
                          key_fraction=args.key_fraction)
    write_bytes_atomic(args.output, result.data)
    if args.mask_out:
        save_png(args.mask_out, result.key_mask.astype("uint8") * 255)
    report = dict(result.report, output=str(args.output))
    if args.json:
        print_json(report)
        return 0
    split = report["split_bytes"]
    print(f"wrote {args.output}: {report['container_bytes']} bytes (budget {args.budget_bytes}), "
          f"{width}x{height}, mode {report['mode']}")
    print("  split: " + ", ".join(f"{k} {v}" for k, v in split.items()))
    if report["mode"] == "semantic":
        factor = report["key_scale_factor"]
        print(f"  key area {100 * report['key_fraction']:.1f} % coded at 1/{factor:g} scale, "
              f"{report['codec']} quality {report['key_quality']}, {report['key_bands']} band(s); "
              f"hints level {report['hints_level']}")
    print(f"  prompt: {report['prompt_text']}")
    return 0


def _decode(args) -> int:
    from ..imageio import save_png
    data = _read_container(args.container)
    codec = make_codec(stack=_stack(args))
    result = codec.decode(data, seed=args.seed, strict=not args.salvage)
    save_png(args.output, result.image)
    report = dict(result.report, output=str(args.output),
                  image_size=[result.image.shape[1], result.image.shape[0]])
    if args.json:
        print_json(report)
        return 0
    print(f"wrote {args.output}: {result.image.shape[1]}x{result.image.shape[0]}, "
          f"key area {100 * report['key_fraction']:.1f} %, the rest regenerated by the "
          f"{report['generator']} generator")
    print(f"  received {len(report['received'])} section(s); lost "
          + (", ".join(f"{x['type']} (#{x['index']})" for x in report["lost"]) or "none"))
    for line in report["regenerated"] + report["notes"]:
        print(f"  {line}")
    return 0


def _inspect(args) -> int:
    from ..semantic.inspect import describe_container
    info = describe_container(_read_container(args.container))
    if args.json:
        print_json(info)
        return 0
    width, height = info["image_size"]
    print(f"gensemcom container v{info['format_version']}: image {width}x{height}, id {info['image_id']}, "
          f"{info['container_bytes']} bytes")
    print("  #  section   importance  bytes")
    for s in info["sections"]:
        print(f"  {s['index']:<2} {s['type']:<9} {s['importance']:<11} {s['bytes']}")
    meta = info.get("metadata")
    if meta:
        if meta["key_stream"]:
            w, h = meta["key_stream_size"]
            print(f"  key stream: {meta['key_codec']} {w}x{h} quality {meta['key_quality']}, "
                  f"{meta['key_bands']} band(s), seam blend {meta['feather_px']} px")
        else:
            print("  key stream: none (prompt-only container)")
        if meta["hints_thumbnail"]:
            print(f"  hints: {meta['hints_thumbnail'][0]}x{meta['hints_thumbnail'][1]} colour thumbnail")
    if "key_mask" in info:
        km = info["key_mask"]
        print(f"  key mask: {km['grid'][0]}x{km['grid'][1]} cells of {km['cell_px']} px, "
              f"{100 * km['key_fraction']:.1f} % of the image")
    if "prompt" in info:
        p = info["prompt"]
        print("  prompt:")
        print(f"    text:       {info['prompt_text']}")
        print(f"    scene:      {p['scene'] or '-'}")
        objects = ", ".join(f"{o['label']} ({o['confidence']:.2f})" for o in p["objects"])
        print("    objects:    " + (objects or "-"))
        print("    attributes: " + (", ".join(p["attributes"]) or "-"))
        palette = ", ".join(f"{c['colour']} {c['name']} {100 * c['share']:.0f}%" for c in p["palette"])
        print("    palette:    " + (palette or "-"))
        cols, rows = p["grid"]
        if p["layout"]:
            print(f"    layout {cols}x{rows} (colour / texture amplitude, grain, orientation):")
            for r in range(rows):
                cells = p["layout"][r * cols:(r + 1) * cols]
                print("      " + " | ".join(
                    f"{c['name']:<10} {c['texture']:>3} {c['grain'][0]}{c['orientation'][0]}" for c in cells))
    sys.stdout.flush()
    return 0
