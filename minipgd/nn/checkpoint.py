"""Checkpoints: `.npz` files written atomically and read without pickle.

A checkpoint holds named arrays plus a small JSON metadata dict (stored as a
string array, so `allow_pickle=False` can read it back). Writing goes to a
temporary file in the same folder, then `os.replace` swaps it in: a crash never
leaves a half-written checkpoint where a good one used to be.

Before a command starts its work, `check_output` refuses an output that is one
of its inputs, an existing file (unless forced) and a folder that takes no new
files; a resumable run records what it was made from (`fingerprint`s and
settings) and `check_provenance` refuses to resume it from anything else.
"""
import hashlib
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
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    except OSError as err:
        check_writable(path)  # names what is wrong with the folder
        raise OSError(f"cannot write {path!r}: {err.strerror}") from err
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


def check_output(path, force=False, inputs=(), what="output"):
    """Before any work: refuse to write `path` when it is one of `inputs` (even forced), when it exists
    (unless `force`), or when its folder cannot take new files. `what` names it in the messages (a flag)."""
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise ValueError(f"{what} {os.fspath(path)!r} is also an input of this command ({os.fspath(source)!r}): "
                             "writing it would destroy that input, even with --force; choose another path")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what} {os.fspath(path)!r} is a folder; expected the path of a file")
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{what} {os.fspath(path)!r} already exists; pass --force to overwrite it")
    check_writable(path)


def check_writable(path):
    """Raise an OSError naming `path` unless its folder (or the nearest one above that exists) takes new files."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"cannot write {os.fspath(path)!r}: {folder!r} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise PermissionError(f"cannot write {os.fspath(path)!r}: the folder {folder!r} takes no new files "
                              f"({err.strerror})") from None


def _same_file(a, b):
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def fingerprint(arrays, meta=None):
    """A short hash of {name: array} (names, dtypes, shapes, values) and a JSON-able `meta`: what a run used."""
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name} {array.dtype.str} {array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def check_provenance(path, meta, expected, what="checkpoint"):
    """Refuse to resume from `path` (its `meta`) unless its recorded "provenance" equals `expected`, a JSON-able
    dict of what the run is made from (data fingerprints, settings); the message names every field that differs."""
    found = _differences(meta.get("provenance", {}), json.loads(json.dumps(expected)))
    if found:
        raise ValueError(f"{what} {os.fspath(path)!r} was made from other data or settings ({'; '.join(found)}); "
                         "use another checkpoint path, or pass --force to start over")


def _differences(recorded, expected, prefix=""):
    found = []
    for key in sorted(set(recorded) | set(expected)):
        old, new = recorded.get(key, "not recorded"), expected.get(key, "not recorded")
        if isinstance(old, dict) and isinstance(new, dict):
            found += _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key} is {old!r} there, {new!r} now")
    return found


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
