# SPDX-License-Identifier: GPL-3.0-or-later
"""Qt image display: the original beside the reconstruction, updated live."""
import numpy as np
from gnuradio import gr

from ..grc_yaml import GrcBlock, message
from ..params import Param, Params
from .pdus import pdu_to_image
from .worker import message_block


def _format_caption(meta):
    parts = [str(meta.get("name") or f"image {meta.get('image_id', '?')}")]
    for key, fmt in (("psnr", "PSNR {:.1f} dB"), ("ssim", "SSIM {:.3f}"), ("vsi", "VSI {:.3f}"),
                     ("key_psnr", "key PSNR {:.1f} dB"), ("snr_db", "SNR {:.1f} dB")):
        value = meta.get(key)
        if isinstance(value, (int, float)) and value == value:
            parts.append(fmt.format(value))
    return " · ".join(parts)


class image_display(message_block):
    """Shows the latest image PDUs from two message ports side by side.

    Message inputs
      original  image PDU (meta: name, image_id)
      received  image PDU (meta may carry psnr, ssim, vsi, key_psnr, snr_db: shown as caption)
    Parameters (``PARAMETERS``)
      title       text above the images
      max_width   display width of each image in pixels (images are scaled, not cropped)
    The widget is ``self.qwidget()``; GRC places it with the GUI hint.
    """

    finish_on_done = False     # shows the last images until the window closes

    PARAMETERS = Params(
        Param("title", "str", "GenSemCom", "Title", "text above the images"),
        Param("max_width", "int", 384, "Image Width", "display width of each image (larger ones are scaled down)",
              unit="px", lo=16),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Image Display", category="[GenSemCom]/GUI",
        inputs=(message("original", optional=True), message("received", optional=True)),
        extra_parameters=({"id": "gui_hint", "label": "GUI Hint", "dtype": "gui_hint", "hide": "part"},),
        make_prefix="<%\n    win = 'self._%s_win'%id\n%>\\\n",
        make_suffix="\n${win} = self.${id}.qwidget()\n${gui_hint() % win}",
        documentation="""
Shows the original image beside the reconstruction, updated live as image PDUs arrive.

Message inputs
  original: image PDU (raw RGB bytes; meta width, height, name, image_id) - usually the
            Image Source's output.
  received: image PDU from the Semantic Decoder / Image Sink path. Metrics in its meta
            (psnr, ssim, vsi, key_psnr, snr_db) are shown under the image.

Parameters
  Title: text above the images.
  Image Width: display width of each image in pixels; larger images are scaled down.

Use it in a QT GUI flowgraph (Options: Generate Options = QT GUI).
""")

    def __init__(self, title=DEFAULT.title, max_width=DEFAULT.max_width):
        message_block.__init__(self, "gensemcom_image_display")
        from PyQt5 import QtCore, QtGui, QtWidgets

        self._QtGui = QtGui
        self.max_width = self.PARAMETERS["max_width"].check("image_display", max_width)

        class _Bridge(QtCore.QObject):
            update = QtCore.pyqtSignal(str, object, str)

        self._widget = QtWidgets.QWidget()
        layout = QtWidgets.QGridLayout(self._widget)
        heading = QtWidgets.QLabel(f"<b>{title}</b>")
        layout.addWidget(heading, 0, 0, 1, 2)
        self._labels, self._captions = {}, {}
        for column, side in enumerate(("original", "received")):
            image_label = QtWidgets.QLabel("waiting for an image…")
            image_label.setAlignment(QtCore.Qt.AlignCenter)
            image_label.setMinimumSize(self.max_width // 2, self.max_width // 3)
            caption = QtWidgets.QLabel(side)
            caption.setAlignment(QtCore.Qt.AlignCenter)
            caption.setWordWrap(True)
            layout.addWidget(image_label, 1, column)
            layout.addWidget(caption, 2, column)
            self._labels[side], self._captions[side] = image_label, caption
        self._bridge = _Bridge()
        self._bridge.update.connect(self._show, QtCore.Qt.QueuedConnection)
        # GNU Radio's Python gateway needs bound methods as handlers (no lambdas).
        self.register_input("original", self._on_original)
        self.register_input("received", self._on_received)

    def qwidget(self):
        """The Qt widget (a QWidget) to place in a GUI."""
        return self._widget

    def _on_original(self, msg):
        self._on_pdu("original", msg)

    def _on_received(self, msg):
        self._on_pdu("received", msg)

    def _on_pdu(self, side, msg):
        try:
            meta, image = pdu_to_image(msg)
        except Exception as exc:
            gr.log.warn(f"image_display: ignoring {side} message: {exc}")
            return
        prefix = "sent" if side == "original" else "received"
        self._bridge.update.emit(side, np.ascontiguousarray(image), f"{prefix}: {_format_caption(meta)}")

    def _show(self, side, image, caption):
        QtGui = self._QtGui
        height, width = image.shape[:2]
        qimage = QtGui.QImage(image.data, width, height, 3 * width, QtGui.QImage.Format_RGB888).copy()
        pixmap = QtGui.QPixmap.fromImage(qimage)
        if width > self.max_width:
            pixmap = pixmap.scaledToWidth(self.max_width)
        self._labels[side].setPixmap(pixmap)
        self._labels[side].setMinimumSize(pixmap.size())
        self._captions[side].setText(caption)
