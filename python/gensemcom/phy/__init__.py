"""OFDM/QAM + LDPC physical layer (layer 2): GNU Radio hier blocks and channel presets."""
