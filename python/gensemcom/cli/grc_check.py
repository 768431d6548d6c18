# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile GRC flowgraphs (the examples by default) and fail when a block is not found.

Why: GNU Radio Companion finds block definitions (*.block.yml) in its block paths: the
GRC_BLOCKS_PATH environment variable, the [grc] local_blocks_path / global_blocks_path of
GNU Radio's config and share/gnuradio/grc/blocks of its prefix. A flowgraph that uses a block
GRC did not find still "compiles": `grcc` turns the unknown block into a disabled "Missing
Block", exits 0 and writes a top block without it (loopback.grc becomes an empty flowgraph),
or fails later with an unrelated message ("Port is not connected").

What this checks, for each flowgraph:
  1. every enabled block's id is in the block library GRC loaded from the paths above;
  2. the flowgraph validates and generates, with GRC's own compiler (what grcc runs): each
     validation error is reported, one line each;
  3. the generated Python creates every enabled block of the .grc (a dropped block is named).
One line per problem on stderr, then a summary with the block paths GRC searched; exit
status 2 when there is a problem, 0 when every flowgraph compiled with all its blocks.

Fix a missing gensemcom_* block with one of:
  GRC_BLOCKS_PATH=/path/to/gr-gensemcom/grc gensemcom grc-check   (a source checkout)
  gensemcom grc-check --blocks-path /path/to/gr-gensemcom/grc
  make cmake-install      (installs the YAML into GNU Radio's share/gnuradio/grc/blocks)

examples:
  gensemcom grc-check --blocks-path grc                 # every example of this checkout
  gensemcom grc-check my_flowgraph.grc --out /tmp/gen   # one flowgraph; keep the generated .py
  make grc-check
"""
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import BadInputError

# blocks that generate no ``self.<name>`` in the top block
NO_INSTANCE = {"options", "snippet", "import", "note", "virtual_source", "virtual_sink", "pad_source", "pad_sink",
               "epy_module"}


def add_arguments(parser, name):
    parser.add_argument("flowgraphs", nargs="*", type=Path, metavar="GRC",
                        help=".grc files or folders of them (default: the gr-gensemcom examples)")
    parser.add_argument("--blocks-path", action="append", default=[], type=Path, metavar="DIR",
                        help="a folder of *.block.yml GRC should search first (repeatable); "
                             "added in front of GRC_BLOCKS_PATH")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="keep the generated Python here (default: a temporary folder, removed)")


def default_examples():
    """The examples folder of this source checkout, or of the installed module."""
    from gnuradio import gr
    candidates = [Path(__file__).resolve().parents[3] / "examples",
                  Path(gr.prefix()) / "share" / "gr-gensemcom" / "examples"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.grc")):
            return folder
    raise BadInputError("no examples folder found (looked in " + ", ".join(map(str, candidates)) +
                        "); name the .grc files to check")


def flowgraph_files(paths):
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.grc"))
        elif path.is_file() and path.suffix == ".grc":
            files.append(path)
        else:
            raise BadInputError(f"not a .grc file or a folder: {path}")
    if not files:
        raise BadInputError(f"no .grc files in {', '.join(map(str, paths))}")
    return files


def make_platform():
    """GRC's platform with its block library loaded, as grcc builds it. GRC's console messages
    (the generator's "no Throttle block" warnings ...) are kept out of the output: this command
    reports what it checks itself."""
    from gnuradio import gr
    from gnuradio.grc.core import Messages
    from gnuradio.grc.core.platform import Platform
    Messages.MESSENGERS_LIST[:] = []
    platform = Platform(name="GNU Radio Companion Compiler", prefs=gr.prefs(), version=gr.version(),
                        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()))
    platform.build_library()
    return platform


def one_line(text):
    return " ".join(str(text).split())


def where(element):
    """'block_name: ' or 'block_name: Sink - in(0): ' for a GRC element with an error."""
    block = getattr(element, "parent_block", None)
    if block is not None and block is not element:
        return f"{block.name}: {one_line(element)}: "
    name = getattr(element, "name", "")
    return f"{name}: " if name and getattr(element, "is_block", False) else ""


def check_flowgraph(platform, path, out_dir):
    """Problems (one line each) of the flowgraph at ``path``; generates it into ``out_dir``."""
    import yaml
    try:
        data = yaml.safe_load(path.read_text())
        blocks = [b for b in data.get("blocks", []) if b.get("states", {}).get("state", "enabled") != "disabled"]
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        return [f"not a GRC flowgraph: {one_line(exc)}"]
    problems = [f"block {b['id']!r} ({b.get('name')}) not found in GRC's block library"
                for b in blocks if b.get("id") not in platform.blocks]
    flow_graph = platform.make_flow_graph()
    flow_graph.grc_file_path = str(path.resolve())
    try:
        flow_graph.import_data(platform.parse_flow_graph(str(path.resolve())))
        flow_graph.rewrite()
        flow_graph.validate()
    except Exception as exc:  # GRC raises what its parser and blocks raise
        return problems + [f"does not load: {one_line(exc)}"]
    if not flow_graph.is_valid():
        return problems + [f"invalid: {where(element)}{one_line(message)}"
                           for element, message in flow_graph.iter_error_messages()]
    generator = platform.Generator(flow_graph, str(out_dir))
    try:
        generator.write()
    except Exception as exc:
        return problems + [f"does not generate: {one_line(exc)}"]
    code = Path(generator.file_path).read_text()
    problems += [f"block {b['id']!r} ({b['name']}) is missing from the generated {Path(generator.file_path).name}"
                 for b in blocks if b.get("id") not in NO_INSTANCE and b.get("id") in platform.blocks
                 and f"self.{b['name']}" not in code]
    return problems


def run(args):
    import sys
    for folder in args.blocks_path:
        if not folder.is_dir():
            raise BadInputError(f"--blocks-path is not a folder: {folder}")
    if args.out and not args.out.is_dir():
        raise BadInputError(f"--out folder does not exist: {args.out} (create it first)")
    files = flowgraph_files(args.flowgraphs or [default_examples()])
    extra = [str(p.resolve()) for p in args.blocks_path]
    if extra:
        os.environ["GRC_BLOCKS_PATH"] = os.pathsep.join(extra + [p for p in [os.environ.get("GRC_BLOCKS_PATH")] if p])
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="gensemcom-grc-check-"))
    try:
        platform = make_platform()
        failed = 0
        problems = 0
        for path in files:
            found = check_flowgraph(platform, path, out_dir)
            failed += bool(found)
            problems += len(found)
            for problem in found:
                print(f"{path}: {problem}", file=sys.stderr)
    finally:
        if args.out is None:
            shutil.rmtree(out_dir, ignore_errors=True)
    searched = ", ".join(platform.config.block_paths) or "(none)"
    if problems:
        print(f"gensemcom grc-check: {problems} problem(s) in {failed} of {len(files)} flowgraph(s); GRC searched "
              f"{searched}. For the gensemcom_* blocks set GRC_BLOCKS_PATH to the module's grc/ folder, pass "
              "--blocks-path, or install the module (make cmake-install)", file=sys.stderr)
        return 2
    where = f" into {args.out}" if args.out else ""
    print(f"{len(files)} flowgraph(s) compiled{where}, every block found (GRC searched {searched})")
    return 0
