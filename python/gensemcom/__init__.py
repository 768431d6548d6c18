# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-gensemcom: generative semantic image transmission for GNU Radio.

Layers (each importable alone):
  gensemcom.semantic  pure Python/torch semantic codec (no GNU Radio import)
  gensemcom.phy       OFDM/QAM + LDPC PHY as GNU Radio hier blocks, channel presets
  gensemcom.blocks    message blocks joining the codec and the PHY
Block names used by GRC (``gensemcom.ofdm_qam_tx`` ...) resolve lazily, so importing the
package does not import GNU Radio or torch until a block is asked for.
"""
import importlib

from .version import __version__

# public name -> submodule that defines it; filled in as layers land
_LAZY = {
    "ofdm_qam_tx": "phy.ofdm_qam_tx",
    "ofdm_qam_rx": "phy.ofdm_qam_rx",
    "channel_preset": "phy.channel",
    "idle_fill": "phy.idle_fill",
    "image_display": "blocks.image_display",
    "image_source": "blocks.image_source",
    "image_sink": "blocks.image_sink",
    "metrics_sink": "blocks.metrics_sink",
    "semantic_encoder": "blocks.semantic_encoder",
    "semantic_decoder": "blocks.semantic_decoder",
    "fragmenter": "blocks.fragmenter",
    "reassembler": "blocks.reassembler",
    "feedback_link": "blocks.feedback_link",
    "semantic_tx": "blocks.semantic_txrx",
    "semantic_rx": "blocks.semantic_txrx",
    "sigmf_sink": "blocks.sigmf_io",
    "sigmf_source": "blocks.sigmf_io",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module("." + _LAZY[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'gnuradio.gensemcom' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
