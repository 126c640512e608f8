"""Checkpoints: `.npz` files written atomically and read without pickle.

A checkpoint holds named arrays plus a small JSON metadata dict (stored as a
string array, so `allow_pickle=False` can read it back). Writing goes to a
temporary file in the same folder, then `os.replace` swaps it in: a crash never
leaves a half-written checkpoint where a good one used to be.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

_META_KEY = "__meta__"


def save_checkpoint(path, arrays, meta=None):
    """Write {name: array} and a JSON-serialisable `meta` dict to `path` atomically."""
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    _write_atomically(path, lambda f: np.savez(f, **arrays, **{_META_KEY: np.array(json.dumps(meta or {}))}))


def write_text_atomically(path, text):
    """Write a text file (results, tables) the same way: whole or not at all."""
    _write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def _write_atomically(path, write):
    """Temp file in the target folder, fsync, then `os.replace`: a crash never leaves half a file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    try:
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes it private; give it a normal file's mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_checkpoint(path, kind=None, what="checkpoint"):
    """-> (arrays, meta). Clear errors for a missing, truncated or foreign file.

    `kind`: the `meta["kind"]` the file must have (a ValueError otherwise);
    `what`: the kind of file expected, in the user's words, for the messages.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{what} {path!r} is truncated or not an .npz file written by minipgd (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ValueError(f"{what} {path!r} is truncated or not an .npz file written by minipgd ({err})") from err
    if _META_KEY not in arrays:
        raise ValueError(f"{path!r} is an .npz file but not a minipgd {what} (no {_META_KEY!r} entry)")
    meta = json.loads(str(arrays.pop(_META_KEY)))
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"{path!r} holds a {meta.get('kind', 'unknown')!r} file, not the {what} expected ({kind!r})")
    return arrays, meta


def prefixed(arrays, prefix):
    """{prefix + name: array}: several state dicts in one checkpoint."""
    return {f"{prefix}{name}": value for name, value in arrays.items()}


def unprefixed(arrays, prefix):
    """The entries of `arrays` under `prefix`, with the prefix taken off (the inverse of `prefixed`)."""
    return {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
