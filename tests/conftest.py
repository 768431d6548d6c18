# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared test setup: headless Qt, no model-hub access, GNU Radio buffers that do not run out of
shared memory segments, small deterministic test images."""
import atexit
import os
import shutil
import tempfile
from pathlib import Path


def _home_with_posix_shm_buffers():
    """A HOME for the test session whose GNU Radio prefs ($HOME/.gnuradio/prefs, read at the
    first stream buffer, also by the subprocesses tests start) choose POSIX shared memory for
    stream buffers. The flowgraphs of this module's hier blocks are not all freed when they end
    (``run_link`` leaves 72 System V segments per run; Python's gc frees nothing more, so the
    references that hold them are inside GNU Radio), and one pytest process of this suite came
    to the kernel's limit of 4096 segments (shmget: "No space left on device" in the last test
    files). POSIX shared memory (shm_open, unlinked once mapped) has no such count. The caches
    that hold model weights stay where they were."""
    real_home = Path.home()
    os.environ.setdefault("TORCH_HOME", str(real_home / ".cache" / "torch"))
    os.environ.setdefault("GENSEMCOM_CACHE_DIR", str(real_home / ".cache" / "gensemcom"))
    home = Path(tempfile.mkdtemp(prefix="gensemcom-test-home-"))
    atexit.register(shutil.rmtree, home, True)
    prefs = home / ".gnuradio" / "prefs"
    prefs.mkdir(parents=True)
    (prefs / "vmcircbuf_default_factory").write_text("gr::vmcircbuf_mmap_shm_open_factory\n")
    return str(home)


os.environ["HOME"] = _home_with_posix_shm_buffers()
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
