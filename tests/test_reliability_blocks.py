# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad block parameters (issue 7): a clear one-line error at construction, not a silent accept
and not a Python-internal message.

"Clear" means: a ``ValueError`` (``BadInputError`` is one, and is what the CLI turns into exit
code 2), one line, naming the parameter (or the valid choices). Cases where a block accepts a
bad value or says only e.g. "invalid literal for int()" are marked xfail(strict=True) with what
is wrong: they are for the blocks' owners (blocks/ and phy/ were not this change's to edit).
"""
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ACCEPTED = "accepted silently"
UNCLEAR = "the message does not say which parameter is wrong"
NOT_VALUE_ERROR = "raises TypeError with Python's message, not a ValueError naming the parameter"

# (block, fixed kwargs, bad kwarg, words one of which the message must contain, known problem)
ENC = "blocks.semantic_encoder.semantic_encoder"
CASES = [
    ("blocks.fragmenter.fragmenter", {}, {"mtu_bytes": 9}, ["mtu_bytes"], None),
    ("blocks.fragmenter.fragmenter", {}, {"mcs_plan": "0:nope"}, ["MCS"], None),
    ("blocks.fragmenter.fragmenter", {}, {"mcs_plan": "garbage"}, ["plan"], None),
    ("blocks.fragmenter.fragmenter", {}, {"mtu_bytes": 10 ** 9}, ["mtu_bytes"], None),
    ("blocks.fragmenter.fragmenter", {}, {"mtu_bytes": "x"}, ["mtu_bytes"], None),
    ("blocks.image_display.image_display", {}, {"max_width": 0}, ["max_width"], None),
    ("blocks.image_sink.image_sink", {}, {"out_dir": "/no/such/folder"}, ["folder"], None),
    ("blocks.image_sink.image_sink", {"out_dir": "{tmp}"}, {"queue_size": 0}, ["queue_size"], None),
    ("blocks.image_source.image_source", {}, {"images": ["{tmp}/none.png"]}, ["none.png", "no such"], None),
    ("blocks.image_source.image_source", {}, {"images": None}, ["images"], None),
    ("blocks.image_source.image_source", {"images": []}, {"interval_s": "x"}, ["interval_s"], None),
    ("blocks.metrics_sink.metrics_sink", {}, {"queue_size": 0}, ["queue_size"], None),
    ("blocks.metrics_sink.metrics_sink", {}, {"max_images": 0}, ["max_images"], None),
    ("blocks.reassembler.reassembler", {}, {"timeout_s": float("nan")}, ["timeout_s"], None),
    ("blocks.reassembler.reassembler", {}, {"max_pending": "x"}, ["max_pending"], None),
    ("blocks.semantic_decoder.semantic_decoder", {}, {"scheme": "morse"}, ["scheme"], None),
    ("blocks.semantic_decoder.semantic_decoder", {}, {"models": "no-such-card"}, ["card"], None),
    ("blocks.semantic_decoder.semantic_decoder", {}, {"quant": "int3"}, ["quantization"], None),
    ("blocks.semantic_decoder.semantic_decoder", {}, {"queue_size": 0}, ["queue_size"], None),
    ("blocks.semantic_decoder.semantic_decoder", {"default_height": 100}, {"default_width": -1},
     ["default_width"], None),
    (ENC, {}, {"budget_bytes": 0}, ["budget_bytes"], None),
    (ENC, {"budget_bytes": 1000}, {"scheme": "morse"}, ["scheme"], None),
    (ENC, {"budget_bytes": 1000}, {"codec": "bpg"}, ["codec"], None),
    (ENC, {"budget_bytes": 1000}, {"key_fraction": 2}, ["key_fraction"], None),
    (ENC, {"budget_bytes": 1000}, {"mtu_bytes": 5}, ["mtu_bytes"], None),
    (ENC, {}, {"budget_bytes": "x"}, ["budget_bytes"], None),
    ("blocks.semantic_txrx.semantic_tx", {}, {"profile": "nope"}, ["profile"], None),
    ("blocks.semantic_txrx.semantic_tx", {}, {"fixed_mcs": "qam9"}, ["MCS"], None),
    ("blocks.semantic_txrx.semantic_tx", {}, {"cpp": 0}, ["cpp"], None),
    ("blocks.semantic_txrx.semantic_tx", {}, {"snr_db": float("nan")}, ["snr_db"], None),
    ("blocks.semantic_txrx.semantic_tx", {}, {"snr_db": "x"}, ["snr_db"], None),
    ("blocks.semantic_txrx.semantic_rx", {}, {"profile": "nope"}, ["profile"], None),
    ("blocks.semantic_txrx.semantic_rx", {}, {"timeout_s": float("nan")}, ["timeout_s"], None),
    ("blocks.sigmf_io.sigmf_sink", {"base": "{tmp}/rec"}, {"samp_rate": 0}, ["samp_rate"], None),
    ("blocks.worker.worker_block", {"name": "w"}, {"drop_policy": "drop_all"}, ["drop_policy"], None),
    ("phy.ofdm_qam_tx.ofdm_qam_tx", {}, {"mcs": "qam9"}, ["MCS"], None),
    ("phy.ofdm_qam_tx.ofdm_qam_tx", {}, {"numerology": "nope"}, ["numerology"], None),
    ("phy.ofdm_qam_rx.ofdm_qam_rx", {}, {"threshold": 2.0}, ["threshold"], None),
    ("phy.ofdm_qam_rx.ofdm_qam_rx", {}, {"samp_rate": 0}, ["samp_rate"], None),
    ("phy.channel.channel_preset", {}, {"name": "moon"}, ["channel"], None),
    ("phy.channel.channel_preset", {}, {"cfo": float("nan")}, ["cfo"], None),
    ("phy.channel.channel_preset", {}, {"snr_db": "x"}, ["snr_db"], None),
]


def _params():
    for block, fixed, bad, words, problem in CASES:
        (name, value), = bad.items()
        marks = [pytest.mark.xfail(strict=True, reason=problem)] if problem else []
        case_id = f"{block.split('.')[-1]}-{name}={value!r}"
        yield pytest.param(block, fixed, bad, words, id=case_id, marks=marks)


@pytest.fixture(scope="module", autouse=True)
def qt_app():
    from PyQt5 import QtWidgets
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


@pytest.mark.parametrize("block, fixed, bad, words", list(_params()))
def test_bad_block_parameter_is_a_clear_one_line_error(block, fixed, bad, words, tmp_path):
    import importlib
    module, name = block.rsplit(".", 1)
    cls = getattr(importlib.import_module(f"gnuradio.gensemcom.{module}"), name)
    kwargs = {k: v.format(tmp=tmp_path) if isinstance(v, str) else
              [x.format(tmp=tmp_path) for x in v] if isinstance(v, list) else v
              for k, v in {**fixed, **bad}.items()}
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert "\n" not in message.strip(), message
    assert any(w.lower() in message.lower() for w in words), message
