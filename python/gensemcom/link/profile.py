"""Link profiles: the PHY settings a semantic link uses, as data (YAML).

A profile names the OFDM numerology, the packet size (``mtu_bytes``), the MCS of each
importance class (fixed, or ``auto``: for each class the fastest MCS whose planning packet error rate at the
planning SNR less the class's margin is within the class's target; PER curves measured on
the real flowgraph, in ``phy/mcs_thresholds.yaml``, see ``per``), and channel options. Profiles are
found by name in ``$GENSEMCOM_PROFILES_DIR`` and in ``link/profiles/``, or by
path.

Channel-symbol accounting (``symbols_for_bytes``): ``protection.packet_symbols`` per packet
(data-carrier symbols of its header and payload OFDM symbols). Preamble, pilots, cyclic
prefixes and gaps are not counted there (they are in ``samples``).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..constants import FADING_CHANNELS
from ..errors import BadInputError
from ..params import MTU_BYTES
from .mcsplan import mcs_for_class
from .per import best_mcs
from .protection import cheapest_protection, packet_symbols

PROFILES_DIR = Path(__file__).parent / "profiles"
PROFILE_KEYS = {"name", "description", "numerology", "mtu_bytes", "mcs", "per_targets", "margins_db",
                "fading_per_targets", "fading_repeats", "channel"}


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


@dataclass
class LinkProfile:
    """A link profile (see module docstring)."""

    name: str = "default"
    description: str = ""
    numerology: dict = field(default_factory=dict)
    mtu_bytes: int = MTU_BYTES.default
    mcs: object = "auto"
    per_targets: dict = field(default_factory=lambda: {0: 0.01, 1: 0.02, 2: 0.05, 3: 0.1})
    fading_per_targets: dict = field(default_factory=lambda: {1: 0.05, 2: 0.2, 3: 0.3})
    margins_db: dict = field(default_factory=lambda: {0: 1.0, 1: 0.5, 2: 0.0, 3: 0.0})
    fading_repeats: dict = field(default_factory=lambda: {0: 3, 1: 3})
    channel: dict = field(default_factory=dict)

    def __post_init__(self):
        from ..phy.channel import ChannelConfig
        from ..phy.config import Numerology
        from ..phy.mcs import get_mcs
        self.mtu_bytes = MTU_BYTES.check(f"profile {self.name}", self.mtu_bytes)
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
        from ..phy.config import Numerology
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
        from ..transport.fragments import FRAGMENT_HEADER_BYTES
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
