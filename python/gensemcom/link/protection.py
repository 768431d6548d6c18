"""What protection costs: channel symbols per packet, and the cheapest (MCS, copies) pair.

``packet_symbols``: a packet of n bytes at MCS m costs the complex symbols on the data
carriers of its header and payload OFDM symbols, ``(header_ofdm_symbols +
payload_ofdm_symbols) · n_data_carriers``. ``cheapest_protection``: on fading channels, the
pair (MCS, copies) of least symbols whose copies all fail with probability ≤ a target.
"""
from __future__ import annotations

from .per import packet_error_rate, per_curves


def packet_symbols(n_bytes, mcs, numerology):
    """Data-carrier symbols one packet of ``n_bytes`` at ``mcs`` costs (see module docstring)."""
    from ..phy.mcs import frame_size
    size = frame_size(int(n_bytes), mcs, numerology)
    return (size.header_ofdm_symbols + size.payload_ofdm_symbols) * numerology.n_data_carriers


def cheapest_protection(snr_db, channel, per_target, max_copies, packet_bytes, numerology):
    """(MCS, copies): the pair of least channel symbols for a ``packet_bytes`` packet whose
    ``copies`` independent fades all fail with probability PER(MCS, ``snr_db``)^copies ≤
    ``per_target``; when no pair within ``max_copies`` does, the robust mode with two copies
    (at most ``max_copies``): more copies there would take the budget of everything else."""
    from ..phy.mcs import MCS_TABLE, ROBUST_MCS
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
