# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio-impairment options shared by `gensemcom link`, `transmit` and `channel`.

--impairments names a preset (phy.impairments.IMPAIRMENT_PRESETS: lab-cable, b200-indoor,
walking-nlos, vehicular, walking-shadowed, vehicular-shadowed); each single option overrides one of its values;
options not given keep the preset's. The declarations are the channel preset's (phy.channel.CONFIG_PARAMETERS),
so the flags, ranges and help are the Channel Preset block's.
"""
OVERRIDES = ("sro_ppm", "carrier_hz", "cfo_drift_hz", "phase_noise_dbc_hz", "phase_noise_offset_hz",
             "phase_noise_corner_hz", "iq_imbalance_db", "iq_phase_deg", "dc_offset_dbc", "profile", "doppler_hz",
             "sample_rate_hz", "coherence_samples", "shadowing_db", "shadowing_samples")


def add_impairment_arguments(parser):
    """--impairments PRESET and one option per overridable field (default: the preset's)."""
    from ..phy.channel import CONFIG_PARAMETERS
    from ..phy.impairments import IMPAIRMENTS
    group = parser.add_argument_group("radio impairments (docs/phy.md: presets, values, sources)")
    IMPAIRMENTS.add_to(group)
    for name in OVERRIDES:
        param = CONFIG_PARAMETERS[name]
        param.add_to(group, default=None, help=param.help_text() + " (default: the preset's)")


def _dest(name):
    """The argparse attribute of a field's option (its declared flag: --delay-profile for ``profile``)."""
    from ..phy.channel import CONFIG_PARAMETERS
    return CONFIG_PARAMETERS[name].flag[2:].replace("-", "_")


def impairment_overrides(args):
    """{field: value} of the impairment options given on the command line."""
    return {name: getattr(args, _dest(name)) for name in OVERRIDES if getattr(args, _dest(name), None) is not None}


def channel_config(args, snr_db, **fields):
    """``ChannelConfig`` of --impairments with the options given, at ``snr_db``; ``fields``:
    more fields from the command (channel name, seed, cfo ...; None: the preset's)."""
    from ..phy.channel import impairment_config
    return impairment_config(args.impairments, snr_db=snr_db, **fields, **impairment_overrides(args))


def transmission_options(args):
    """For commands that build their channel from a name and extra fields (``run_transmission``):
    sets ``args.channel`` to the preset's channel where --channel was not given, checks the
    whole configuration, and returns the fields the preset and the options set."""
    from ..phy.impairments import preset_channel
    own, fields = preset_channel(args.impairments)
    fields.update(impairment_overrides(args))
    args.channel = args.channel or own or "awgn"
    channel_config(args, args.snr, name=args.channel, seed=getattr(args, "seed", 0))   # bad input: exit 2 now
    return fields
