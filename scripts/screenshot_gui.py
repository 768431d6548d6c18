#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Screenshot of examples/loopback_gui.grc running offscreen (the picture in docs/flowgraphs.md).

  GRC_BLOCKS_PATH=grc grcc -o /tmp/gen examples/loopback_gui.grc
  scripts/screenshot_gui.py /tmp/gen docs/img/loopback_gui.png 25
Arguments: folder of the generated loopback_gui.py, output PNG, seconds to run first.
"""
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(generated, target, seconds):
    sys.path.insert(0, generated)
    from PyQt5 import Qt
    app = Qt.QApplication(sys.argv[:1])
    from PIL import Image
    from skimage import data
    folder = tempfile.mkdtemp(prefix="gensemcom-gui-")
    Image.fromarray(data.astronaut()[::2, ::2]).save(os.path.join(folder, "astronaut.png"))
    import loopback_gui
    tb = loopback_gui.loopback_gui(images=folder, cpp=1 / 16)
    tb.start()
    tb.show()
    tb.resize(1100, 900)
    started = time.time()
    while time.time() - started < seconds:
        app.processEvents()
        time.sleep(0.02)
    tb.grab().save(target)
    images = len(tb.gensemcom_metrics_sink_0.results)
    tb.stop()
    tb.wait()
    print(f"wrote {target} after {images} image(s)")
    return 0 if images else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 25))
