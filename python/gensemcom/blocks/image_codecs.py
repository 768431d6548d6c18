"""Which codec a block runs: the semantic codec with a model stack, or a whole-image baseline."""
from ..constants import BASELINE_SCHEMES, SCHEMES
from ..errors import BadInputError


def make_codec(scheme="semantic", models=None, quant=None, device=None, codec="avif", key_fraction=None):
    """A codec object with ``encode(image, budget, image_id=..)`` and ``decode(received, size=..)``.

    scheme        "semantic" or a whole-image baseline ("jpeg", "webp", "avif")
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
    return SemanticCodec(config=CodecConfig(codec=codec, key_fraction=key_fraction or None), stack=stack)
