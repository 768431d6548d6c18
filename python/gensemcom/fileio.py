# SPDX-License-Identifier: GPL-3.0-or-later
"""File helpers shared by the CLI and blocks: atomic writes, JSON output."""
import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path


def check_output_path(path) -> Path:
    """``path`` as a Path; ``FileNotFoundError`` naming the folder if that does not exist.

    Commands with several outputs call it for each before any work, so that a bad second
    output does not fail the command after the first was written.
    """
    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "output folder does not exist", str(path.parent))
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    A failure inside the ``with`` block leaves no partial file behind. ``suffix``
    defaults to the target's suffix so that format-by-extension writers (Pillow,
    matplotlib) still see the right extension.
    """
    path = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix,
                               dir=path.parent or ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; a normal file honours the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path, data: bytes):
    """Write ``data`` to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text: str):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def to_jsonable(value):
    """Convert numpy scalars/arrays, paths and NaN into plain JSON values (NaN -> None)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if np is not None:
        if isinstance(value, np.ndarray):
            return to_jsonable(value.tolist())
        if isinstance(value, np.generic):
            value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def dumps_json(obj) -> str:
    """Serialise ``obj`` as compact, stable JSON (sorted keys are not forced: order is meaning)."""
    return json.dumps(to_jsonable(obj), allow_nan=False)
