"""Training the behavior policies whose rollouts become the offline datasets (Sec. 5.1, D4RL).

`train_behavior` runs online TD3 in a MuJoCo env and writes, into `out_dir`:

* `<env>-medium.npz`: the actor at the first evaluation whose mean return reaches
  `medium_return` (D4RL: "roughly one third of expert return"),
* `<env>-medium-replay.npz`: the replay buffer up to that point, as an offline dataset,
* `<env>-expert.npz`: the actor at the end of training.

The actor files are small and committed in `minipgd/envs/policies/`, so that
collecting a dataset from them takes seconds instead of a training run.
"""
from pathlib import Path

import numpy as np

from ..rl.online import OnlineConfig, train_td3_online
from .dataset import OfflineDataset, save_dataset
from .registry import make_env, parse_dataset_name

POLICY_DIR = Path(__file__).resolve().parent / "policies"


def _replay_dataset(replay, spec, seed):
    data = replay.contents()
    data["truncations"][-1] |= not data["terminations"][-1]  # close the episode in progress
    n_episodes = int(np.count_nonzero(data["terminations"] | data["truncations"]))
    meta = {"env_id": spec.env_id, "recipe": "medium-replay", "seed": seed, "n_episodes": n_episodes,
            "ref_min_return": spec.ref_min_return, "ref_max_return": spec.ref_max_return}
    return OfflineDataset(**data, metadata=meta)


def train_behavior(env_name, total_steps, medium_return, seed, out_dir, force=False, log=print, command=""):
    """Online TD3 on `env_name` ("halfcheetah", "hopper", "walker2d"); see the module docstring."""
    spec = parse_dataset_name(f"{env_name}-medium")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"{env_name}-{kind}.npz" for kind in ("medium", "medium-replay", "expert")}
    for path in paths.values():
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    provenance = {"command": command, "seed": seed, "env_id": spec.env_id}
    saved = {}

    def on_eval(step, mean_return, agent, replay):
        if "medium" not in saved and mean_return >= medium_return:
            agent.save_actor(paths["medium"], {**provenance, "step": step, "eval_return": mean_return})
            save_dataset(paths["medium-replay"], _replay_dataset(replay, spec, seed), force=True)
            saved["medium"] = (step, mean_return)
            log(f"  saved {paths['medium']} and {paths['medium-replay']} (return {mean_return:.1f} at step {step})")
        saved["last"] = (step, mean_return)
        return False

    config = OnlineConfig(total_steps=total_steps, seed=seed)
    agent, _ = train_td3_online(lambda: make_env(spec.env_id), config, on_eval=on_eval, log=log)
    step, mean_return = saved.get("last", (total_steps, float("nan")))
    agent.save_actor(paths["expert"], {**provenance, "step": step, "eval_return": mean_return})
    log(f"  saved {paths['expert']} (return {mean_return:.1f} at step {step})")
    if "medium" not in saved:
        log(f"  no evaluation reached {medium_return}; no medium policy was written")
    return saved
