"""Offline datasets: one flat table of transitions, one `.npz` file (Sec. 5.1).

A dataset is D4RL-shaped: row t holds the transition (s_t, a_t, r_t, s_{t+1})
with two flags, `terminations` (the MDP ended: no bootstrapping past s_{t+1})
and `truncations` (a time-out: the episode stopped, the MDP did not). An episode
ends at a row where either flag is set, and the last row must end one. The
paper's D4RL archives cannot be downloaded at run time (`docs/authors_code.md#no-downloads`),
so datasets are produced locally by recipes or imported from Minari files that
are already on disk (`load_minari`).
"""
import json
import os
from dataclasses import dataclass

import numpy as np

from ..nn.checkpoint import check_output, load_checkpoint, save_checkpoint

KIND = "OfflineDataset"
FORMAT_VERSION = 1
METADATA_KEYS = ("env_id", "recipe", "seed", "n_episodes", "ref_min_return", "ref_max_return")
ORIGIN_KEYS = ("env_id", "recipe", "seed", "ref_min_return", "ref_max_return")  # what a model keeps of its data
_EXPECTED_NDIM = {"observations": 2, "actions": 2, "rewards": 1, "next_observations": 2,
                  "terminations": 1, "truncations": 1}
_FLAGS = ("terminations", "truncations")


@dataclass(frozen=True, eq=False)
class OfflineDataset:
    """N transitions: observations (N, obs_dim), actions (N, act_dim), rewards (N,),
    next_observations (N, obs_dim), terminations (N,) bool, truncations (N,) bool,
    and `metadata` with the keys in METADATA_KEYS (extra JSON-serialisable keys are kept)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    metadata: dict

    def __post_init__(self):
        for name in _EXPECTED_NDIM:
            object.__setattr__(self, name, np.asarray(getattr(self, name)))
        validate(self)

    @property
    def obs_dim(self):
        return self.observations.shape[1]

    @property
    def act_dim(self):
        return self.actions.shape[1]

    def arrays(self):
        """{name: array} for the six arrays, in field order."""
        return {name: getattr(self, name) for name in _EXPECTED_NDIM}


def validate(dataset):
    """Raise a ValueError that says what is wrong, or return None for a well-formed dataset."""
    _validate_arrays(dataset.arrays())
    if not (dataset.terminations[-1] or dataset.truncations[-1]):
        raise ValueError("the last row must end an episode: set terminations[-1] or truncations[-1] to True")
    _validate_metadata(dataset.metadata, n_episodes=int(np.count_nonzero(episode_ends(dataset))))


def _validate_arrays(arrays):
    for name, array in arrays.items():
        if array.ndim != _EXPECTED_NDIM[name]:
            raise ValueError(f"{name} must have {_EXPECTED_NDIM[name]} dimension(s), got shape {array.shape}")
        if name in _FLAGS and array.dtype != bool:
            raise ValueError(f"{name} must be a bool array, got dtype {array.dtype} (convert with .astype(bool))")
        if name not in _FLAGS and array.dtype.kind not in "fiu":
            raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"all arrays must have the same number of rows, got {lengths}")
    if lengths["observations"] == 0:
        raise ValueError("the dataset is empty: expected at least one transition")
    if arrays["next_observations"].shape != arrays["observations"].shape:
        raise ValueError(f"next_observations has shape {arrays['next_observations'].shape}, "
                         f"expected the observations' shape {arrays['observations'].shape}")
    for name in ("observations", "actions", "rewards", "next_observations"):
        bad_rows = ~np.isfinite(arrays[name]).reshape(len(arrays[name]), -1).all(axis=1)
        if bad_rows.any():
            first = int(np.argmax(bad_rows))
            raise ValueError(f"{name} contains NaN or inf (first in row {first}); expected finite numbers")


def _validate_metadata(metadata, n_episodes):
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    missing = [key for key in METADATA_KEYS if key not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {missing}; expected the keys {list(METADATA_KEYS)}")
    if metadata["n_episodes"] != n_episodes:
        raise ValueError(f"metadata says n_episodes = {metadata['n_episodes']!r}, "
                         f"but the terminations/truncations flags end {n_episodes} episodes")
    refs = metadata["ref_min_return"], metadata["ref_max_return"]
    if (refs[0] is None) != (refs[1] is None):
        raise ValueError(f"ref_min_return and ref_max_return must both be numbers or both None, got {refs}")
    if refs[0] is not None and not refs[0] < refs[1]:
        raise ValueError(f"ref_min_return must be below ref_max_return, got {refs}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must be JSON-serialisable with finite numbers ({err})") from err


def origin(dataset):
    """{env_id, recipe, seed, ref_min_return, ref_max_return}: where the dataset's transitions come from, which a
    model trained on it keeps (`TrajectoryDiffusion.data`) so its samples can be written as a dataset again."""
    return {key: dataset.metadata[key] for key in ORIGIN_KEYS}


def episode_ends(dataset):
    """(N,) bool: the rows where an episode ends (termination or time-out)."""
    return dataset.terminations | dataset.truncations


def episode_slices(dataset):
    """One slice of rows per episode, in order."""
    ends = np.flatnonzero(episode_ends(dataset)) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [slice(int(start), int(end)) for start, end in zip(starts, ends)]


def episode_returns(dataset):
    """(n_episodes,) undiscounted return of each episode."""
    return np.array([dataset.rewards[rows].sum() for rows in episode_slices(dataset)], dtype=np.float64)


def normalized_score(returns, ref_min, ref_max):
    """D4RL normalized score 100 (R − min) / (max − min) (Fu et al., 2020; `docs/authors_code.md#d4rl-reference-returns`)."""
    if not ref_min < ref_max:
        raise ValueError(f"reference returns must satisfy min < max, got min {ref_min}, max {ref_max}")
    return 100.0 * (np.asarray(returns, dtype=np.float64) - ref_min) / (ref_max - ref_min)


def summary(dataset):
    """Numbers to print about a dataset: sizes, returns, and the normalized score when references exist."""
    returns, meta = episode_returns(dataset), dataset.metadata
    out = {"env_id": meta["env_id"], "recipe": meta["recipe"], "episodes": len(returns),
           "transitions": len(dataset.rewards), "mean_return": float(returns.mean()),
           "min_return": float(returns.min()), "max_return": float(returns.max())}
    if meta["ref_min_return"] is not None:
        refs = meta["ref_min_return"], meta["ref_max_return"]
        out["normalized_score"] = float(normalized_score(out["mean_return"], *refs))
    return out


def save_dataset(path, dataset, force=False):
    """Write `dataset` to `path` atomically; an existing file is replaced only with force=True."""
    validate(dataset)  # arrays may have been edited in place since construction
    check_output(path, force, what="dataset")
    save_checkpoint(path, dataset.arrays(), {"kind": KIND, "version": FORMAT_VERSION, "metadata": dataset.metadata})


def load_dataset(path):
    """Read a file written by `save_dataset`, with clear errors for anything else."""
    arrays, meta = load_checkpoint(path, kind=KIND, what="dataset")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{os.fspath(path)!r} has dataset format version {meta.get('version')!r}, "
                         f"this minipgd reads version {FORMAT_VERSION}")
    missing = sorted(set(_EXPECTED_NDIM) - set(arrays))
    if missing:
        raise ValueError(f"{os.fspath(path)!r} lacks the arrays {missing} of an {KIND}")
    try:
        return OfflineDataset(**{name: arrays[name] for name in _EXPECTED_NDIM}, metadata=meta.get("metadata"))
    except ValueError as err:
        raise ValueError(f"{os.fspath(path)!r} holds an invalid dataset: {err}") from err


def load_minari(path, env_id=None):
    """Import a Minari dataset already on disk (HDF5 storage) as an OfflineDataset.

    `path` is the `main_data.hdf5` file or a folder holding it (directly or under
    `data/`). Each episode group has T+1 observations and T actions, rewards and
    flags; dict observations (PointMaze) contribute their `observation` entry. An
    episode whose last step has neither flag set is marked truncated. `env_id`,
    `ref_min_score` and `ref_max_score` come from Minari's `metadata.json` beside
    the HDF5 file when present; pass `env_id` if it is not there.
    """
    try:
        import h5py
    except ImportError as err:
        raise ImportError('load_minari needs h5py: pip install "minipgd[minari]"') from err
    hdf5_path = _find_minari_file(path)
    minari_meta = _read_minari_metadata(os.path.dirname(hdf5_path))
    try:
        file = h5py.File(hdf5_path, "r")
    except OSError as err:
        raise ValueError(f"{hdf5_path!r} is not a readable HDF5 file ({err})") from err
    with file:
        names = sorted((name for name in file if name.startswith("episode_")), key=lambda n: int(n.split("_")[1]))
        if not names:
            raise ValueError(f"{hdf5_path!r} holds no episode_<i> groups; expected a Minari dataset")
        episodes = [_minari_episode(file[name], name) for name in names]
    columns = {key: np.concatenate([episode[key] for episode in episodes]) for key in _EXPECTED_NDIM}
    env_id = env_id or _minari_env_id(minari_meta)
    if env_id is None:
        raise ValueError(f"{hdf5_path!r}: no env_spec in Minari's metadata.json; pass env_id=... explicitly")
    metadata = {"env_id": env_id, "recipe": f"minari:{minari_meta.get('dataset_id', os.path.abspath(hdf5_path))}",
                "seed": None, "n_episodes": int(np.count_nonzero(columns["terminations"] | columns["truncations"])),
                "ref_min_return": minari_meta.get("ref_min_score"), "ref_max_return": minari_meta.get("ref_max_score")}
    return OfflineDataset(**columns, metadata=metadata)


def _find_minari_file(path):
    path = os.fspath(path)
    for candidate in (path, os.path.join(path, "main_data.hdf5"), os.path.join(path, "data", "main_data.hdf5")):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"no Minari data at {path!r}: expected main_data.hdf5 there or under data/")


def _read_minari_metadata(folder):
    path = os.path.join(folder, "metadata.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _minari_env_id(minari_meta):
    spec = minari_meta.get("env_spec")
    return json.loads(spec).get("id") if spec else None


def _minari_episode(group, name):
    """One Minari episode group -> the six OfflineDataset columns for its T steps."""
    observations = group["observations"]
    if not hasattr(observations, "shape"):  # a dict observation space is stored as a group
        if "observation" not in observations:
            raise ValueError(f"{name}: dict observations without an 'observation' entry (found {sorted(observations)})")
        observations = observations["observation"]
    observations, actions = np.asarray(observations), np.asarray(group["actions"])
    if observations.ndim != 2 or actions.ndim != 2 or len(actions) < 1 or len(observations) != len(actions) + 1:
        raise ValueError(f"{name}: expected observations (T+1, obs_dim) and actions (T, act_dim), "
                         f"with T >= 1, got {observations.shape} and {actions.shape}")
    terminations = np.asarray(group["terminations"]).astype(bool)
    truncations = np.asarray(group["truncations"]).astype(bool)
    truncations[-1] |= not terminations[-1]  # the file ends the episode: a time-out unless it terminated
    return {"observations": observations[:-1], "actions": actions, "rewards": np.asarray(group["rewards"]),
            "next_observations": observations[1:], "terminations": terminations, "truncations": truncations}
