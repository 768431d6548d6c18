# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared test setup: headless Qt, no model-hub access, small deterministic test images."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GR_CONF_CONTROLPORT_ON", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def astronaut():
    """skimage's astronaut (512×512 RGB uint8): a face, a person, a flag."""
    from skimage import data
    return data.astronaut()


@pytest.fixture(scope="session")
def coffee():
    """skimage's coffee (400×600 RGB uint8): an object on a textured background."""
    from skimage import data
    return data.coffee()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
