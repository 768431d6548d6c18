# SPDX-License-Identifier: GPL-3.0-or-later
"""Write grc/gensemcom_*.block.yml from the blocks' declarations (their PARAMETERS and GRC).

Every block of ``gensemcom`` (the package's lazy block table) declares its parameters once;
this writes what GNU Radio Companion reads from them (``gensemcom.grc_yaml``). The files are
committed: run it after changing a block's parameters or GRC text (tests/test_grc_yaml.py
fails until you do).

  .venv/bin/python scripts/make_grc_yaml.py --write grc    rewrite the files that changed
  .venv/bin/python scripts/make_grc_yaml.py --check grc    list stale files; exit 1 if any
"""
import argparse
import sys
from pathlib import Path

from gnuradio import gensemcom

from gnuradio.gensemcom import grc_yaml


def expected():
    """{file name: text} of every block's GRC YAML, as the declarations give it."""
    return {f"gensemcom_{name}.block.yml": grc_yaml.block_text(name, getattr(gensemcom, name))
            for name in gensemcom._LAZY}


def stale(folder):
    """The block files in ``folder`` that differ from ``expected()`` (missing, changed or extra)."""
    folder, want = Path(folder), expected()
    changed = [name for name, text in want.items()
               if not (folder / name).is_file() or (folder / name).read_text() != text]
    extra = [p.name for p in sorted(folder.glob("gensemcom_*.block.yml")) if p.name not in want]
    return changed, extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="DIR", help="write every gensemcom_*.block.yml into DIR")
    action.add_argument("--check", metavar="DIR", help="list the files in DIR that --write would change")
    args = parser.parse_args(argv)
    folder = Path(args.write or args.check)
    changed, extra = stale(folder)
    if args.write:
        want = expected()
        for name in changed:
            (folder / name).write_text(want[name])
        print(f"{len(changed)} of {len(want)} block files written" + "".join(f"\n  {n}" for n in changed))
        for name in extra:
            print(f"{folder / name}: no block declares it (remove it?)", file=sys.stderr)
        return 0
    for name in changed:
        print(f"{folder / name} is stale: run scripts/make_grc_yaml.py --write {folder}")
    for name in extra:
        print(f"{folder / name}: no block declares it")
    return 1 if changed or extra else 0


if __name__ == "__main__":
    sys.exit(main())
