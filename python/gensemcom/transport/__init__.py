# SPDX-License-Identifier: GPL-3.0-or-later
"""Transport: bytes only. The ``.gsc`` container, fragments, packets, reassembly, and what a
container costs on the link.

  container   the container format: header, typed sections with CRCs, importance classes
  fragments   pieces cut to the MTU (0xF1 fragment header)
  packets     fragments of one protection group packed together (0xF2 aggregate packets)
  reassembly  whatever arrived (any order, duplicates, gaps) back into sections
  budget      ``Budget``: the bytes and channel symbols a container costs

No images and no GNU Radio here.
"""
