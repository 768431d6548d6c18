# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic agreement with the offline models: classifier top-5 overlap, text similarity."""
import numpy as np
import pytest

from gnuradio.gensemcom.bench import semantic_agreement as sa

pytestmark = pytest.mark.skipif(not sa.status()[0], reason=sa.status()[1])


def test_classifier_knows_a_cat(chelsea):
    top = sa.top_labels(chelsea)
    assert len(top) == 5
    assert {"tabby", "tiger cat", "Egyptian cat"} & set(top[:3])
    assert sa.caption(chelsea) == "a photo of " + ", ".join(top[:3])


def test_agreement_of_an_image_with_itself_and_with_another(chelsea):
    from skimage import data
    rocket = data.rocket()
    same = sa.semantic_agreement(chelsea, chelsea.copy())
    assert same["top5_overlap"] == 1.0 and same["caption_similarity"] == pytest.approx(1.0)
    assert same["prompt_similarity"] is None and same["semantic_status"] == "ok"
    other = sa.semantic_agreement(chelsea, rocket)
    assert other["top5_overlap"] == 0.0
    assert other["caption_similarity"] < 0.6
    gray = np.full_like(chelsea, 128)
    assert sa.top5_overlap(chelsea, gray) < 1.0


def test_text_similarity():
    assert sa.text_similarity("a cat on a sofa", "a cat on a sofa") == 1.0
    close = sa.text_similarity("a cat sleeping on a sofa", "a kitten asleep on a couch")
    far = sa.text_similarity("a cat sleeping on a sofa", "a rocket launch at night")
    assert close > 0.6 > far
    swapped = sa.text_similarity("a kitten asleep on a couch", "a cat sleeping on a sofa")
    assert close == pytest.approx(swapped, abs=1e-6)


@pytest.fixture(scope="module")
def chelsea():
    from skimage import data
    return data.chelsea()
