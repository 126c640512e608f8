"""Training the behavior policies whose rollouts become the offline datasets (Sec. 5.1, D4RL).

`train_behavior` runs online TD3 in a MuJoCo env and writes, into `out_dir`:

* `<env>-medium.npz`: the actor at the first evaluation whose mean return reaches
  `medium_return` (D4RL: "roughly one third of expert return"),
* `<env>-medium-replay.npz`: the actor as it was at every evaluation (every 5,000
  steps) up to that point, plus the random warm-up length and exploration noise:
  everything that generated the replay buffer up to the medium point, from
  which `collect` re-rolls a buffer of the same size (D4RL's medium-replay is
  that buffer itself; ours has the same policies and noise, new episodes),
* `<env>-expert.npz`: the actor of the best evaluation, written when it is made
  (TD3's evaluations swing: on Hopper between 965 and 3145 over the last 100,000
  steps of a 300,000-step run, which ended at 1163, below its medium policy).

The actor is a 64-64 MLP by default (`actor_hidden`; the critics are 256-256), so
each file is a few hundred kilobytes at most; they are committed in `minipgd/recipes/policies/` and
collecting a dataset from them takes seconds instead of a training run.
"""
from pathlib import Path

from ..envs.registry import make_env, parse_dataset_name
from ..nn.checkpoint import check_output, prefixed, save_checkpoint
from ..rl.agent import NORM_PREFIX
from ..rl.online import OnlineConfig, train_td3_online
from ..rl.td3 import TD3Config

POLICY_DIR = Path(__file__).resolve().parent / "policies"
ACTOR_HIDDEN = (64, 64)
SNAPSHOT_DTYPE = "float16"  # the medium-replay actors' weights (see _save_snapshots)


def _save_snapshots(path, snapshots, agent, config, meta):
    """The actors that made the replay buffer, from the end of the random warm-up on (before it the actions
    were uniform, `collect` uses no actor), weights rounded to float16: the re-rolled buffer adds exploration
    noise of 0.1 to their actions, and Walker2d's 256-256 actor took 13.6 MB in float32 for 47 snapshots."""
    kept = {step: state for step, state in snapshots.items() if step >= config.start_steps}
    arrays = {name: value.astype(SNAPSHOT_DTYPE)
              for step, state in kept.items() for name, value in prefixed(state, f"{step}/").items()}
    arrays.update(prefixed(agent.state_norm.state_dict(), NORM_PREFIX))  # as in every actor file
    save_checkpoint(path, arrays, {
        "kind": "TD3ActorSnapshots", "steps": list(kept), "start_steps": config.start_steps,
        "exploration_noise": config.exploration_noise, "obs_dim": agent.obs_dim, "act_dim": agent.act_dim,
        "hidden": list(agent.actor_hidden), "snapshot_dtype": SNAPSHOT_DTYPE, **meta})


def train_behavior(env_name, total_steps, medium_return, seed, out_dir, force=False, log=print, command="",
                   start_steps=OnlineConfig.start_steps, eval_every=OnlineConfig.eval_every, actor_hidden=ACTOR_HIDDEN):
    """Online TD3 on `env_name` ("halfcheetah", "hopper", "walker2d"); see the module docstring."""
    spec = parse_dataset_name(f"{env_name}-medium")
    paths = {kind: Path(out_dir) / f"{env_name}-{kind}.npz" for kind in ("medium", "medium-replay", "expert")}
    for path in paths.values():
        check_output(path, force, what="behavior policy")
    config = OnlineConfig(total_steps=total_steps, start_steps=start_steps, eval_every=eval_every, seed=seed,
                          td3=TD3Config(actor_hidden=tuple(actor_hidden)))
    provenance = {"command": command, "seed": seed, "env_id": spec.env_id}
    snapshots, saved = {}, {}

    def on_eval(step, mean_return, agent, replay):
        if "medium" not in saved:
            snapshots[step] = agent.actor.state_dict()
            if mean_return >= medium_return:
                meta = {**provenance, "step": step, "eval_return": mean_return}
                agent.save_actor(paths["medium"], meta)
                _save_snapshots(paths["medium-replay"], snapshots, agent, config, meta)
                saved["medium"] = (step, mean_return)
                log(f"  saved {paths['medium']} and {paths['medium-replay']} (return {mean_return:.1f} at step {step})")
        if mean_return > saved.get("expert", (0, -float("inf")))[1]:
            agent.save_actor(paths["expert"], {**provenance, "step": step, "eval_return": mean_return})
            saved["expert"] = (step, mean_return)
        return False

    train_td3_online(lambda: make_env(spec.env_id), config, on_eval=on_eval, log=log)
    if "expert" in saved:
        step, mean_return = saved["expert"]
        log(f"  {paths['expert']}: the best evaluation's actor (return {mean_return:.1f} at step {step})")
    if "medium" not in saved:
        log(f"  no evaluation reached {medium_return}; no medium policy was written")
    return saved
