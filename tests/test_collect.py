"""Dataset recipes and the `collect` command."""
import numpy as np
import pytest

from minipgd.__main__ import main
from minipgd.nn.checkpoint import load_checkpoint
from minipgd.recipes import behavior
from minipgd.recipes.behavior import train_behavior
from minipgd.recipes.collect import collect_dataset
from minipgd.envs.dataset import episode_returns, load_dataset
from minipgd.envs.mujoco import step_from_observation
from minipgd.envs.registry import make_env
from minipgd.rl.td3 import TD3, TD3Config


def test_random_recipe(tmp_path):
    data = collect_dataset("hopper-random", 300, seed=1, log=lambda line: None)
    assert len(data.rewards) == 300 and data.metadata["recipe"] == "random"
    assert data.terminations.any()  # a random hopper falls over
    assert np.all(np.abs(data.actions) <= 1.0)
    np.testing.assert_array_equal(data.observations[1:][~(data.terminations | data.truncations)[:-1]],
                                  data.next_observations[:-1][~(data.terminations | data.truncations)[:-1]])


def test_same_seed_same_dataset():
    a = collect_dataset("halfcheetah-random", 200, seed=4, log=lambda line: None)
    b = collect_dataset("halfcheetah-random", 200, seed=4, log=lambda line: None)
    for name, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[name], err_msg=name)


def test_policy_recipe_uses_the_committed_actor(tmp_path, rng):
    agent = TD3(17, 6, rng, TD3Config(hidden=(8, 8)))
    agent.save_actor(tmp_path / "halfcheetah-medium.npz")
    data = collect_dataset("halfcheetah-medium", 150, seed=0, policy_dir=tmp_path, log=lambda line: None)
    assert data.metadata["recipe"] == "medium" and len(episode_returns(data)) == 1


def test_missing_policy_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-behavior"):
        collect_dataset("walker2d-expert", 10, seed=0, policy_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="train-behavior"):
        collect_dataset("walker2d-medium-replay", 10, seed=0, policy_dir=tmp_path)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="positive"):
        collect_dataset("hopper-random", 0, seed=0)


def test_collect_command_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "d.npz"
    main(["collect", "hopper-random", "--transitions", "100", "--out", str(out)])
    assert "wrote" in capsys.readouterr().out
    assert len(load_dataset(out).rewards) == 100
    with pytest.raises(SystemExit, match="--force"):
        main(["collect", "hopper-random", "--transitions", "100", "--out", str(out)])
    main(["collect", "hopper-random", "--transitions", "50", "--out", str(out), "--force"])
    assert len(load_dataset(out).rewards) == 50


def test_train_behavior_then_collect_every_policy_recipe(tmp_path):
    """A tiny run: the files train-behavior writes are what collect reads."""
    lines = []
    train_behavior("hopper", total_steps=120, medium_return=-1e9, seed=0, out_dir=tmp_path, log=lines.append,
                   start_steps=40, eval_every=40, actor_hidden=(16, 8))
    assert {p.name for p in tmp_path.iterdir()} == {"hopper-medium.npz", "hopper-medium-replay.npz", "hopper-expert.npz"}
    assert load_checkpoint(tmp_path / "hopper-expert.npz")[1]["hidden"] == [16, 8]
    snapshots, meta = load_checkpoint(tmp_path / "hopper-medium-replay.npz")
    assert meta["steps"] == [40] and meta["snapshot_dtype"] == "float16"  # from the warm-up's end, rounded
    assert snapshots["40/layers.0.weight"].dtype == np.float16
    medium = collect_dataset("hopper-medium", 60, seed=0, policy_dir=tmp_path, log=lines.append)
    replay = collect_dataset("hopper-medium-replay", 10_000, seed=0, policy_dir=tmp_path, log=lines.append)
    expert = collect_dataset("hopper-expert", 60, seed=0, policy_dir=tmp_path, log=lines.append)
    assert len(medium.rewards) == len(expert.rewards) == 60
    assert len(replay.rewards) == 40  # the buffer up to the medium point (the first evaluation, step 40)
    assert "40 transitions, fewer than the 10000 asked for: the training stopped there" in "\n".join(lines)
    with pytest.raises(FileExistsError, match="--force"):
        train_behavior("hopper", 10, 0.0, 0, tmp_path, log=lines.append)


def test_the_expert_is_the_best_evaluations_actor(tmp_path, monkeypatch, rng):
    """TD3's evaluations swing: the expert file is the actor of the best one, not the last."""
    agent = TD3(11, 3, rng, TD3Config(hidden=(8, 8)))

    def fake_training(make_env, config, on_eval, log):
        for step, mean_return in [(5, 100.0), (10, 900.0), (15, 300.0)]:
            agent.actor.load_state_dict({name: np.full_like(value, step)  # each evaluation's actor told apart
                                         for name, value in agent.actor.state_dict().items()})
            on_eval(step, mean_return, agent, None)
        return agent, None

    monkeypatch.setattr(behavior, "train_td3_online", fake_training)
    train_behavior("hopper", 15, medium_return=1e9, seed=0, out_dir=tmp_path, log=lambda _: None)
    arrays, meta = load_checkpoint(tmp_path / "hopper-expert.npz")
    assert (meta["step"], meta["eval_return"]) == (10, 900.0)
    assert np.all(arrays["layers.0.weight"] == 10)
    assert not (tmp_path / "hopper-medium.npz").exists()  # no evaluation reached the medium return


# the share of a dataset's first 1,000 transitions whose observation is not clipped (measured on the committed
# policies' data: Hopper 86–100 %, walker2d-medium 57 %, walker2d-expert 46 %, walker2d-medium-replay 19 %: its
# warm-up acts at random, and Walker2d's joints spin faster than 10 rad/s), less a margin
CHECKABLE = {"hopper-medium": 0.8, "hopper-medium-replay": 0.8, "hopper-expert": 0.8, "walker2d-medium": 0.5,
             "walker2d-medium-replay": 0.15, "walker2d-expert": 0.35}


@pytest.mark.parametrize("name", CHECKABLE)
def test_hopper_and_walker2d_data_replay_in_mujoco(name):
    """Every transition of the committed policies' data is MuJoCo's own step, where the observation can say the
    state: Hopper and Walker2d clip qvel to ±10 in the observation, and from a clipped one the true velocity is
    lost."""
    dataset = collect_dataset(name, 1_000, seed=0, log=lambda _: None)
    env = make_env(dataset.metadata["env_id"])
    n_vel, checked = env.unwrapped.model.nv, 0
    for obs, action, reward, next_obs, terminated in zip(dataset.observations, dataset.actions, dataset.rewards,
                                                         dataset.next_observations, dataset.terminations):
        if np.any(np.abs(obs[-n_vel:]) >= 10.0):
            continue
        simulated, simulated_reward, simulated_terminated = step_from_observation(env, obs, action)
        np.testing.assert_allclose(simulated, next_obs, rtol=0, atol=1e-10)
        assert simulated_reward == pytest.approx(reward, rel=0, abs=1e-10) and simulated_terminated == terminated
        checked += 1
    assert checked >= CHECKABLE[name] * len(dataset.rewards)
