# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM/QAM + LDPC physical layer (layer 2): GNU Radio hier blocks and channel presets.

Modules (docs/phy.md has the whole story):
  ofdm_qam_tx   ofdm_qam_tx hier block: PDU in -> complex bursts out
  ofdm_qam_rx   ofdm_qam_rx hier block: complex in -> one PDU per packet out
  channel       channel_preset hier block, ChannelConfig (awgn, rayleigh, rician, multipath),
                impairment_config(preset, **overrides)
  impairments   radio impairments on gr-channels blocks, IMPAIRMENT_PRESETS, DELAY_PROFILES
  config        Numerology (fft_len, cp_len, carriers, pilots, preamble) as data
  mcs           MCS_TABLE, frame_size() / max_payload_bytes(): symbols and samples per packet
  link          run_link(): TX -> channel -> RX Monte Carlo (what `gensemcom link` runs)
  framing, ldpc, convcode, modulation, receiver, tracking   the per-packet numpy pieces
Importing this package imports no GNU Radio; the block modules do.
"""
