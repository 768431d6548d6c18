# SPDX-License-Identifier: GPL-3.0-or-later
"""Channel presets: AWGN, flat Rayleigh/Rician block fading, frequency-selective multipath.

SNR definition (used everywhere in gensemcom): ``snr_db`` is Es/N0 per data subcarrier,

    Es/N0 = P_sym * fft_len / (N_occ * sigma^2)

with P_sym the TX's mean power during OFDM symbols (``numerology.tx_symbol_power``, known
analytically and checked by measurement in tests), N_occ the occupied (data + pilot)
carriers, which share P_sym equally, and sigma^2 the complex noise variance per sample.
After the receiver's FFT it is the SNR of each data-carrier QAM symbol. The cyclic prefix,
preamble, header and gaps do not enter it (Es counts the energy of one data-carrier symbol
per useful FFT window; the CP adds fft_len/(fft_len+cp_len) = -0.97 dB of overhead that
throughput figures, not the SNR, account for). Eb/N0 = Es/N0 - 10 log10(bits_per_symbol *
code_rate / repetition). With fading, Es/N0 is the average over fading: taps have
E[sum |h|^2] = 1.

Presets (``ChannelConfig.name``):
  awgn       noise only
  rayleigh   flat block fading, h ~ CN(0, 1), a new draw every ``coherence_samples``
  rician     flat block fading, K-factor ``k_factor`` (LOS with random phase + scatter)
  multipath  frequency-selective block fading: ``taps`` independent CN taps, one sample
             apart, exponential power-delay profile with rms delay ``rms_delay_samples``;
             or a standard ``profile`` (802.11n TGn B/D, 3GPP EPA/EVA/ETU, delays in ns at
             ``sample_rate_hz``, ``impairments.DELAY_PROFILES``)

Block fading is a property of time, not of packets: the gains of block k (samples
k·T .. (k+1)·T - 1, T = ``coherence_samples``, default 16384) are
drawn from a generator seeded by (``seed``, k) alone, so every transmission through a channel
of the same seed sees the same gain and the same noise at the same sample index, however
long its packets are. At 1 Msample/s, 16384 samples are 16 ms, the coherence time 0.423/fD of
a Doppler spread fD of about 26 Hz (2.4 GHz at 12 km/h); an image at 1/48 channel use per pixel
(768x512) spans about three blocks. Gains change abruptly between blocks (the classic block
fading model): a packet that straddles a boundary sees two channels. ``coherence_samples`` = 0 draws
once per burst instead (the TX's ``gsc_tx_len`` tag: the classic per-packet block fading of
link-level PER curves). ``doppler`` > 0 (normalised Doppler fD*Ts) or ``doppler_hz`` > 0
(maximum Doppler frequency at ``sample_rate_hz``) replaces block fading by gr-channels'
continuously varying ``fading_model`` / ``selective_fading_model``. Every preset can add a
carrier frequency offset ``cfo`` (subcarrier spacings) and a timing offset ``delay_samples``
(fractional allowed); noise, CFO and timing come from ``channels.channel_model`` with
``block_tags=True`` so TX tags never reach the receiver. Radio impairments (``impairments``:
sample-clock offset ``sro_ppm`` with the carrier offset of a shared oscillator at
``carrier_hz``, CFO drift, phase noise, IQ imbalance, DC offset) follow the noise, and named
bundles of them resolve with ``impairment_config``. Everything is seeded by ``seed`` and a
function of the sample index (with a CFO, equal runs agree up to float32 rounding: GNU Radio's
rotator renormalises per work call).
"""
import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import pmt
from gnuradio import blocks, channels, gr

from ..constants import CHANNELS
from ..errors import BadInputError
from ..grc_yaml import GrcBlock, stream
from ..params import CFO, CHANNEL, DELAY_SAMPLES, NUMEROLOGY, SEED, SNR_DB, Param, Params
from .config import DEFAULT_NUMEROLOGY
from .impairments import (IMPAIRMENT_PRESETS, IMPAIRMENTS, PROFILES, clock_offset_resampler, fir_len, frontend_blocks,
                          profile_paths, sinc_fir, stream_seed)
from .ofdm_qam_tx import TX_LEN_TAG, as_numerology
from .shadowing import KNOTS_PER_CORRELATION, Shadowing, shadowing

# The preset's parameters: ChannelConfig's fields, channel_preset's keywords, `gensemcom channel`'s options
CONFIG_PARAMETERS = Params(
    CHANNEL.with_(name="name", cli_flag="--channel"),
    SNR_DB.with_(runtime_setter="set_snr_db"),
    SEED,
    CFO,
    DELAY_SAMPLES,
    Param("k_factor", "float", 4.0, "Rician K-Factor", "Rician K-factor: LOS to scatter power", unit="linear", lo=0,
          hide="${ 'none' if name == 'rician' else 'all' }"),
    Param("taps", "int", 8, "Multipath Taps", "multipath taps, one sample apart (exponential profile)", lo=1,
          hide="${ 'none' if name == 'multipath' and profile == 'exponential' else 'all' }"),
    Param("rms_delay_samples", "float", 2.0, "RMS Delay", "multipath rms delay spread (exponential profile)",
          unit="samples", lo=0, hide="${ 'none' if name == 'multipath' and profile == 'exponential' else 'all' }"),
    Param("coherence_samples", "int", 16384, "Coherence Time", "block fading: new gains every that many samples",
          unit="samples, 0 = once per burst", lo=0, hide="part"),
    Param("doppler", "float", 0.0, "Doppler fD*Ts", "normalised Doppler: > 0 fades continuously",
          unit="0 = block fading", lo=0, hide="part"),
    Param("profile", "str", "exponential", "Delay Profile", "multipath power-delay profile",
          choices=PROFILES, choice_labels=("Exponential", "802.11n TGn B", "802.11n TGn D", "3GPP EPA", "3GPP EVA",
                                           "3GPP ETU"),
          cli_flag="--delay-profile", hide="${ 'none' if name == 'multipath' else 'all' }"),
    Param("doppler_hz", "float", 0.0, "Doppler", "maximum Doppler frequency (Jakes): > 0 fades continuously",
          unit="Hz, 0 = block fading", lo=0, hide="part"),
    Param("sample_rate_hz", "float", 2e6, "Sample Rate", "the radio's sample rate: turns Hz and ns into samples",
          unit="Hz", lo=0, lo_open=True, cli_flag="--sample-rate", grc_default="samp_rate"),
    Param("carrier_hz", "float", 0.0, "Carrier", "carrier made from the sample clock's oscillator: "
          "the clock offset also offsets the carrier", unit="Hz, 0 = independent oscillators", lo=0, hide="part"),
    Param("sro_ppm", "float", 0.0, "Clock Offset", "receiver's sample clock relative to the transmitter's",
          unit="ppm", lo=-1000, hi=1000),
    Param("cfo_drift_hz", "float", 0.0, "CFO Drift", "CFO random walk: rms change over one second",
          unit="Hz", lo=0, hide="part"),
    Param("phase_noise_dbc_hz", "float", 0.0, "Phase Noise", "phase noise L(f) at the phase-noise offset",
          unit="dBc/Hz, 0 = none", hi=0, cli_flag="--phase-noise-dbc"),
    Param("phase_noise_offset_hz", "float", 100e3, "Phase Noise Offset", "offset of the phase-noise level",
          unit="Hz", lo=0, lo_open=True, hide="part"),
    Param("phase_noise_corner_hz", "float", 100e3, "Phase Noise Corner",
          "phase noise is flat below this offset (PLL loop bandwidth), -20 dB/decade above", unit="Hz", lo=0,
          lo_open=True, hide="part"),
    Param("iq_imbalance_db", "float", 0.0, "IQ Gain Imbalance", "receiver IQ gain imbalance", unit="dB",
          lo=-6, hi=6),
    Param("iq_phase_deg", "float", 0.0, "IQ Phase Imbalance", "receiver IQ phase imbalance", unit="degrees",
          lo=-45, hi=45),
    Param("dc_offset_dbc", "float", 0.0, "DC Offset", "DC offset relative to the signal's mean power",
          unit="dBc, 0 = none", hi=0),
    Param("shadowing_db", "float", 0.0, "Shadowing", "log-normal shadowing: standard deviation of the SNR's slow "
          "fluctuation around snr_db (phy.shadowing)", unit="dB, 0 = none", lo=0, hi=20, hide="part"),
    Param("shadowing_samples", "int", 200_000, "Shadowing Correlation",
          "shadowing's correlation time: its autocorrelation falls to 1/e after that many samples",
          unit="samples", lo=KNOTS_PER_CORRELATION, hide="part"),
)
_DEFAULT = CONFIG_PARAMETERS.defaults()
_MODEL_ADVANCE = 3  # channels.channel_model's resampler moves the signal 3 samples early
CFO_RANGE = 0.4    # the receiver's CFO range, subcarrier spacings
COHERENCE_DOPPLER_PRODUCT = 0.423   # Clarke: coherence time = 0.423 / fD


@dataclass(frozen=True)
class ChannelConfig:
    """A channel preset as data (see the module docstring for every field's meaning)."""

    name: str = _DEFAULT.name
    snr_db: float = _DEFAULT.snr_db
    seed: int = _DEFAULT.seed
    cfo: float = _DEFAULT.cfo
    delay_samples: float = _DEFAULT.delay_samples
    k_factor: float = _DEFAULT.k_factor
    taps: int = _DEFAULT.taps
    rms_delay_samples: float = _DEFAULT.rms_delay_samples
    coherence_samples: int = _DEFAULT.coherence_samples
    doppler: float = _DEFAULT.doppler
    profile: str = _DEFAULT.profile
    doppler_hz: float = _DEFAULT.doppler_hz
    sample_rate_hz: float = _DEFAULT.sample_rate_hz
    carrier_hz: float = _DEFAULT.carrier_hz
    sro_ppm: float = _DEFAULT.sro_ppm
    cfo_drift_hz: float = _DEFAULT.cfo_drift_hz
    phase_noise_dbc_hz: float = _DEFAULT.phase_noise_dbc_hz
    phase_noise_offset_hz: float = _DEFAULT.phase_noise_offset_hz
    phase_noise_corner_hz: float = _DEFAULT.phase_noise_corner_hz
    iq_imbalance_db: float = _DEFAULT.iq_imbalance_db
    iq_phase_deg: float = _DEFAULT.iq_phase_deg
    dc_offset_dbc: float = _DEFAULT.dc_offset_dbc
    shadowing_db: float = _DEFAULT.shadowing_db
    shadowing_samples: int = _DEFAULT.shadowing_samples

    def __post_init__(self):
        if self.name not in CHANNELS:
            raise BadInputError(f"unknown channel {self.name!r}; choose from {', '.join(CHANNELS)}")
        if self.profile not in PROFILES:
            raise BadInputError(f"unknown delay profile {self.profile!r}; choose from {', '.join(PROFILES)}")
        numbers = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "profile")}
        bad = sorted(k for k, v in numbers.items() if not np.isfinite(float(v)))
        if bad:
            raise BadInputError(f"channel: {', '.join(bad)} must be finite numbers")
        if self.delay_samples < 0 or self.taps < 1 or self.coherence_samples < 0 or self.doppler < 0:
            raise BadInputError("delay_samples, coherence_samples and doppler must be >= 0 and taps >= 1")
        if self.doppler_hz < 0 or self.sample_rate_hz <= 0 or self.carrier_hz < 0 or self.cfo_drift_hz < 0:
            raise BadInputError("doppler_hz, carrier_hz and cfo_drift_hz must be >= 0, sample_rate_hz > 0")
        if self.doppler > 0 and self.doppler_hz > 0:
            raise BadInputError("give the Doppler once: doppler (fD*Ts) or doppler_hz (with sample_rate_hz)")
        if self.phase_noise_dbc_hz > 0 or self.dc_offset_dbc > 0:
            raise BadInputError("phase_noise_dbc_hz and dc_offset_dbc must be <= 0 (0 = none)")
        if self.shadowing_db < 0 or self.shadowing_samples < KNOTS_PER_CORRELATION:
            raise BadInputError(f"shadowing_db must be >= 0 and shadowing_samples >= {KNOTS_PER_CORRELATION}")
        if self.phase_noise_offset_hz <= 0 or self.phase_noise_corner_hz <= 0:
            raise BadInputError("phase_noise_offset_hz and phase_noise_corner_hz must be > 0")
        self.check_cfo_range(DEFAULT_NUMEROLOGY)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data or {}) - known)
        if unknown:
            raise BadInputError(f"unknown channel keys {unknown}; valid: {sorted(known)}")
        return cls(**dict(data or {}))

    @property
    def doppler_norm(self):
        """Normalised Doppler fD*Ts (0: block fading)."""
        return self.doppler or self.doppler_hz / self.sample_rate_hz

    @property
    def coherence_time_samples(self):
        """Samples over which the fading stays about the same: Clarke's coherence time 0.423/fD
        with Doppler, the fading block with block fading, 0 when every burst draws its own,
        infinity without fading (awgn)."""
        if self.name == "awgn":
            return math.inf
        if self.doppler_norm > 0:
            return COHERENCE_DOPPLER_PRODUCT / self.doppler_norm
        return float(self.coherence_samples)

    @property
    def oscillator_cfo_hz(self):
        """Carrier offset of a shared oscillator: the receiver's LO is ``sro_ppm`` off as well."""
        return -self.sro_ppm * 1e-6 * self.carrier_hz

    def total_cfo(self, numerology=None):
        """Fixed CFO in subcarrier spacings: ``cfo`` plus the shared oscillator's offset."""
        nm = as_numerology(numerology)
        return self.cfo + self.oscillator_cfo_hz * nm.fft_len / self.sample_rate_hz

    def check_cfo_range(self, numerology=None):
        if abs(self.total_cfo(numerology)) >= CFO_RANGE:
            extra = (f" (cfo {self.cfo:g} + {self.sro_ppm:g} ppm of {self.carrier_hz / 1e9:g} GHz at "
                     f"{self.sample_rate_hz / 1e6:g} Msample/s)" if self.oscillator_cfo_hz else "")
            raise BadInputError(f"|cfo| must be below {CFO_RANGE} subcarrier spacings (the receiver's range), "
                                f"got {self.total_cfo(numerology):.3f}{extra}")

    def noise_var(self, numerology=None):
        """Complex noise variance per sample that gives ``snr_db`` (see module docstring)."""
        nm = as_numerology(numerology)
        return (nm.tx_symbol_power * nm.fft_len / len(nm.occupied_carriers)
                * 10 ** (-self.snr_db / 10))

    def paths(self):
        """(delays in samples, mean powers summing to 1) of the fading paths."""
        if self.name != "multipath":
            return np.zeros(1), np.ones(1)
        if self.profile != "exponential":
            return profile_paths(self.profile, self.sample_rate_hz)
        powers = np.exp(-np.arange(self.taps) / max(self.rms_delay_samples, 1e-6))
        return np.arange(self.taps, dtype=float), powers / powers.sum()

    def tap_powers(self):
        """Mean power of each FIR tap (sums to 1); one tap unless ``multipath``."""
        delays, powers = self.paths()
        fir = path_fir(delays)
        return (np.abs(fir) ** 2) @ powers


def path_fir(delays):
    """(FIR taps, paths) matrix of paths at ``delays`` samples, scaled so that E[sum |h|^2] = 1
    for powers summing to 1 (the sinc's tail beyond the FIR is made up for)."""
    fir = sinc_fir(delays, fir_len(delays))
    return fir / np.sqrt(np.sum(np.abs(fir) ** 2, axis=0))[None, :]


def draw_taps(config, rng):
    """One block-fading realisation: complex FIR taps (len(tap_powers),) for ``config``."""
    delays, powers = config.paths()
    scatter = (rng.standard_normal(powers.size) + 1j * rng.standard_normal(powers.size)) / np.sqrt(2)
    if config.name == "rician":
        k = config.k_factor
        los = np.exp(2j * np.pi * rng.random())
        return np.sqrt(k / (k + 1)) * los + np.sqrt(1 / (k + 1)) * scatter
    return path_fir(delays) @ (np.sqrt(powers) * scatter)


def wideband_gain_db(config, numerology=None, draws=4000, seed=0):
    """10·log10 of the mean |H|^2 over the occupied carriers for ``draws`` fading realisations
    of ``config`` (float (draws,); zeros for awgn): what a receiver's SNR estimate (mean |H|^2
    over the carriers / noise) sees of one fade, relative to the mean SNR."""
    if config.name == "awgn":
        return np.zeros(int(draws))
    nm = as_numerology(numerology)
    rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, 0x9A1])
    taps = np.stack([draw_taps(config, rng) for _ in range(int(draws))])
    carriers = np.asarray(nm.occupied_carriers, float)
    response = taps @ np.exp(-2j * np.pi * np.outer(np.arange(taps.shape[1]), carriers) / nm.fft_len)
    return 10 * np.log10(np.mean(np.abs(response) ** 2, axis=1))


class block_fader(gr.sync_block):
    """Block fading: y[n] = sum_l h_l x[n - l], the taps h constant over each fading block.

    Input/output: complex64. With ``config.coherence_samples`` = T > 0, block k covers samples
    k·T .. (k+1)·T - 1 from the stream start and its taps are ``draw_taps(config, rng(seed, k))``:
    a function of the seed and the sample index only. With T = 0 the taps are redrawn at every
    ``gsc_tx_len`` tag (one draw per burst), from one generator seeded by ``config.seed``. Tags
    pass through.
    """

    def __init__(self, config):
        gr.sync_block.__init__(self, name="gensemcom_block_fader",
                               in_sig=[np.complex64], out_sig=[np.complex64])
        self.config = config
        self._rng = np.random.default_rng([config.seed, 0xFADE])
        self._taps = draw_taps(config, self._rng) if not config.coherence_samples else self.block_taps(0)
        self._history = np.zeros(len(self._taps) - 1, np.complex64)
        self._key = pmt.intern(TX_LEN_TAG)

    def block_taps(self, block):
        """The taps of fading block ``block`` (``coherence_samples`` > 0)."""
        return draw_taps(self.config, np.random.default_rng([int(self.config.seed) & 0x7FFFFFFF, 0xFADE, block]))

    def _segments(self, base, n):
        """[(lo, hi, taps)] covering the ``n`` samples that start at stream index ``base``."""
        step = self.config.coherence_samples
        if step:
            bounds = [0] + list(range((-base) % step or step, n, step)) + [n]
            return [(lo, hi, self.block_taps((base + lo) // step)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        cuts = {tag.offset - base for tag in self.get_tags_in_window(0, 0, n, self._key)}
        bounds = [0] + sorted(c for c in cuts if 0 < c < n) + [n]
        segments = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo in cuts:
                self._taps = draw_taps(self.config, self._rng)
            segments.append((lo, hi, self._taps))
        return segments

    def work(self, input_items, output_items):
        x = input_items[0]
        n = len(x)
        segments = self._segments(self.nitems_read(0), n)
        memory = len(self._history)
        padded = np.concatenate([self._history, x])
        out = output_items[0]
        for lo, hi, taps in segments:
            acc = np.zeros(hi - lo, complex)
            for delay, gain in enumerate(taps):
                acc += gain * padded[memory + lo - delay:memory + hi - delay]
            out[lo:hi] = acc
        if memory:
            self._history = padded[-memory:].copy()
        return n


def _timing_taps(delay_samples):
    """(FIR taps for channel_model, extra integer delay) realising ``delay_samples``."""
    whole, frac = int(np.floor(delay_samples)), float(delay_samples - np.floor(delay_samples))
    if frac < 1e-9:
        return [1.0 + 0j], whole + _MODEL_ADVANCE
    n = np.arange(2 * _MODEL_ADVANCE + 1)
    taps = np.sinc(n - _MODEL_ADVANCE - frac) * np.hamming(n.size)
    return list((taps / taps.sum()).astype(complex)), whole


class channel_preset(gr.hier_block2):
    """Seeded channel preset (hier block): complex64 in -> complex64 out.

    Parameters (``PARAMETERS``, the ``ChannelConfig`` fields): ``name`` (awgn, rayleigh, rician,
    multipath), ``snr_db`` (Es/N0 per data subcarrier, dB, see module docstring), ``seed``,
    ``cfo`` (subcarrier spacings), ``delay_samples`` (timing offset, samples), ``numerology``
    (the TX's, for the SNR calibration), and as keywords k_factor, taps, rms_delay_samples,
    coherence_samples, doppler. Or pass ``config=ChannelConfig(...)``. ``set_snr_db`` changes the noise
    while running.
    """

    PARAMETERS = Params(
        *CONFIG_PARAMETERS[:5], NUMEROLOGY.with_(doc="the transmitter's numerology (the SNR calibration)"),
        IMPAIRMENTS, *CONFIG_PARAMETERS[5:],
        Param("config", "raw", None, "Config", "a ChannelConfig instead of the fields (make_channel)", grc=False),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Channel Preset", category="[GenSemCom]/PHY", inputs=(stream(),), outputs=(stream(),),
        asserts=("${ abs(cfo) < 0.4 }",),
        documentation="""
Seeded, reproducible channel presets built on gr-channels (gr-gensemcom PHY).

Input/output: complex64 stream (put it between ofdm_qam_tx and ofdm_qam_rx).

SNR (dB) is Es/N0 per data subcarrier: noise variance per sample =
P_sym * fft_len / (N_occupied * 10^(SNR/10)), with P_sym the TX's mean power during
OFDM symbols (-15 dBFS by default). The cyclic prefix, preamble and gaps do not enter it.
With fading it is the average over fading (taps have E[sum |h|^2] = 1). It can change
while the flowgraph runs.

Channels:
AWGN: noise only.
Rayleigh: flat block fading, h ~ CN(0,1), redrawn every "Coherence Time" samples.
Rician: flat block fading with K-factor (LOS of random phase + scatter).
Multipath: frequency-selective block fading, taps one sample apart with an exponential
power-delay profile (rms delay in samples).
Block fading is a property of time: the gains of each block of "Coherence Time" samples
(default 16384 = 16 ms at 1 Msample/s) depend only on the seed and the block's index, so
equal seeds give equal fades at equal sample indices. Coherence Time 0 redraws at every
burst start (TX tag) instead. Doppler > 0 uses gr-channels' continuously varying
fading_model / selective_fading_model.

Delay Profile (Multipath): exponential (taps one sample apart) or a standard profile,
802.11n TGn B/D, 3GPP EPA/EVA/ETU, its delays in ns turned into samples at the Sample Rate.
Doppler (Hz) > 0: Jakes fading with that maximum Doppler frequency at the Sample Rate.

CFO in subcarrier spacings (|cfo| < 0.4), timing offset in samples (fractional allowed).
Noise, CFO and timing come from channels.channel_model with block_tags=True, so TX tags
never reach the receiver. Same seed, same output.

Impairments: a named radio preset (none, lab-cable, b200-indoor, walking-nlos, vehicular;
docs/phy.md lists their values and sources). Any field below set to other than its
default overrides the preset's value. Clock Offset (ppm): the receiver's sample clock
relative to the transmitter's (a polyphase fractional resampler); with Carrier > 0 the
same oscillator makes the carrier, offset by ppm x carrier (total CFO within +-0.4
subcarrier spacings). CFO Drift: rms change of the carrier offset over one second
(gr-channels cfo_model random walk). Phase Noise: L(f) in dBc/Hz at its offset, flat
below the corner, -20 dB/decade above (gr-channels phase_noise_gen, seeded). IQ Gain /
Phase Imbalance: receiver IQ imbalance (gr-channels iqbal_gen). DC Offset: dBc relative
to the mean signal power. Each impairment depends on the seed and the sample index only.
""")

    def __init__(self, name=DEFAULT.name, snr_db=DEFAULT.snr_db, seed=DEFAULT.seed, cfo=DEFAULT.cfo,
                 delay_samples=DEFAULT.delay_samples, numerology=DEFAULT.numerology, config=DEFAULT.config, *,
                 impairments=DEFAULT.impairments, k_factor=DEFAULT.k_factor, taps=DEFAULT.taps,
                 rms_delay_samples=DEFAULT.rms_delay_samples, coherence_samples=DEFAULT.coherence_samples,
                 doppler=DEFAULT.doppler, profile=DEFAULT.profile, doppler_hz=DEFAULT.doppler_hz,
                 sample_rate_hz=DEFAULT.sample_rate_hz, carrier_hz=DEFAULT.carrier_hz, sro_ppm=DEFAULT.sro_ppm,
                 cfo_drift_hz=DEFAULT.cfo_drift_hz, phase_noise_dbc_hz=DEFAULT.phase_noise_dbc_hz,
                 phase_noise_offset_hz=DEFAULT.phase_noise_offset_hz,
                 phase_noise_corner_hz=DEFAULT.phase_noise_corner_hz, iq_imbalance_db=DEFAULT.iq_imbalance_db,
                 iq_phase_deg=DEFAULT.iq_phase_deg, dc_offset_dbc=DEFAULT.dc_offset_dbc,
                 shadowing_db=DEFAULT.shadowing_db, shadowing_samples=DEFAULT.shadowing_samples):
        gr.hier_block2.__init__(self, "gensemcom_channel_preset",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        if config is None:
            given = locals()
            values = {p.name: given[p.name] for p in CONFIG_PARAMETERS}
            # a field at its default leaves the impairment preset's value; any other value overrides it
            config = impairment_config(impairments, **{k: v for k, v in values.items()
                                                       if v != _DEFAULT.__dict__[k] or k in ("snr_db", "seed")})
        self.config = config
        self.numerology = nm = as_numerology(numerology)
        config.check_cfo_range(nm)
        taps, extra_delay = _timing_taps(config.delay_samples)
        self.model = channels.channel_model(float(np.sqrt(config.noise_var(nm))), config.total_cfo(nm) / nm.fft_len,
                                            1.0, taps, int(config.seed) & 0x7FFFFFFF or 1, True)
        chain = [self]
        self.shadowing = None
        if config.shadowing_db > 0:         # a slow SNR change: scales the signal before the noise
            # a Python block: this reference keeps it alive as long as the flowgraph
            self.shadowing = shadowing(Shadowing(config.shadowing_db, config.shadowing_samples,
                                                 stream_seed(config.seed, 0x5AD0)))
            chain.append(self.shadowing)
        if config.name != "awgn":
            chain.append(self._fading(config))
        if config.sro_ppm:
            chain.append(clock_offset_resampler(config.sro_ppm))
        chain.append(self.model)
        self.frontend = frontend_blocks(config, nm.tx_symbol_power, config.sample_rate_hz / nm.fft_len,
                                        CFO_RANGE - abs(config.total_cfo(nm)))
        chain.extend(self.frontend)
        if extra_delay:
            chain.append(blocks.delay(gr.sizeof_gr_complex, extra_delay))
        self.connect(*chain, self)

    def _fading(self, config):
        doppler = config.doppler_norm
        if doppler <= 0:
            self.fader = block_fader(config)
            return self.fader
        seed = int(config.seed) & 0x7FFFFFFF
        los = config.name == "rician"
        if config.name == "multipath":
            delays, powers = config.paths()
            fir = sinc_fir(delays, fir_len(delays))
            mags = np.sqrt(powers / np.sum(fir ** 2, axis=0))
            self.fader = channels.selective_fading_model(
                8, doppler, los, config.k_factor, seed, list(delays), list(mags), fir.shape[0])
        else:
            self.fader = channels.fading_model(8, doppler, los, config.k_factor, seed)
        return self.fader

    def set_snr_db(self, snr_db):
        """Change the SNR (Es/N0 per data subcarrier, dB) of the running channel."""
        snr_db = self.PARAMETERS["snr_db"].check("channel_preset", snr_db)
        self.config = ChannelConfig(**{**self.config.to_dict(), "snr_db": snr_db})
        self.model.set_noise_voltage(float(np.sqrt(self.config.noise_var(self.numerology))))


def make_channel(config, numerology=None):
    """``channel_preset`` built from a ``ChannelConfig`` or a dict."""
    if isinstance(config, dict):
        config = ChannelConfig.from_dict(config)
    return channel_preset(config=config, numerology=numerology)


def impairment_config(preset="none", **overrides):
    """``ChannelConfig`` of impairment preset ``preset`` (``impairments.IMPAIRMENT_PRESETS``) with
    single fields overridden: any ``ChannelConfig`` field (``name`` is the channel, ``snr_db``,
    ``seed``, ``sro_ppm``, ``cfo``, ``phase_noise_dbc_hz``, ``iq_imbalance_db``, ``doppler_hz``,
    ``sample_rate_hz`` ...). None values are ignored (unset command-line options)."""
    if preset not in IMPAIRMENT_PRESETS:
        raise BadInputError(f"unknown impairments {preset!r}; choose from {', '.join(IMPAIRMENT_PRESETS)}")
    values = dict(IMPAIRMENT_PRESETS[preset][0])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    known = {p.name for p in CONFIG_PARAMETERS}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise BadInputError(f"unknown channel fields {unknown}; valid: {sorted(known)}")
    if "doppler" in overrides:                 # one Doppler: the normalised one replaces the preset's Hz
        values.pop("doppler_hz", None)
    if "doppler_hz" in overrides:
        values.pop("doppler", None)
    values.update(overrides)
    name_value = values.pop("name", _DEFAULT.name)
    profile = values.pop("profile", _DEFAULT.profile)
    checked = CONFIG_PARAMETERS.check("channel", **values)
    return ChannelConfig(name=name_value, profile=profile, **vars(checked))
