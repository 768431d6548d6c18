# SPDX-License-Identifier: GPL-3.0-or-later
"""Whole-image classical image coding: the separation baselines, and the still-image streams the
semantic codec codes its key regions and hints with.

  stillcodec  bare AV1 / WebP (VP8) / JPEG streams of a picture, and back
  baselines   best quality and scale of a standard file that fit a byte budget
  wholeimage  ``WholeImageCodec``: a whole image in the ``.gsc`` container (the baselines' sender
              and receiver)
"""
