# SPDX-License-Identifier: GPL-3.0-or-later
"""Numerology of the OFDM PHY as plain data (a link profile can name and store it).

``Numerology`` holds everything both ends must agree on besides the MCS: FFT size, cyclic
prefix, which carriers carry data and pilots, the pilot values, the preamble (sync word and
its repetitions), the header's protection and the burst gap. ``to_dict``/``from_dict`` give a
YAML/JSON-friendly form (complex numbers as ``[re, im]`` pairs).

Carrier indices are signed, DC is 0, ``-1`` is the carrier just below DC (GNU Radio's
``ofdm_carrier_allocator_cvc`` convention).
"""
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from ..errors import BadInputError
from .convcode import coded_length

# The PHY header: 40 information bits + CRC-16, convolutionally coded (``framing``)
HEADER_INFO_BITS = 40
HEADER_BITS = HEADER_INFO_BITS + 16
HEADER_CODED_BITS = coded_length(HEADER_BITS)

# 802.11a: 52 occupied carriers, pilots at +-7 and +-21, DC unused.
WIFI_PILOT_CARRIERS = (-21, -7, 7, 21)
WIFI_DATA_CARRIERS = tuple(k for k in range(-26, 27) if k != 0 and k not in WIFI_PILOT_CARRIERS)
WIFI_PILOT_VALUES = (1.0, 1.0, 1.0, -1.0)
# 802.11a long training symbol L_k, k = -26..26 without DC (PAPR 3.2 dB).
WIFI_LTF = (1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1,
            1, -1, -1, 1, 1, -1, 1, -1, 1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, 1, 1)


def lfsr_bits(length, state=0x7F):
    """Output of the 802.11 scrambler x^7 + x^4 + 1 (period 127) from a 7-bit state.

    Returns ``length`` bits as uint8. With the all-ones state this is the 802.11 pilot
    polarity sequence (bit 0 -> +1, bit 1 -> -1).
    """
    period = np.zeros(127, dtype=np.uint8)
    reg = [(state >> i) & 1 for i in range(7)]  # reg[6] is x^7, reg[3] is x^4
    for n in range(127):
        bit = reg[6] ^ reg[3]
        period[n] = bit
        reg = [bit] + reg[:6]
    return np.resize(period, length)


def _low_papr_qpsk(carriers, fft_len, seed=7, tries=256):
    """A unit-magnitude QPSK word on ``carriers`` with the lowest PAPR of ``tries`` draws."""
    rng = np.random.default_rng(seed)
    best, best_papr = None, np.inf
    for _ in range(tries):
        values = np.exp(1j * np.pi / 2 * rng.integers(0, 4, len(carriers)) + 1j * np.pi / 4)
        spectrum = np.zeros(fft_len, complex)
        spectrum[np.asarray(carriers) % fft_len] = values
        x = np.fft.ifft(spectrum)
        papr = np.max(np.abs(x) ** 2) / np.mean(np.abs(x) ** 2)
        if papr < best_papr:
            best, best_papr = values, papr
    return tuple(complex(v) for v in best)


def _pairs(values):
    return [[float(np.real(v)), float(np.imag(v))] for v in values]


def _complexes(values):
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise BadInputError(f"complex values are written as [re, im], got {v!r}")
            out.append(complex(float(v[0]), float(v[1])))
        else:
            out.append(complex(v))
    return tuple(out)


@dataclass(frozen=True)
class Numerology:
    """OFDM numerology, preamble, header protection and burst format.

    Parameters
    ----------
    fft_len, cp_len : int
        FFT size and cyclic-prefix length in samples.
    data_carriers, pilot_carriers : tuple of int
        Signed carrier indices (DC = 0) carrying data and pilots.
    pilot_values : tuple of complex
        Pilot values per pilot carrier, multiplied per OFDM symbol by the 127-long 802.11
        polarity sequence.
    sync_word : tuple of complex or None
        Preamble values on the occupied carriers (data + pilot carriers, in ascending carrier
        order). ``None``: the 802.11a long training sequence when the carriers are 802.11a's,
        otherwise a low-PAPR QPSK word.
    preamble_repeats : int
        Number of identical preamble OFDM symbols (each with its cyclic prefix). More
        repetitions give detection, CFO and channel estimates at lower SNR.
    header_repeats : int
        Repetition of the convolutionally coded header (BPSK); 4 decodes at -5 dB Es/N0.
    gap_len : int or None
        Zero samples before each burst, so back-to-back bursts stay separable and the
        detector sees a quiet stretch before every preamble. At least one preamble long.
        None: preamble + one symbol (720 samples by default).
    tx_power_db : float
        Mean power of the TX output during OFDM symbols, in dB relative to full scale
        (|x| = 1). -15 dBFS keeps the peaks of 64-QAM OFDM well below 1.0.
    """

    fft_len: int = 64
    cp_len: int = 16
    data_carriers: tuple = WIFI_DATA_CARRIERS
    pilot_carriers: tuple = WIFI_PILOT_CARRIERS
    pilot_values: tuple = WIFI_PILOT_VALUES
    sync_word: tuple = None
    preamble_repeats: int = 8
    header_repeats: int = 4
    gap_len: int = None
    tx_power_db: float = -15.0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "data_carriers", tuple(int(k) for k in self.data_carriers))
        set_(self, "pilot_carriers", tuple(int(k) for k in self.pilot_carriers))
        set_(self, "pilot_values", _complexes(self.pilot_values))
        if self.sync_word is not None:
            set_(self, "sync_word", _complexes(self.sync_word))
        if self.gap_len is None:
            set_(self, "gap_len", (self.preamble_repeats + 1) * (self.fft_len + self.cp_len))
        self.validate()

    def validate(self):
        """Raise ``BadInputError`` when the numerology is inconsistent."""
        n = self.fft_len
        if n < 8 or n & (n - 1):
            raise BadInputError(f"fft_len must be a power of two >= 8, got {n}")
        if not 0 <= self.cp_len < n:
            raise BadInputError(f"cp_len must lie in [0, fft_len), got {self.cp_len}")
        carriers = self.data_carriers + self.pilot_carriers
        if len(set(carriers)) != len(carriers):
            raise BadInputError("data and pilot carriers must be distinct")
        if any(k == 0 or not -n // 2 <= k < n // 2 for k in carriers):
            raise BadInputError(f"carriers must be non-zero and lie in [-{n // 2}, {n // 2})")
        if len(self.data_carriers) < 1:
            raise BadInputError("at least one data carrier is needed")
        if len(self.pilot_values) != len(self.pilot_carriers):
            raise BadInputError("pilot_values needs one value per pilot carrier")
        if self.sync_word is not None and len(self.sync_word) != len(carriers):
            raise BadInputError(f"sync_word needs {len(carriers)} values (one per occupied carrier)")
        if self.preamble_repeats < 3:
            raise BadInputError("preamble_repeats must be >= 3")
        if self.header_repeats < 1:
            raise BadInputError("header_repeats must be >= 1")
        if self.gap_len < self.preamble_len:
            raise BadInputError(f"gap_len must be >= the preamble length ({self.preamble_len} samples)")

    # -- derived quantities -------------------------------------------------------------
    @property
    def symbol_len(self):
        """Samples per OFDM symbol including the cyclic prefix."""
        return self.fft_len + self.cp_len

    @property
    def n_data_carriers(self):
        return len(self.data_carriers)

    @property
    def occupied_carriers(self):
        """Data and pilot carriers, ascending (the order of ``sync_word``)."""
        return tuple(sorted(self.data_carriers + self.pilot_carriers))

    @property
    def preamble_len(self):
        """Preamble length in samples."""
        return self.preamble_repeats * self.symbol_len

    @cached_property
    def sync_values(self):
        """Preamble values on ``occupied_carriers`` (complex128 array)."""
        if self.sync_word is not None:
            return np.asarray(self.sync_word, complex)
        if self.occupied_carriers == tuple(k for k in range(-26, 27) if k) and self.fft_len == 64:
            return np.asarray(WIFI_LTF, complex)
        return np.asarray(_low_papr_qpsk(self.occupied_carriers, self.fft_len), complex)

    @cached_property
    def pilot_polarity(self):
        """+-1 per OFDM symbol after the preamble (the 802.11 sequence, period 127)."""
        return 1.0 - 2.0 * lfsr_bits(127).astype(float)

    def pilots(self, first_symbol, count):
        """Pilot values of OFDM symbols ``first_symbol .. first_symbol+count-1`` (count x pilots)."""
        index = (first_symbol + np.arange(count)) % 127
        return self.pilot_polarity[index, None] * np.asarray(self.pilot_values)[None, :]

    def spectrum_index(self, carriers):
        """FFT bin (0..fft_len-1, unshifted) of signed carrier indices."""
        return np.asarray(carriers, int) % self.fft_len

    @cached_property
    def sync_spectrum(self):
        """The preamble symbol as an unshifted fft_len vector."""
        spectrum = np.zeros(self.fft_len, complex)
        spectrum[self.spectrum_index(self.occupied_carriers)] = self.sync_values
        return spectrum

    @cached_property
    def sync_time(self):
        """One preamble symbol in time, cyclic prefix included, before TX scaling."""
        x = np.fft.ifft(self.sync_spectrum) * self.fft_len  # GNU Radio's IFFT is unnormalised
        return np.concatenate([x[-self.cp_len:] if self.cp_len else x[:0], x])

    @property
    def occupied_power(self):
        """Mean |x|^2 of an unscaled OFDM symbol: one unit-power value per occupied carrier."""
        return float(len(self.occupied_carriers))

    @property
    def tx_gain(self):
        """Amplitude scale after the unnormalised IFFT that gives ``tx_power_db``."""
        return float(np.sqrt(10 ** (self.tx_power_db / 10) / self.occupied_power))

    @property
    def tx_symbol_power(self):
        """Mean TX power during OFDM symbols (linear, full scale = 1)."""
        return 10 ** (self.tx_power_db / 10)

    @property
    def header_symbols(self):
        """OFDM symbols of the BPSK header (``HEADER_CODED_BITS`` coded bits, repeated)."""
        return -(-HEADER_CODED_BITS * self.header_repeats // self.n_data_carriers)

    # -- configs as data ---------------------------------------------------------------
    def to_dict(self):
        """Plain dict (lists, floats, ``[re, im]`` pairs) that ``from_dict`` reads back."""
        out = {}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if f.name in ("pilot_values", "sync_word") and value is not None:
                value = _pairs(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data):
        """Build from a dict as written by ``to_dict``; missing keys take the defaults."""
        data = dict(data or {})
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInputError(f"unknown numerology keys {unknown}; valid: {sorted(known)}")
        for key in ("data_carriers", "pilot_carriers", "pilot_values"):
            if key in data:
                data[key] = tuple(data[key])
        if data.get("sync_word") is not None:
            data["sync_word"] = tuple(data["sync_word"])
        return cls(**data)


DEFAULT_NUMEROLOGY = Numerology()
