# SPDX-License-Identifier: GPL-3.0-or-later
"""Which codec a block runs: the semantic codec with a model stack, or a whole-image baseline."""
from ..constants import BASELINE_SCHEMES, SCHEMES
from ..errors import BadInputError

# ablation -> (CodecConfig fields, generator backend or None for the stack's)
ABLATIONS = {
    "semantic-no-generator": ({}, "plain"),
    "semantic-no-prompt": ({"prompt": "off"}, None),
    "semantic-no-hints": ({"hints": "off"}, None),
    "semantic-no-key": ({"key_area": False}, None),
}


def make_codec(scheme="semantic", models=None, quant=None, device=None, codec="avif", key_fraction=None):
    """A codec object with ``encode(image, budget, image_id=..)`` and ``decode(received, size=..)``.

    scheme        "semantic", a semantic ablation (``ABLATIONS``) or a whole-image baseline
                  (``constants.BASELINE_SCHEMES``)
    models/quant  the semantic stack (``--models``/``--quant``; None = offline default)
    codec         the semantic key-stream codec ("avif", "webp", "jpeg")
    key_fraction  target key-area share (None = automatic)
    """
    if scheme not in SCHEMES:
        raise BadInputError(f"unknown scheme {scheme!r}; choose from {', '.join(SCHEMES)}")
    if scheme in BASELINE_SCHEMES:
        from ..classical.wholeimage import WholeImageCodec
        return WholeImageCodec(scheme)
    from ..semantic.codec import CodecConfig, SemanticCodec
    stack = None
    if models not in (None, "", "offline") or quant not in (None, "", "none") or device not in (None, "", "auto"):
        from ..models import load_stack
        stack = load_stack(models or None, quant=quant or None, device=device or None)
    changes, generator = ABLATIONS.get(scheme, ({}, None))
    config = CodecConfig(codec=codec, key_fraction=key_fraction or None, **changes)
    if generator is not None:
        from ..semantic.backends import build_backend
        return SemanticCodec(config=config, stack=stack, generator=build_backend("generator", generator))
    return SemanticCodec(config=config, stack=stack)
