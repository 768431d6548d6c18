"""Link profiles: the PHY settings a semantic link uses, as data (YAML).

A profile names the OFDM numerology, the packet size (``mtu_bytes``), the MCS of each
importance class (fixed, or ``auto``: chosen from the planning SNR with per-class margins and
the measured MCS thresholds in ``phy/mcs_thresholds.yaml``), and channel options. Profiles are
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
PROFILE_KEYS = {"name", "description", "numerology", "mtu_bytes", "mcs", "margins_db", "channel"}


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


@functools.lru_cache(maxsize=1)
def mcs_thresholds():
    """{channel: {mcs: SNR in dB at which PER <= per_target}} measured by
    ``simulations/mcs_thresholds.py``; plus the measurement's settings under ``_meta``."""
    with open(THRESHOLDS_FILE) as f:
        data = yaml.safe_load(f)
    table = {ch: {m: float(v) for m, v in row.items()} for ch, row in data["thresholds_db"].items()}
    table["_meta"] = {k: v for k, v in data.items() if k != "thresholds_db"}
    return table


def best_mcs(snr_db, channel="awgn", margin_db=0.0):
    """Fastest coded MCS whose threshold + ``margin_db`` <= ``snr_db`` on ``channel``'s statistics;
    the robust mode when none qualifies."""
    from .phy.mcs import MCS_TABLE, ROBUST_MCS
    table = mcs_thresholds()
    row = table.get(channel, table["awgn"])
    usable = [name for name, threshold in row.items()
              if MCS_TABLE[name].coded and threshold + margin_db <= snr_db]
    if not usable:
        return ROBUST_MCS
    return max(usable, key=lambda name: (MCS_TABLE[name].spectral_efficiency, -row[name]))


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



@dataclass
class LinkProfile:
    """A link profile (see module docstring)."""

    name: str = "default"
    description: str = ""
    numerology: dict = field(default_factory=dict)
    mtu_bytes: int = 400
    mcs: object = "auto"
    margins_db: dict = field(default_factory=lambda: {0: 2.0, 1: 1.0, 2: 0.0, 3: 0.0})
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
        self.margins_db = {int(k): float(v) for k, v in (self.margins_db or {}).items()}
        unknown = set(self.channel or {}) - set(ChannelConfig.__dataclass_fields__) | ({"name", "snr_db"} & set(self.channel or {}))
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
            raise BadInputError(f"link profile: unknown keys {', '.join(sorted(unknown))}; valid: {', '.join(sorted(PROFILE_KEYS))}")
        return cls(**data)

    def numerology_object(self):
        from .phy.config import Numerology
        return Numerology.from_dict(self.numerology or {})

    def mcs_plan(self, snr_db=None, channel="awgn", single=False):
        """{importance class: MCS}. ``auto`` needs ``snr_db``; ``single``: one MCS for every
        class (the separation baselines' "best MCS for the SNR", margin 0)."""
        if self.mcs != "auto":
            return dict(self.mcs)
        if snr_db is None:
            raise BadInputError(f"profile {self.name} chooses MCS from the SNR: give a planning snr_db")
        if single:
            return {0: best_mcs(snr_db, channel, 0.0)}
        return {cls_: best_mcs(snr_db, channel, margin) for cls_, margin in sorted(self.margins_db.items())}

    def symbols_for_bytes(self, plan):
        """Cost hook for rate control: (n_bytes, importance) → data-carrier symbols (see module)."""
        from .phy.mcs import frame_size
        numerology = self.numerology_object()

        @functools.lru_cache(maxsize=4096)
        def cost(n_bytes, importance=2):
            size = frame_size(int(n_bytes), mcs_for_class(plan, int(importance)), numerology)
            return (size.header_ofdm_symbols + size.payload_ofdm_symbols) * numerology.n_data_carriers
        return cost

    def to_dict(self):
        return {"name": self.name, "description": self.description, "numerology": self.numerology,
                "mtu_bytes": self.mtu_bytes, "mcs": self.mcs, "margins_db": self.margins_db,
                "channel": self.channel}
