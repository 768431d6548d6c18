"""Schemes that run the real flowgraph (``transmit.run_transmission``) for ``gensemcom bench``.

  semantic          the semantic scheme, offline default stack, link profile ``default``
                    (MCS per importance class from the SNR)
  semantic@CARD     the same with the model stack CARD (``gensemcom models list``)
  jpeg, webp, avif  whole-image codec (best quality and scale that fit) + LDPC, at the best
                    single MCS for the SNR and channel statistics
  jpeg@MCS, …       the same at a fixed MCS whatever the SNR (shows the cliff)

Key-region metrics of the baselines use the ``semantic`` key mask: the semantic sender's own
key-area selection for the same image and channel budget (registered with ``--key-mask``).
"""
from __future__ import annotations

from ..constants import CHANNELS
from ..phy.mcs import get_mcs
from .keymask import register_key_mask
from .schemes import register_scheme


def _result(task, tx) -> dict:
    prompt_sent = tx.encoder_report.get("prompt_text")
    return {
        "image": tx.image if tx.delivered else None,
        "delivered": tx.delivered,
        "key_mask": tx.key_mask if tx.scheme == "semantic" else None,
        "prompt_sent": prompt_sent,
        "prompt_received": tx.decoder_report.get("prompt_text") if prompt_sent else None,
        "bytes": tx.bytes_sent,
        "mcs": ",".join(f"{k}:{v}" for k, v in sorted(tx.mcs_plan.items())),
        "key_fraction": tx.encoder_report.get("key_fraction", 0.0),
        "prompt_bytes": _prompt_bytes(tx.encoder_report),
        "symbols_used": tx.symbols_used,
        "samples": tx.samples,
        "packets_sent": tx.packets_sent,
        "packets_ok": tx.packets_ok,
        "sections_received": tx.sections_received,
        "symbols_budget": tx.symbols_budget,
        "sections_sent": tx.sections_sent,
        "regenerated": "; ".join(map(str, tx.decoder_report.get("regenerated", []))),
    }


def _prompt_bytes(report) -> int:
    for section in report.get("sections", []):
        if section.get("type") == "prompt":
            return int(section.get("bytes", 0))
    return 0


def _transmit(task, scheme, models=None, fixed_mcs=""):
    from ..flowgraphs.transmit import run_transmission
    image = task.load_image()
    tx = run_transmission(image, scheme, task.snr_db, task.channel, cpp=float(task.cpp_fraction),
                          models=models, seed=task.rng_seed & 0x7FFFFFFF, fixed_mcs=fixed_mcs)
    return _result(task, tx)


def run_semantic(task):
    return _transmit(task, "semantic", models=task.scheme_param)


def run_baseline(task):
    family = task.scheme_family
    return _transmit(task, family, fixed_mcs=task.scheme_param or "")


def _validate_mcs(value):
    from ..errors import BadInputError
    try:
        get_mcs(value)
    except BadInputError as exc:
        raise ValueError(str(exc)) from None


def _validate_card(value):
    from ..errors import BadInputError
    from ..models import load_stack
    try:
        load_stack(value)
    except BadInputError as exc:
        raise ValueError(str(exc)) from None


def semantic_key_mask(image, task):
    """The semantic sender's key mask for ``task``'s image and channel budget (no PHY run)."""
    from ..flowgraphs.transmit import semantic_sender_mask
    return semantic_sender_mask(image, task.snr_db, task.channel, float(task.cpp_fraction))


register_scheme("semantic", run_semantic, channels=CHANNELS,
                description="semantic codec (offline stack) over the real OFDM/LDPC flowgraph, UEP per class")
register_scheme("semantic", run_semantic, channels=CHANNELS, param="CARD", validate=_validate_card,
                description="semantic codec with model stack CARD over the real flowgraph")
for _codec in ("jpeg", "webp", "avif"):
    register_scheme(_codec, run_baseline, channels=CHANNELS,
                    description=f"whole-image {_codec.upper()} + LDPC at the best MCS for the SNR (real flowgraph)")
    register_scheme(_codec, run_baseline, channels=CHANNELS, param="MCS", validate=_validate_mcs,
                    description=f"whole-image {_codec.upper()} + LDPC at a fixed MCS (real flowgraph; the cliff)")
register_key_mask("semantic", semantic_key_mask)
