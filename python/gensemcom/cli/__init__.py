# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``gensemcom`` command.

Each subcommand lives in its own module in this package, imported only when it runs, so
``gensemcom --help`` is instant and a broken optional stack cannot break other commands.
A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; its
docstring is the command's ``--help`` description.
"""
import argparse
import importlib
import os
import sys
from pathlib import Path

from ..errors import GensemcomError
from ..version import __version__

# name -> (module in this package, one-line summary). Order is the order in --help.
COMMANDS = {
    "demo": ("demo", "send bundled images through the flowgraph at several SNRs (what `make demo` runs)"),
    "encode": ("codec", "encode an image into a .gsc semantic container"),
    "decode": ("codec", "decode a .gsc container into an image (regenerating what is missing)"),
    "inspect": ("codec", "show a .gsc container's sections, sizes and structured prompt"),
    "transmit": ("transmit", "send one image through the real flowgraph (semantic or a codec baseline)"),
    "tx": ("txrx", "transmitter for two-process, ZeroMQ and SDR setups"),
    "rx": ("txrx", "receiver for two-process, ZeroMQ and SDR setups"),
    "channel": ("channel", "channel emulator between a tx and an rx process (ZeroMQ / SigMF)"),
    "link": ("link", "link-level PER/BER benchmark of one MCS over a channel preset"),
    "bench": ("bench", "resumable benchmark sweep over images, schemes, SNRs and channels"),
    "models": ("models", "list, download and benchmark large-model cards"),
    "finetune": ("finetune", "LoRA fine-tuning of the captioner or the generator"),
    "grc-check": ("grc_check", "compile the example flowgraphs with GRC; fail when a block is not found"),
}

EPILOG = """\
examples:
  gensemcom link --mcs qpsk-1/2 --snr 6 --channel awgn --packets 200 --json
  gensemcom encode photo.png -o photo.gsc --budget-bytes 3072
  gensemcom decode photo.gsc -o photo_rx.png
  gensemcom transmit photo.png --scheme semantic --snr 0 --channel awgn --cpp 1/48 --out rx.png

Run `gensemcom COMMAND --help` for a command's options.
"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2 (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _top_parser():
    lines = [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    parser = ArgumentParser(
        prog="gensemcom",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=("Generative semantic image transmission over GNU Radio: key regions are coded\n"
                     "classically, the rest becomes a structured text prompt that a generative model\n"
                     "fills in at the receiver, all carried by an OFDM/QAM + LDPC PHY.\n\n"
                     "commands:\n" + "\n".join(lines)),
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version",
                        version=f"gensemcom {__version__} ({Path(__file__).resolve().parent.parent})")
    parser.add_argument("command", metavar="COMMAND", help="one of the commands above")
    return parser


def command_parser(name):
    """Build the full argument parser of subcommand ``name`` (imports its module)."""
    module_name, summary = COMMANDS[name]
    module = importlib.import_module(f".{module_name}", __name__)
    parser = ArgumentParser(
        prog=f"gensemcom {name}",
        description=getattr(module, "DESCRIPTIONS", {}).get(name) or module.__doc__ or summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser, name)
    return module, parser


def main(argv=None):
    """Entry point of the ``gensemcom`` command. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0].startswith("-"):
        top.parse_args(argv[:1] or ["--help"])
        return 0
    name = argv[0]
    if name not in COMMANDS:
        top.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    prog = f"gensemcom {name}"
    try:
        module, parser = command_parser(name)
        args = parser.parse_args(argv[1:])
        args.command = name
        return int(module.run(args) or 0)
    except GensemcomError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"{prog}: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line, traceback on request
        if os.environ.get("GENSEMCOM_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {exc} "
              "(rerun with GENSEMCOM_DEBUG=1 for a traceback and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
