"""Link profiles: the PHY settings a semantic link uses, as data (YAML).

A profile names the OFDM numerology, the packet size (``mtu_bytes``), the MCS of each
importance class (fixed, or ``auto``: for each class the fastest MCS whose planning packet error rate at the
planning SNR less the class's margin is within the class's target; PER curves measured on
the real flowgraph, in ``phy/mcs_thresholds.yaml``), and channel options. Profiles are
found by name in ``$GENSEMCOM_PROFILES_DIR`` and in the package's ``profiles/`` folder, or by
path.

Channel-symbol accounting (``symbols_for_bytes``): a packet of n bytes at MCS m costs the
complex symbols on the data carriers of its header and payload OFDM symbols,
``(header_ofdm_symbols + payload_ofdm_symbols) · n_data_carriers``. Preamble, pilots, cyclic
prefixes and gaps are not counted there (they are in ``samples``).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import BadInputError

PROFILES_DIR = Path(__file__).parent / "profiles"
THRESHOLDS_FILE = Path(__file__).parent / "phy" / "mcs_thresholds.yaml"
PROFILE_KEYS = {"name", "description", "numerology", "mtu_bytes", "mcs", "per_targets", "margins_db",
                "fading_per_targets", "fading_repeats", "channel"}
FADING_CHANNELS = ("rayleigh", "rician", "multipath")


def profile_dirs():
    dirs = []
    if os.environ.get("GENSEMCOM_PROFILES_DIR"):
        dirs.append(Path(os.environ["GENSEMCOM_PROFILES_DIR"]))
    return dirs + [PROFILES_DIR]


def list_profiles():
    """Names of the profiles found on the search path."""
    names = set()
    for folder in profile_dirs():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


FADING_DRAWS = 20_000
RICIAN_K = 4.0          # phy.channel.ChannelConfig's default k_factor


@functools.lru_cache(maxsize=1)
def per_curves():
    """{mcs: (snr_db array, PER array)}: the AWGN packet error rate of every coded MCS,
    measured on the real flowgraph by ``scripts/measure_mcs_thresholds.py`` (packets of the
    default MTU); PER is made non-increasing in SNR (measurement noise removed)."""
    import numpy as np
    with open(THRESHOLDS_FILE) as f:
        data = yaml.safe_load(f)
    curves = {}
    for name, curve in data["awgn_curves"].items():
        snrs = np.asarray(curve["snr_db"], float)
        order = np.argsort(snrs)
        curves[name] = (snrs[order], np.minimum.accumulate(np.asarray(curve["per"], float)[order]))
    return curves


@functools.lru_cache(maxsize=4)
def _fading_gains(channel):
    """|h|² draws of the flat block-fading presets (unit mean power), fixed seed."""
    import numpy as np
    rng = np.random.default_rng(2026)
    scatter = (rng.normal(size=FADING_DRAWS) + 1j * rng.normal(size=FADING_DRAWS)) / np.sqrt(2)
    if channel == "rician":
        los = np.exp(1j * rng.uniform(0, 2 * np.pi, FADING_DRAWS))
        return np.abs(np.sqrt(RICIAN_K / (RICIAN_K + 1)) * los + np.sqrt(1 / (RICIAN_K + 1)) * scatter) ** 2
    return np.abs(scatter) ** 2


def packet_error_rate(mcs, snr_db, channel="awgn"):
    """Planning estimate of the PER of a packet at ``mcs`` and average SNR ``snr_db``.

    awgn: the measured curve (PER 1 below it, 0 above it). rayleigh / rician (one fade per
    packet): that curve averaged over the fade, E[PER_awgn(|h|²·SNR)] (perfect channel
    estimation assumed). multipath: as rayleigh — coding across carriers does at least as
    well as flat fading, so the plan is conservative.
    """
    import numpy as np
    snrs, pers = per_curves()[mcs]
    if channel == "awgn":
        return float(np.interp(snr_db, snrs, pers, left=1.0, right=0.0))
    gains = _fading_gains("rician" if channel == "rician" else "rayleigh")
    effective = snr_db + 10 * np.log10(np.maximum(gains, 1e-12))
    return float(np.interp(effective, snrs, pers, left=1.0, right=0.0).mean())


def best_mcs(snr_db, channel="awgn", per_target=0.01):
    """Fastest coded MCS whose planning PER at ``snr_db`` on ``channel`` is <= ``per_target``;
    the robust mode when none qualifies. (Subtract a margin from ``snr_db`` to plan for an
    SNR that may be lower than expected.)"""
    from .phy.mcs import MCS_TABLE, ROBUST_MCS
    usable = [name for name in per_curves()
              if MCS_TABLE[name].coded and packet_error_rate(name, snr_db, channel) <= per_target]
    if not usable:
        return ROBUST_MCS
    return max(usable, key=lambda name: MCS_TABLE[name].spectral_efficiency)


def packet_symbols(n_bytes, mcs, numerology):
    """Data-carrier symbols one packet of ``n_bytes`` at ``mcs`` costs (see module docstring)."""
    from .phy.mcs import frame_size
    size = frame_size(int(n_bytes), mcs, numerology)
    return (size.header_ofdm_symbols + size.payload_ofdm_symbols) * numerology.n_data_carriers


def cheapest_protection(snr_db, channel, per_target, max_copies, packet_bytes, numerology):
    """(MCS, copies): the pair of least channel symbols for a ``packet_bytes`` packet whose
    ``copies`` independent fades all fail with probability PER(MCS, ``snr_db``)^copies ≤
    ``per_target``; when no pair within ``max_copies`` does, the robust mode with two copies
    (at most ``max_copies``): more copies there would take the budget of everything else."""
    from .phy.mcs import MCS_TABLE, ROBUST_MCS
    best = None
    for name in per_curves():
        if not MCS_TABLE[name].coded:
            continue
        per = packet_error_rate(name, snr_db, channel)
        copies = next((k for k in range(1, int(max_copies) + 1) if per ** k <= per_target), None)
        if copies is None:
            continue
        cost = copies * packet_symbols(packet_bytes, name, numerology)
        if best is None or (cost, -MCS_TABLE[name].spectral_efficiency) < best[0]:
            best = ((cost, -MCS_TABLE[name].spectral_efficiency), name, copies)
    if best is None:
        return ROBUST_MCS, min(2, int(max_copies))
    return best[1], best[2]


def parse_mcs_plan(plan):
    """{importance class: MCS name} from a dict or text like "0:bpsk-1/2x4,1:qpsk-1/2,2:16qam-1/2".

    Empty / None → {} (every packet uses the PHY's default MCS). MCS names are validated.
    """
    from .phy.mcs import get_mcs
    if not plan:
        return {}
    if isinstance(plan, str):
        items = {}
        for part in plan.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition(":")
            if not sep:
                raise BadInputError(f"MCS plan entries are CLASS:MCS, got {part!r}")
            items[key] = value
        plan = items
    result = {}
    for key, value in dict(plan).items():
        try:
            importance = int(key)
        except (TypeError, ValueError):
            raise BadInputError(f"MCS plan keys are importance classes 0..7, got {key!r}") from None
        if not 0 <= importance <= 7:
            raise BadInputError(f"MCS plan keys are importance classes 0..7, got {importance}")
        result[importance] = get_mcs(str(value).strip()).name
    return result


def mcs_for_class(plan, importance):
    """The plan's MCS for ``importance``: its own entry, else the nearest more important class's."""
    if not plan:
        return None
    candidates = [c for c in plan if c <= importance]
    return plan[max(candidates)] if candidates else plan[min(plan)]


def protection_group(plan, copies, importance):
    """Which fragments may share a packet: (MCS, or the class without a plan; copies sent).
    Fragments of classes sent in different numbers of copies never share one, so a key band
    is not repeated because a prompt fragment rode in its packet."""
    return mcs_for_class(plan, importance) or importance, dict(copies or {}).get(int(importance), 1)


@dataclass
class LinkProfile:
    """A link profile (see module docstring)."""

    name: str = "default"
    description: str = ""
    numerology: dict = field(default_factory=dict)
    mtu_bytes: int = 400
    mcs: object = "auto"
    per_targets: dict = field(default_factory=lambda: {0: 0.01, 1: 0.02, 2: 0.05, 3: 0.1})
    fading_per_targets: dict = field(default_factory=lambda: {1: 0.05, 2: 0.2, 3: 0.3})
    margins_db: dict = field(default_factory=lambda: {0: 1.0, 1: 0.5, 2: 0.0, 3: 0.0})
    fading_repeats: dict = field(default_factory=lambda: {0: 3, 1: 3})
    channel: dict = field(default_factory=dict)

    def __post_init__(self):
        from .phy.channel import ChannelConfig
        from .phy.config import Numerology
        from .phy.mcs import MAX_PAYLOAD_BYTES, get_mcs
        if not 10 <= int(self.mtu_bytes) <= MAX_PAYLOAD_BYTES:
            raise BadInputError(f"profile {self.name}: mtu_bytes must be 10..{MAX_PAYLOAD_BYTES}, got {self.mtu_bytes}")
        self.mtu_bytes = int(self.mtu_bytes)
        Numerology.from_dict(self.numerology or {})
        if self.mcs != "auto":
            if not isinstance(self.mcs, dict) or not self.mcs:
                raise BadInputError(f"profile {self.name}: mcs must be 'auto' or a mapping {{class: MCS}}")
            self.mcs = {int(k): get_mcs(v).name for k, v in self.mcs.items()}
        self.per_targets = {int(k): float(v) for k, v in (self.per_targets or {}).items()}
        if not self.per_targets or not all(0 < v < 1 for v in self.per_targets.values()):
            raise BadInputError(f"profile {self.name}: per_targets must map classes to PERs in (0, 1)")
        self.fading_per_targets = {int(k): float(v) for k, v in (self.fading_per_targets or {}).items()}
        if not all(0 < v < 1 for v in self.fading_per_targets.values()):
            raise BadInputError(f"profile {self.name}: fading_per_targets must map classes to PERs in (0, 1)")
        self.margins_db = {int(k): float(v) for k, v in (self.margins_db or {}).items()}
        self.fading_repeats = {int(k): int(v) for k, v in (self.fading_repeats or {}).items()}
        if any(not 1 <= v <= 8 for v in self.fading_repeats.values()):
            raise BadInputError(f"profile {self.name}: fading_repeats must be 1..8 copies per class")
        options = set(self.channel or {})
        unknown = options - set(ChannelConfig.__dataclass_fields__) | ({"name", "snr_db"} & options)
        if unknown:
            raise BadInputError(f"profile {self.name}: unknown channel options {', '.join(sorted(unknown))}")

    @classmethod
    def load(cls, profile="default"):
        """A profile by name, path, dict or ``LinkProfile``."""
        if isinstance(profile, LinkProfile):
            return profile
        if isinstance(profile, dict):
            data = dict(profile)
        else:
            path = Path(str(profile))
            if path.suffix not in (".yaml", ".yml"):
                candidates = [d / f"{profile}.yaml" for d in profile_dirs()]
                path = next((p for p in candidates if p.is_file()), None)
                if path is None:
                    raise BadInputError(f"unknown link profile {profile!r}; choose from {', '.join(list_profiles())} "
                                        "or give a .yaml path")
            if not path.is_file():
                raise BadInputError(f"link profile file not found: {path}")
            try:
                data = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise BadInputError(f"link profile {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
            data.setdefault("name", path.stem)
        unknown = set(data) - PROFILE_KEYS
        if unknown:
            raise BadInputError(f"link profile: unknown keys {', '.join(sorted(unknown))}; "
                                f"valid: {', '.join(sorted(PROFILE_KEYS))}")
        return cls(**data)

    def numerology_object(self):
        from .phy.config import Numerology
        return Numerology.from_dict(self.numerology or {})

    def mcs_plan(self, snr_db=None, channel="awgn", single=False, repeats=None):
        """{importance class: MCS}. ``auto`` needs ``snr_db``; ``single``: one MCS for every
        class, at the strictest target (a whole file needs every packet). A class sent in
        ``repeats[class]`` copies meets its target when all copies are lost, so each copy
        may fail with PER = target ** (1 / copies)."""
        if self.mcs != "auto":
            return dict(self.mcs)
        if snr_db is None:
            raise BadInputError(f"profile {self.name} chooses MCS from the SNR: give a planning snr_db")
        targets = self.targets(channel)
        if single:
            return {0: best_mcs(snr_db, channel, min(targets.values()))}
        repeats = repeats or {}
        return {cls_: best_mcs(snr_db - self.margins_db.get(cls_, 0.0), channel,
                               target ** (1.0 / repeats.get(cls_, 1)))
                for cls_, target in sorted(targets.items())}

    def targets(self, channel="awgn"):
        """{importance class: PER target} on ``channel``: ``per_targets``, overridden on fading
        channels by ``fading_per_targets`` (PER curves there are shallow: a strict target would
        push every class into the robust mode)."""
        if channel in FADING_CHANNELS:
            return {**self.per_targets, **self.fading_per_targets}
        return dict(self.per_targets)

    def repeats(self, channel="awgn", scheme="semantic"):
        """{importance class: most copies of each packet}: on fading channels the semantic
        scheme may send a class's packets more than once (each copy sees another fade: time
        diversity); ``protection`` chooses how many."""
        if scheme != "semantic" or channel not in FADING_CHANNELS:
            return {}
        return {k: v for k, v in self.fading_repeats.items() if v > 1}

    def protection(self, snr_db=None, channel="awgn", scheme="semantic"):
        """(MCS plan {class: MCS}, copies {class: copies > 1}) of a transmitter.

        Whole-image baselines: one MCS, no copies. Semantic scheme on AWGN: ``mcs_plan``. On
        fading channels with ``mcs: auto`` each class gets the cheapest pair (MCS, copies ≤
        ``fading_repeats``) whose copies all fail with probability PER^copies ≤ its target:
        under block fading two copies of a fast MCS often cost less than one of a slow one
        for the same loss (``cheapest_protection``). With a fixed plan (an ``mcs`` mapping) a
        fading channel gets every class's full ``fading_repeats``."""
        if scheme != "semantic":
            return self.mcs_plan(snr_db, channel, single=True), {}
        most = self.repeats(channel, scheme)
        if self.mcs == "auto" and channel in FADING_CHANNELS:
            if snr_db is None:
                raise BadInputError(f"profile {self.name} chooses MCS from the SNR: give a planning snr_db")
            plan, copies, numerology = {}, {}, self.numerology_object()
            for cls_, target in sorted(self.targets(channel).items()):
                mcs, n = cheapest_protection(snr_db - self.margins_db.get(cls_, 0.0), channel, target,
                                             most.get(cls_, 1), self.mtu_bytes // 2, numerology)
                plan[cls_] = mcs
                if n > 1:
                    copies[cls_] = n
            return plan, copies
        return self.mcs_plan(snr_db, channel, repeats=most), most

    def key_band_bytes(self, channel="awgn", scheme="semantic"):
        """Key-stream bytes per band the semantic encoder should aim at (``Budget.band_bytes``):
        on fading channels one packet's payload, as each packet meets its own fade; else None."""
        from .semantic.container import FRAGMENT_HEADER_BYTES
        if scheme != "semantic" or channel not in FADING_CHANNELS:
            return None
        return self.mtu_bytes - FRAGMENT_HEADER_BYTES

    def symbols_for_bytes(self, plan, repeats=None):
        """Cost hook for rate control: (n_bytes, importance) → data-carrier symbols (see module),
        times the copies ``repeats`` sends of that class's packets."""
        numerology = self.numerology_object()
        repeats = dict(repeats or {})

        @functools.lru_cache(maxsize=4096)
        def cost(n_bytes, importance=2):
            copies = repeats.get(int(importance), 1)
            return copies * packet_symbols(n_bytes, mcs_for_class(plan, int(importance)), numerology)
        return cost

    def to_dict(self):
        return {"name": self.name, "description": self.description, "numerology": self.numerology,
                "mtu_bytes": self.mtu_bytes, "mcs": self.mcs, "per_targets": self.per_targets,
                "fading_per_targets": self.fading_per_targets, "margins_db": self.margins_db,
                "fading_repeats": self.fading_repeats,
                "channel": self.channel}
