#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The GNU Radio way, checked from a clean build folder: configure, build, ctest (QA tests),
# install to a temporary prefix, then run the *installed* package: import it, `gensemcom
# --version`, a short `gensemcom link` and a short `gensemcom transmit`.
#   scripts/cmake_check.sh [PYTHON]      (default: .venv/bin/python; make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-$PWD/.venv/bin/python}
WORK=$(mktemp -d /tmp/gensemcom-cmake.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix
step() { echo "cmake-check: $*"; }

step "configure (prefix $PREFIX, interpreter $PYTHON)"
cmake -S . -B "$WORK/build" -DCMAKE_INSTALL_PREFIX="$PREFIX" -DPYTHON_EXECUTABLE="$PYTHON" \
    -DGENSEMCOM_TEST_PYTHON="$PYTHON" > "$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; exit 1; }
step "build"
cmake --build "$WORK/build" > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
step "ctest"
(cd "$WORK/build" && ctest --output-on-failure --no-tests=error)
step "install"
cmake --install "$WORK/build" > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }

SITE=$("$PYTHON" - "$PREFIX" <<'PY'
import pathlib, sys
hits = sorted(pathlib.Path(sys.argv[1]).glob("lib/python3*/*-packages/gnuradio/gensemcom/__init__.py"))
print(hits[0].parents[2] if hits else "")
PY
)
[ -n "$SITE" ] || { echo "cmake-check: no gnuradio/gensemcom/__init__.py under $PREFIX"; exit 1; }
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export GRC_BLOCKS_PATH="$PREFIX/share/gnuradio/grc/blocks"
cd "$WORK"      # away from the source tree

step "import the installed package"
"$PYTHON" - "$SITE" "$PREFIX" <<'PY'
import sys
from pathlib import Path
from gnuradio import gensemcom
from gnuradio.gensemcom.link.profile import LinkProfile
where = Path(gensemcom.__file__).resolve()
assert str(where).startswith(str(Path(sys.argv[1]).resolve())), f"imported {where}, not the installed package"
LinkProfile.load("default")          # data files (profiles, PER tables) installed with it
print(f"  from gnuradio import gensemcom -> {where}")
from gnuradio.gensemcom.models.cards import load_card
from gnuradio.gensemcom.models.loading import resolve_adapter
card = load_card("realesrgan-x4plus-receiver")      # a shipped card and the LoRA adapter it names
adapter = resolve_adapter(card, card.lora[0]).resolve()
prefix = Path(sys.argv[2]).resolve()
assert str(card.folder.resolve()).startswith(str(prefix)) and str(adapter).startswith(str(prefix)), (card.folder, adapter)
print(f"  shipped adapter -> {adapter}")
PY
step "installed command"
"$PREFIX/bin/gensemcom" --version
"$PREFIX/bin/gensemcom" link --mcs qpsk-1/2 --snr 20 --packets 20 --payload-bytes 200 --json > link.json
"$PYTHON" -c "import json; r = json.load(open('link.json')); r = r[0] if isinstance(r, list) else r; \
assert r['packets_ok'] == 20, r; print('  gensemcom link: 20/20 packets')"
"$PYTHON" -c "from skimage import data; from PIL import Image; Image.fromarray(data.astronaut()[::4, ::4]).save('a.png')"
"$PREFIX/bin/gensemcom" transmit a.png --scheme semantic --snr 10 --cpp 1/8 --out rx.png --json > transmit.json
"$PYTHON" -c "import json; r = json.load(open('transmit.json')); assert r['delivered'] and r['psnr'] > 15, r; \
print(f\"  gensemcom transmit: delivered, PSNR {r['psnr']:.2f} dB, {r['packets_ok']}/{r['packets_sent']} packets\")"
step "ok"
