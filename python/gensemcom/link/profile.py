# SPDX-License-Identifier: GPL-3.0-or-later
"""Link profiles: the PHY settings and protection targets of a link, as data (YAML).

A profile names the OFDM numerology, the default packet size (``mtu_bytes``), the MCS of each
importance class (fixed, or ``auto``: the planner of ``senders`` chooses MCS, copies, erasure
code and packet size per class, the cheapest that meets the class's target at the planning
SNR less its margin; PER curves measured on the real flowgraph, ``per``), the most copies per
class, the nominal erasure-code block, and channel options. Profiles are found by name in
``$GENSEMCOM_PROFILES_DIR`` and in ``link/profiles/``, or by path. Costs are channel samples
(``protection``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..constants import FADING_CHANNELS
from ..errors import BadInputError
from ..params import MTU_BYTES

PROFILES_DIR = Path(__file__).parent / "profiles"
PROFILE_KEYS = {"name", "description", "numerology", "mtu_bytes", "mcs", "per_targets", "margins_db",
                "fading_per_targets", "max_copies", "fec_block_packets", "channel"}


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
    fading_per_targets: dict = field(default_factory=lambda: {0: 0.03, 1: 0.1, 2: 0.2, 3: 0.3})
    margins_db: dict = field(default_factory=lambda: {0: 1.0, 1: 0.5, 2: 0.0, 3: 0.0})
    max_copies: dict = field(default_factory=lambda: {0: 3, 1: 3, 2: 2, 3: 1})
    fec_block_packets: int = 8
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
        self.max_copies = {int(k): int(v) for k, v in (self.max_copies or {}).items()}
        if any(not 1 <= v <= 8 for v in self.max_copies.values()):
            raise BadInputError(f"profile {self.name}: max_copies must be 1..8 copies per class")
        if not 1 <= int(self.fec_block_packets) <= 64:
            raise BadInputError(f"profile {self.name}: fec_block_packets must be 1..64")
        self.fec_block_packets = int(self.fec_block_packets)
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

    def targets(self, channel="awgn"):
        """{importance class: target loss per packet} on ``channel``: ``per_targets``, overridden on
        fading channels by ``fading_per_targets`` (loss there falls slowly with SNR: a strict
        target would spend the budget on copies of the most important classes)."""
        if channel in FADING_CHANNELS:
            return {**self.per_targets, **self.fading_per_targets}
        return dict(self.per_targets)

    def to_dict(self):
        return {"name": self.name, "description": self.description, "numerology": self.numerology,
                "mtu_bytes": self.mtu_bytes, "mcs": self.mcs, "per_targets": self.per_targets,
                "fading_per_targets": self.fading_per_targets, "margins_db": self.margins_db,
                "max_copies": self.max_copies, "fec_block_packets": self.fec_block_packets,
                "channel": self.channel}
