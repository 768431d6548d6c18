# SPDX-License-Identifier: GPL-3.0-or-later
"""Schemes that run the real flowgraph (``flowgraphs.transmit.run_transmission``) for ``gensemcom bench``.

  semantic          the semantic scheme, offline default stack, link profile ``default``
                    (protection per importance class planned from the SNR)
  semantic@CARD     the same with the model stack CARD (``gensemcom models list``)
  semantic-no-*     ablations: no generator, no prompt, no hints, no key area
                    (``constants.SEMANTIC_ABLATIONS``)
  av1, webp, jpeg,  whole-image classical baselines (``classical.wholeimage``), each with the
  roi-av1, avif     plan of best expected quality over MCS x copies x erasure code x packet size
  av1@MCS, …        the same at one fixed MCS whatever the SNR, no copies or code (the cliff)
  <scheme>~<mode>   the same in a closed loop (``flowgraphs.transmit.FEEDBACK_MODES``: csi, ack,
                    full): semantic~full, av1~ack, … (``gensemcom bench --feedback MODE`` names them)

A channel ``CHANNEL+IMPAIRMENTS`` (``awgn+b200-indoor``) adds that radio-impairment preset's
fields to the channel (``phy.impairments``); the senders plan for CHANNEL's statistics.
Every scheme of one (image, SNR, channel, seed) meets the same channel realisation
(``Task.channel_seed``) and the same sample budget (``link.protection.samples_budget``).
Key-region metrics of every scheme use the semantic sender's key mask for the same image and
budget (``--key-mask semantic``).
"""
from __future__ import annotations

from ..constants import BASELINE_SCHEMES, CHANNELS, SEMANTIC_ABLATIONS
from ..phy.mcs import get_mcs
from .keymask import register_key_mask
from .schemes import register_scheme
from .tasks import channel_parts


def _result(task, tx) -> dict:
    prompt_sent = tx.encoder_report.get("prompt_text")
    prompt_lost = any(str(r).startswith("prompt:") for r in tx.decoder_report.get("regenerated", []))
    return {
        "image": tx.image if tx.delivered else None,
        "delivered": tx.delivered,
        "key_mask": tx.key_mask if tx.scheme not in BASELINE_SCHEMES else None,
        "prompt_sent": prompt_sent,
        "prompt_received": (tx.decoder_report.get("prompt_text") if prompt_sent and tx.delivered and not prompt_lost
                            else None),
        "bytes": tx.bytes_sent,
        "mcs": ",".join(f"{k}:{v}" for k, v in sorted(tx.mcs_plan.items())),
        "plan": tx.plan,
        "key_fraction": tx.encoder_report.get("key_fraction", 0.0),
        "prompt_bytes": _prompt_bytes(tx.encoder_report),
        "symbols_used": tx.symbols_used,
        "samples_budget": tx.samples_budget,
        "samples_used": tx.samples_used,
        "packets_sent": tx.packets_sent,
        "packets_ok": tx.packets_ok,
        "sections_received": tx.sections_received,
        "sent": tx.sent,
        "complete": tx.complete,
        "channel_seed": tx.channel_seed,
        "sections_sent": tx.sections_sent,
        "note": tx.note,
        "plan_expected": tx.encoder_report.get("plan_expected"),
        "regenerated": "; ".join(map(str, tx.decoder_report.get("regenerated", []))),
    }


def _prompt_bytes(report) -> int:
    for section in report.get("sections", []):
        if section.get("type") == "prompt":
            return int(section.get("bytes", 0))
    return 0


def _transmit(task, scheme, models=None, fixed_mcs=""):
    from ..flowgraphs.transmit import run_transmission
    from ..phy.impairments import preset_channel
    scheme, _, feedback = scheme.partition("~")
    channel, impairments = channel_parts(task.channel)
    options = preset_channel(impairments)[1]
    image = task.load_image()
    tx = run_transmission(image, scheme, task.snr_db, channel, cpp=float(task.cpp_fraction),
                          models=models, seed=task.channel_seed, fixed_mcs=fixed_mcs, feedback=feedback or "none",
                          channel_options=options or None)
    return _result(task, tx)


def run_semantic(task):
    return _transmit(task, task.scheme_family, models=task.scheme_param)


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
    return semantic_sender_mask(image, task.snr_db, channel_parts(task.channel)[0], float(task.cpp_fraction))


register_scheme("semantic", run_semantic, channels=CHANNELS,
                description="semantic codec (offline stack) over the real OFDM/LDPC flowgraph, UEP per class")
register_scheme("semantic", run_semantic, channels=CHANNELS, param="CARD", validate=_validate_card,
                description="semantic codec with model stack CARD over the real flowgraph")
for _ablation in SEMANTIC_ABLATIONS:
    register_scheme(_ablation, run_semantic, channels=CHANNELS,
                    description=f"ablation: {_ablation.replace('-', ' ')} (offline stack, real flowgraph)")
_BASELINE_TEXT = {"av1": "bare AV1 stream", "webp": "bare VP8 (WebP) stream", "jpeg": "JPEG without APP segments",
                  "roi-av1": "ROI-coded bare AV1 (the semantic sender's key mask)", "avif": "AVIF file (reference)"}
for _codec in BASELINE_SCHEMES:
    register_scheme(_codec, run_baseline, channels=CHANNELS,
                    description=f"whole image, {_BASELINE_TEXT[_codec]}, plan of best expected quality "
                                "(real flowgraph)")
    register_scheme(_codec, run_baseline, channels=CHANNELS, param="MCS", validate=_validate_mcs,
                    description=f"whole image, {_BASELINE_TEXT[_codec]}, at a fixed MCS (real flowgraph; the cliff)")
for _mode in ("csi", "ack", "full"):
    register_scheme(f"semantic~{_mode}", run_semantic, channels=CHANNELS,
                    description=f"semantic codec in a closed loop (feedback {_mode}; real flowgraph)")
    for _codec in BASELINE_SCHEMES:
        register_scheme(f"{_codec}~{_mode}", run_baseline, channels=CHANNELS,
                        description=f"whole image, {_BASELINE_TEXT[_codec]}, closed loop (feedback {_mode})")
register_key_mask("semantic", semantic_key_mask)
