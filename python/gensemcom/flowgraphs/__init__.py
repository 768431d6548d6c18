# SPDX-License-Identifier: GPL-3.0-or-later
"""Flowgraphs: building and running a whole transmission (TX, channel, RX in one top block).

  transmit    ``run_transmission``: one image through semantic_tx, a channel preset and semantic_rx
  thread_cpu  ``ThreadCpu``: CPU seconds per thread (per GNU Radio block) while a flowgraph runs
"""
