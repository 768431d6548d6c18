# SPDX-License-Identifier: GPL-3.0-or-later
"""Names and limits shared by every layer, written once.

Channels
  CHANNELS          channel presets of ``phy.channel`` (and every CLI, block and sweep)
  FADING_CHANNELS   the presets with fading: the link plans with fading PER curves there
  DECODING_EFFORTS  the PHY receiver's decoding efforts (``phy.ofdm_qam_rx``): full, fast
Schemes
  SEMANTIC_SCHEME   the semantic scheme's name
  BASELINE_SCHEMES  whole-image separation baselines (a classical codec + the same PHY): bare
                    AV1, WebP and JPEG streams, ROI-coded AV1, and the AVIF file for reference
  SEMANTIC_ABLATIONS the semantic scheme without one of its parts (what each part adds):
                    no generator (the plain canvas), no prompt (a neutral one), no hints, no key area
  SCHEMES           everything a transmitter or receiver block can run
Codecs and models
  KEY_CODECS        still-image codecs of the semantic key streams and hints (``classical.stillcodec``)
  QUANT_MODES       quantization of the large models (model cards, ``--quant``)
Image limits
  MAX_IMAGE_SIDE_PX     largest width or height anything accepts or decodes (pixels)
  MAX_DECODE_PIXELS     largest image a decoder rebuilds from what came off the air
Wire formats (bytes; the formats themselves are in ``transport``)
  CONTAINER_HEADER_BYTES  ``.gsc`` container header
  FRAGMENT_HEADER_BYTES   per-fragment header (0xF1 ...)
  MAX_PAYLOAD_BYTES       largest payload of one PHY packet (``phy.mcs``)
"""

CHANNELS = ("awgn", "rayleigh", "rician", "multipath")
FADING_CHANNELS = ("rayleigh", "rician", "multipath")
DECODING_EFFORTS = ("full", "fast")

SEMANTIC_SCHEME = "semantic"
BASELINE_SCHEMES = ("av1", "webp", "jpeg", "roi-av1", "avif")
SEMANTIC_ABLATIONS = ("semantic-no-generator", "semantic-no-prompt", "semantic-no-hints", "semantic-no-key")
SCHEMES = (SEMANTIC_SCHEME,) + BASELINE_SCHEMES + SEMANTIC_ABLATIONS

KEY_CODECS = ("avif", "webp", "jpeg")
QUANT_MODES = ("none", "int8", "nf4", "torchao-int8")

MAX_IMAGE_SIDE_PX = 16384
MAX_DECODE_PIXELS = 1 << 25      # 33.5 MP

CONTAINER_HEADER_BYTES = 14
FRAGMENT_HEADER_BYTES = 9
MAX_PAYLOAD_BYTES = 4096
