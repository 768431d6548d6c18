# SPDX-License-Identifier: GPL-3.0-or-later
"""PHY coding layer without a flowgraph: LDPC, convolutional code, modulation, framing, MCS."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.errors import BadInputError
from gnuradio.gensemcom.phy import config, convcode, framing, ldpc
from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY, Numerology, lfsr_bits
from gnuradio.gensemcom.phy.mcs import MAX_PAYLOAD_BYTES, MCS_TABLE, frame_size, get_mcs, max_payload_bytes
from gnuradio.gensemcom.phy.modulation import (BITS_PER_SYMBOL, ber_awgn, constellation, demodulate_llr, error_power,
                                               hard_bits, modulate, nearest_points, shannon_snr_db)

pytestmark = pytest.mark.timeout(120)


def bpsk_llr(bits, esno_db, rng):
    """LLRs of BPSK-modulated bits through AWGN at Es/N0 (complex noise, real signal)."""
    noise_var = 10 ** (-esno_db / 10)
    received = 1.0 - 2.0 * bits + rng.standard_normal(bits.shape) * np.sqrt(noise_var / 2)
    return 4.0 * received / noise_var


# -- LDPC ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", ldpc.CODEWORD_LENGTHS)
@pytest.mark.parametrize("rate", ldpc.RATES)
def test_ldpc_codewords_satisfy_every_parity_check(n, rate, rng):
    code = ldpc.get_code(n, rate)
    assert code.pcm.shape == (n - code.k, n) and code.k == int(n * float(eval(rate)))
    info = rng.integers(0, 2, (8, code.k), dtype=np.uint8)
    codewords = code.encode(info)
    assert np.array_equal(codewords[:, :code.k], info)          # systematic
    assert not code.syndrome(codewords).any()                    # H c = 0
    assert code.syndrome(codewords ^ np.eye(1, n, 5, dtype=np.uint8)).any()
    words = rng.integers(0, 2, (3, n), dtype=np.uint8)                  # the compiled parities are H c mod 2
    assert np.array_equal(code.syndrome(words), (code.pcm @ words.T.astype(int)).T % 2)


@pytest.mark.parametrize("fast", [False, True], ids=["sum-product", "fast-min-sum"])
@pytest.mark.parametrize("rate,esno_db", [("1/2", -0.5), ("3/4", 2.5), ("5/6", 3.5)])
def test_ldpc_decoder_corrects_channel_errors(rate, esno_db, fast, rng):
    code = ldpc.get_code(1944, rate)
    info = rng.integers(0, 2, (10, code.k), dtype=np.uint8)
    codewords = code.encode(info)
    llr = bpsk_llr(codewords, esno_db, rng)
    raw_errors = np.count_nonzero(hard_bits(llr) != codewords)
    decoded, ok = code.decode(llr, fast)
    assert raw_errors > 100                                       # the channel did corrupt
    assert ok.all() and np.array_equal(decoded, codewords)


@pytest.mark.parametrize("fast", [False, True], ids=["sum-product", "fast-min-sum"])
def test_ldpc_decoder_reports_failure_on_noise(fast, rng):
    code = ldpc.get_code(648, "1/2")
    _, ok = code.decode(rng.standard_normal((3, 648)), fast)
    assert not ok.any()
    assert code.decoder(fast).max_iter == (ldpc.FAST_MAX_ITERATIONS if fast else ldpc.MAX_ITERATIONS)


def test_min_sum_ignores_the_llr_scale_that_sum_product_needs(rng):
    """Why the receiver's retracking passes decode with min-sum (``burst_decoder.decode_packet``):
    their noise variance, hence their LLRs' scale, is off. Scaled by 1/4 or 8, min-sum decodes
    the same codewords; sum-product, right at the true scale, fails on them."""
    code = ldpc.get_code(1944, "1/2")
    codewords = code.encode(rng.integers(0, 2, (20, code.k), dtype=np.uint8))
    llr = bpsk_llr(codewords, 0.0, rng)
    for scale in (0.25, 1.0, 8.0):
        decoded, ok = code.decode(llr * scale, fast=True)
        assert ok.all() and np.array_equal(decoded, codewords)
        decoded, ok = code.decode(llr * scale, fast=False)
        assert ok.all() == (scale == 1.0) and np.array_equal(decoded, codewords) == (scale == 1.0)


@given(st.integers(1, 8 * (MAX_PAYLOAD_BYTES + 4)), st.sampled_from(ldpc.RATES))
@settings(max_examples=60, deadline=None)
def test_codeword_plan_follows_80211n(info_bits, rate):
    plan = ldpc.codeword_plan(info_bits, rate)
    assert sum(plan.info_per_codeword) == info_bits
    assert max(plan.info_per_codeword) <= plan.k
    assert max(plan.info_per_codeword) - min(plan.info_per_codeword) <= 1   # shortening spread
    if info_bits <= plan.k and plan.n_codewords == 1:
        smaller = [n for n in ldpc.CODEWORD_LENGTHS if n < plan.n]
        assert all(info_bits > int(n * float(eval(rate))) for n in smaller)  # shortest that fits
    else:
        assert plan.n == 1944


@pytest.mark.parametrize("info_bits", [40, 700, 5000])
def test_shortened_packet_round_trip(info_bits, rng):
    info = rng.integers(0, 2, info_bits, dtype=np.uint8)
    coded = ldpc.encode_bits(info, "2/3")
    assert coded.size == ldpc.codeword_plan(info_bits, "2/3").coded_bits
    decoded, failed = ldpc.decode_llr(bpsk_llr(coded, 3.0, rng), info_bits, "2/3")
    assert failed == 0 and np.array_equal(decoded, info)


# -- convolutional code (header) ----------------------------------------------------------
def test_convolutional_code_round_trip_and_correction(rng):
    bits = rng.integers(0, 2, 56, dtype=np.uint8)
    coded = convcode.encode(bits)
    assert coded.size == convcode.coded_length(56) == 124
    assert np.array_equal(convcode.decode(4.0 * (1 - 2.0 * coded)), bits)
    llr = 4.0 * (1 - 2.0 * coded)
    llr[[3, 20, 50, 90]] *= -1                                  # four hard errors
    assert np.array_equal(convcode.decode(llr), bits)


# -- modulation ---------------------------------------------------------------------------
@pytest.mark.parametrize("modulation", list(BITS_PER_SYMBOL))
def test_constellations_are_unit_power_and_gray(modulation, rng):
    points = constellation(modulation)
    bps = BITS_PER_SYMBOL[modulation]
    assert points.size == 1 << bps
    assert np.isclose(np.mean(np.abs(points) ** 2), 1.0)
    nearest = np.min(np.abs(points[:, None] - points[None, :]) + 9 * np.eye(points.size))
    for a in range(points.size):
        for b in range(points.size):
            if a != b and np.isclose(abs(points[a] - points[b]), nearest):
                assert bin(a ^ b).count("1") == 1                # neighbours differ in one bit
    bits = rng.integers(0, 2, bps * 500, dtype=np.uint8)
    symbols = modulate(bits, modulation)
    assert np.array_equal(hard_bits(demodulate_llr(symbols, 0.01, modulation)), bits)
    assert np.allclose(nearest_points(symbols * 1.05 + 0.01j, modulation), symbols)
    z = 1.5 * (rng.normal(size=(40, 7)) + 1j * rng.normal(size=(40, 7)))    # any shape; outside the outer points too
    brute_force = points[np.argmin(np.abs(z[..., None] - points), axis=-1)]
    assert np.allclose(nearest_points(z, modulation), brute_force)
    assert np.isclose(error_power(z, modulation), np.mean(np.abs(z - brute_force) ** 2), rtol=1e-12)   # EVM power


@pytest.mark.parametrize("modulation,esno_db", [("bpsk", 4.0), ("qpsk", 8.0), ("16qam", 14.0),
                                                ("64qam", 20.0)])
def test_llr_demapper_matches_closed_form_ber(modulation, esno_db, rng):
    bits = rng.integers(0, 2, BITS_PER_SYMBOL[modulation] * 200_000, dtype=np.uint8)
    symbols = modulate(bits, modulation)
    noise_var = 10 ** (-esno_db / 10)
    noise = (rng.standard_normal(symbols.size) + 1j * rng.standard_normal(symbols.size))
    received = symbols + noise * np.sqrt(noise_var / 2)
    ber = np.mean(hard_bits(demodulate_llr(received, noise_var, modulation)) != bits)
    theory = float(ber_awgn(modulation, esno_db))
    assert abs(ber - theory) < 0.15 * theory + 2e-5


def test_closed_form_references():
    assert np.isclose(float(ber_awgn("bpsk", 0.0)), 0.0786496, rtol=1e-5)
    assert np.isclose(float(ber_awgn("qpsk", 3.0103)), float(ber_awgn("bpsk", 0.0)), rtol=1e-4)
    assert np.allclose(shannon_snr_db([1, 3, 5]), [0.0, 8.4509804, 14.9136169])


# -- framing, header, CRC -----------------------------------------------------------------
@given(st.sampled_from(list(MCS_TABLE)), st.integers(1, MAX_PAYLOAD_BYTES),
       st.integers(0, framing.MAX_SEQ), st.integers(0, framing.MAX_FLAGS))
@settings(max_examples=80, deadline=None)
def test_header_round_trip(mcs, length, seq, flags):
    header = framing.Header(mcs, length, seq, flags)
    bits = framing.header_bits(header)
    assert bits.size == config.HEADER_BITS
    assert framing.parse_header_bits(bits) == header
    symbols = framing.header_symbols(header, DEFAULT_NUMEROLOGY)
    assert symbols.size == DEFAULT_NUMEROLOGY.header_symbols * DEFAULT_NUMEROLOGY.n_data_carriers
    assert framing.decode_header_llr(demodulate_llr(symbols, 0.5, "bpsk")) == header


def test_corrupted_header_is_rejected(rng):
    bits = framing.header_bits(framing.Header("16qam-3/4", 1500, 77, 1))
    for position in rng.choice(config.HEADER_BITS, 10, replace=False):
        bad = bits.copy()
        bad[position] ^= 1
        assert framing.parse_header_bits(bad) is None


@pytest.mark.parametrize("mcs", ["qpsk", "16qam-3/4", "bpsk-1/2x4"])
def test_payload_round_trip_and_crc_rejects_corruption(mcs, rng):
    nm = DEFAULT_NUMEROLOGY
    payload = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    header = framing.Header(mcs, len(payload))
    symbols = framing.payload_symbols(payload, mcs, nm)
    assert symbols.size == frame_size(300, mcs).data_symbols
    modulation = get_mcs(mcs).modulation
    llr = demodulate_llr(symbols, 0.01, modulation)
    result = framing.decode_payload_llr(llr, header, nm)
    assert result.crc_ok and result.payload == payload
    llr[:: max(1, llr.size // 3000)] *= -40.0     # confident errors beyond what FEC can fix
    result = framing.decode_payload_llr(llr, header, nm)
    assert not result.crc_ok and len(result.payload) == len(payload)


def test_scrambler_is_the_80211_sequence():
    assert "".join(map(str, lfsr_bits(16))) == "0000111011110010"


# -- MCS table and sizes ------------------------------------------------------------------
def test_mcs_table_api():
    assert set(MCS_TABLE) >= {"bpsk", "qpsk", "16qam", "64qam", "qpsk-1/2", "16qam-3/4",
                              "64qam-5/6", "bpsk-1/2x4"}
    robust = MCS_TABLE["bpsk-1/2x4"]
    assert (robust.bits_per_symbol, str(robust.code_rate), robust.repetition) == (1, "1/2", 4)
    assert robust.spectral_efficiency == 0.125
    assert len({m.index for m in MCS_TABLE.values()}) == len(MCS_TABLE) <= 32
    with pytest.raises(BadInputError, match="choose from"):
        get_mcs("8psk")


def test_frame_size_counts_symbols_and_samples():
    nm = DEFAULT_NUMEROLOGY
    size = frame_size(1500, "qpsk-1/2")
    assert size.info_bits == 8 * 1504 and size.codewords == 13 and size.codeword_len == 1944
    assert size.payload_ofdm_symbols == -(-size.coded_bits // 96)
    assert size.data_symbols == 48 * size.payload_ofdm_symbols
    assert size.ofdm_symbols == 8 + 11 + size.payload_ofdm_symbols
    assert size.samples == size.ofdm_symbols * 80 + nm.gap_len
    robust = frame_size(200, "bpsk-1/2x4")
    assert robust.data_symbols >= 4 * robust.coded_bits
    with pytest.raises(BadInputError):
        frame_size(MAX_PAYLOAD_BYTES + 1, "qpsk")
    budget = frame_size(700, "16qam-1/2").data_symbols
    assert max_payload_bytes("16qam-1/2", budget) >= 700
    assert frame_size(max_payload_bytes("16qam-1/2", budget), "16qam-1/2").data_symbols <= budget


def test_numerology_is_data():
    nm = Numerology(preamble_repeats=6, cp_len=8)
    again = Numerology.from_dict(nm.to_dict())
    assert again == nm and again.gap_len == 7 * 72
    assert np.allclose(again.sync_values, nm.sync_values)
    with pytest.raises(BadInputError, match="unknown numerology keys"):
        Numerology.from_dict({"fft_size": 64})
    with pytest.raises(BadInputError):
        Numerology(pilot_carriers=(7, -7, 21, 1))                # 1 is a data carrier
    odd = Numerology(fft_len=128, cp_len=32, data_carriers=tuple(range(-50, -1)) + tuple(range(2, 51)),
                     pilot_carriers=(-1, 1), pilot_values=(1, -1))
    assert odd.sync_values.size == 100 and np.allclose(np.abs(odd.sync_values), 1)
