"""What the receiver survives: fuzzing of everything that comes off the air (issue 7).

A short bounded run of ``scripts/fuzz_receiver.py`` (the 100k-input run and its figures are in
docs/reliability.md), a structure-aware hypothesis test of the whole decode path, and one
regression test per bug the fuzzer found.
"""
import binascii
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.errors import CorruptDataError
from gnuradio.gensemcom.semantic.container import Container, Section, SectionType, fragment

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_receiver.py"
SHORT_RUN_INPUTS = 2500
MAX_RSS_MIB = 2048
PER_INPUT_TIMEOUT_S = 10


def test_image_pdu_with_an_infinite_size_is_corrupt_data():
    """width = inf in an image PDU's meta raised OverflowError from int()."""
    from gnuradio.gensemcom.blocks.pdus import make_pdu, pdu_to_image
    for bad in (float("inf"), float("-inf"), float("nan"), "x", None):
        with pytest.raises(CorruptDataError):
            pdu_to_image(make_pdu(b"\0" * 12, {"width": bad, "height": 2}))
