"""Algorithm 2 end to end at tiny sizes: real, unguided and guided synthetic data, both generation modes."""
import numpy as np
import pytest

from minipgd.diffusion import DiffusionTrainConfig, train_diffusion
from minipgd.diffusion.windows import windows_to_transitions
from minipgd.envs import PointWorld2D
from minipgd.experiments.toy2d import LAYOUT, behavior_trajectories
from minipgd.nn import UNetConfig
from minipgd.nn.checkpoint import load_checkpoint, save_checkpoint
from minipgd.rl.replay import as_float32
from minipgd.rl.state_norm import StateNormalizer
from minipgd.rl.synthetic import Algorithm2Config, generate_transitions, mixed_batch, train_agent
from minipgd.rl.td3 import TD3, TD3Config

WORLD = PointWorld2D()


@pytest.fixture(scope="module")
def setup():
    raw = behavior_trajectories(WORLD, 128, np.random.default_rng(0))
    config = DiffusionTrainConfig(steps=60, batch_size=32, log_every=60, unet=UNetConfig(in_channels=6, features=16))
    model = train_diffusion(raw, LAYOUT, config, log=lambda line: None)
    real = as_float32(windows_to_transitions(raw, LAYOUT))
    return model, real


def tiny(**overrides):
    base = dict(n_epochs=3, steps_per_epoch=6, n_trajectories=8, sampler_steps=4, batch_size=32,
                real_per_batch=4, eval_every=6)
    return Algorithm2Config(**{**base, **overrides})


def agent(rng, state_norm=None):
    return TD3(2, 2, rng, TD3Config(hidden=(16, 16), batch_size=32, alpha=2.5), state_norm=state_norm)


@pytest.mark.parametrize("source", ["real", "unguided", "guided"])
@pytest.mark.parametrize("generation", ["periodic", "continuous"])
def test_algorithm2_runs(setup, rng, source, generation):
    model, real = setup
    lines = []
    history = train_agent(agent(rng), real, tiny(source=source, generation=generation), rng,
                          model=model, evaluate=lambda: 0.0, log=lines.append)
    assert [step for step, _ in history] == [6, 12, 18]
    generated = [line for line in lines if line.startswith("epoch")]
    if source == "real":
        assert not generated
    else:
        assert len(generated) == 3
        assert "(λ = 0.0)" in generated[0]  # the first generation is unguided
        assert ("(λ = 1.0)" in generated[2]) == (source == "guided")
        # up to 15 transitions per trajectory (fewer after a sampled terminal state: this model is barely trained)
        in_use = [int(line.split("), ")[1].split()[0]) for line in generated]
        assert all(0 < n <= 8 * 15 * (1 + i * (generation == "continuous")) for i, n in enumerate(in_use))
        if generation == "continuous":  # keeps old generations
            assert in_use[0] < in_use[1] < in_use[2]


@pytest.mark.parametrize("source", ["unguided", "guided"])
def test_a_run_takes_its_unguided_generations_from_the_pool(setup, source):
    """An unguided run reads every generation from the pool, a guided run its first; the rest it samples."""
    model, real = setup
    pool = [{k: np.full_like(v[:40], 10 + g) for k, v in real.items()} for g in range(3)]  # marked: reward 10 + g
    trained, generations, lines, rewards = agent(np.random.default_rng(0)), [], [], []
    update = trained.update

    def recording_update(batch, rng):  # the synthetic part of every batch: its first 28 transitions
        rewards.append(set(np.unique(batch["rewards"][:28]).tolist()))
        update(batch, rng)

    trained.update = recording_update
    train_agent(trained, real, tiny(source=source), np.random.default_rng(0), model=model, evaluate=lambda: 0.0,
                log=lines.append, generations=generations, pool=pool)
    pooled = [g["pooled"] for g in generations]
    assert pooled == ([True] * 3 if source == "unguided" else [True, False, False])
    assert [g["lambda"] for g in generations] == ([0.0] * 3 if source == "unguided" else [0.0, 1.0, 1.0])
    per_epoch = [set().union(*rewards[6 * e:6 * (e + 1)]) for e in range(3)]  # 6 updates per epoch
    assert per_epoch[0] == {10.0} and "took the pooled" in lines[0]
    assert (per_epoch[1] == {11.0}) == (per_epoch[2] == {12.0}) == (source == "unguided")


def test_every_generation_is_inspected_without_changing_the_run(setup):
    """`inspect` sees each generation with its epoch and the policy of that moment; its result is recorded."""
    model, real = setup
    config, seen = tiny(source="guided"), []

    def inspect(epoch, transitions, policy):
        seen.append((epoch, len(transitions["rewards"]), policy.act_dim))
        return {"rows": len(transitions["rewards"])}

    runs = []
    for checks in (None, inspect):
        trained, generations = agent(np.random.default_rng(0)), []
        history = train_agent(trained, real, config, np.random.default_rng(0), model=model,
                              evaluate=lambda: float(trained.act(real["observations"][:1])[0, 0]),  # the actor's output
                              generations=generations, inspect=checks)
        runs.append((history, generations))
    (plain, _), (inspected, generations) = runs
    assert inspected == plain and len({score for _, score in plain}) == 3  # the same run, and the actor changes
    assert [e for e, _, _ in seen] == [0, 1, 2] and all(dim == 2 for _, _, dim in seen)
    assert [g["inspected"]["rows"] for g in generations] == [rows for _, rows, _ in seen]


def test_a_pool_too_small_for_the_run_is_refused_before_training(setup, rng):
    model, real = setup
    with pytest.raises(ValueError, match="takes 3 unguided generation.* which holds 1"):
        train_agent(agent(rng), real, tiny(source="unguided"), rng, model=model, pool=[real])


def test_batches_mix_synthetic_and_real(setup, rng):
    _, real = setup
    synthetic = {k: np.full_like(v, 7) for k, v in real.items()}
    batch = mixed_batch(synthetic, real, tiny(), rng)
    assert len(batch["rewards"]) == 32
    assert np.count_nonzero(batch["rewards"] == 7) >= 28  # 28 synthetic + 4 real


def test_synthetic_sources_need_a_model(setup, rng):
    _, real = setup
    with pytest.raises(ValueError, match="needs a trained diffusion model"):
        train_agent(agent(rng), real, tiny(), rng)
    with pytest.raises(ValueError, match="source must be one of"):
        tiny(source="imagined")
    with pytest.raises(ValueError, match="λ must be >= 0"):
        tiny(guidance_scale=-1.0)


def test_an_interrupted_run_resumes_exactly(setup, tmp_path):
    model, real = setup
    config = tiny(source="guided", generation="continuous")

    def run(evaluate, checkpoint=None, log=lambda line: None):
        trained = agent(np.random.default_rng(5))
        history = train_agent(trained, real, config, np.random.default_rng(5), model=model, evaluate=evaluate,
                              log=log, checkpoint=checkpoint)
        return trained, history

    straight, _ = run(lambda: 0.0)
    calls, path = [], tmp_path / "run.npz"

    def evaluate_then_crash():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed during the third evaluation: the last checkpoint is step 12
        return 0.0

    with pytest.raises(KeyboardInterrupt):
        run(evaluate_then_crash, path)
    lines = []
    resumed, history = run(lambda: 0.0, path, lines.append)
    assert "resumed from" in lines[0] and "step 12" in lines[0]
    assert [step for step, _ in history] == [6, 12, 18]
    for a, b in zip(straight.actor.parameter_buffers(), resumed.actor.parameter_buffers()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.critics, resumed.critics):
        np.testing.assert_array_equal(a.parameter_buffers()[0], b.parameter_buffers()[0])


def test_a_resumed_run_counts_the_seconds_of_its_earlier_invocations(setup, tmp_path):
    model, real = setup
    config, path = tiny(source="guided"), tmp_path / "run.npz"
    calls = []

    def evaluate_then_crash():
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the last checkpoint is step 6's
        return 0.0

    with pytest.raises(KeyboardInterrupt):
        train_agent(agent(np.random.default_rng(5)), real, config, np.random.default_rng(5), model=model,
                    evaluate=evaluate_then_crash, log=lambda line: None, checkpoint=path)
    arrays, meta = load_checkpoint(path, kind="Algorithm2Run")
    assert meta["seconds"]["updates"] > 0 and meta["seconds"]["total"] >= meta["seconds"]["updates"]
    earlier = {"generation": 100.0, "guidance": 10.0, "updates": 200.0, "evaluation": 300.0, "total": 1000.0}
    save_checkpoint(path, arrays, {**meta, "seconds": earlier})  # as if the first invocation had taken that long
    timings = {}
    train_agent(agent(np.random.default_rng(5)), real, config, np.random.default_rng(5), model=model,
                evaluate=lambda: 0.0, log=lambda line: None, checkpoint=path, timings=timings)
    for part, seconds in earlier.items():  # this invocation (well under a minute) added to the earlier ones
        assert seconds < timings[part] < seconds + 60 or (part == "guidance" and timings[part] == seconds)
    assert load_checkpoint(path, kind="Algorithm2Run")[1]["seconds"] == timings  # the last checkpoint has them


def test_resuming_restores_the_state_normalization(setup, tmp_path):
    """The run checkpoint holds the agent's state normalization: resuming restores it instead of refitting it."""
    _, real = setup
    path, config = tmp_path / "run.npz", tiny(source="real", n_epochs=1)
    fitted = StateNormalizer.fit(real["observations"])
    for state_norm in (fitted, None):  # the second agent starts with the identity
        resumed = agent(np.random.default_rng(0), state_norm)
        train_agent(resumed, real, config, np.random.default_rng(0), evaluate=lambda: 0.0, log=lambda line: None,
                    checkpoint=path)
    np.testing.assert_array_equal(resumed.state_norm.shift, fitted.shift)
    np.testing.assert_array_equal(resumed.state_norm.scale, fitted.scale)


def test_a_checkpoint_made_from_other_settings_data_or_provenance_is_refused(setup, tmp_path):
    model, real = setup
    path = tmp_path / "run.npz"

    def run(config, data=real, provenance=None):
        return train_agent(agent(np.random.default_rng(0)), data, config, np.random.default_rng(0), model=model,
                           evaluate=lambda: 0.0, log=lambda line: None, checkpoint=path, provenance=provenance)

    run(tiny(source="real", n_epochs=1), provenance={"seed": 0})
    with pytest.raises(ValueError, match="config.n_epochs is 1 there, 3 now"):
        run(tiny(source="real"), provenance={"seed": 0})
    with pytest.raises(ValueError, match=r"dataset is '\w+' there, '\w+' now"):
        run(tiny(source="real", n_epochs=1), {k: v[:100] for k, v in real.items()}, provenance={"seed": 0})
    with pytest.raises(ValueError, match=r"seed is 0 there, 1 now\); use another checkpoint path, or pass --force"):
        run(tiny(source="real", n_epochs=1), provenance={"seed": 1})
    assert run(tiny(source="real", n_epochs=1), provenance={"seed": 0}) == [(6, 0.0)]  # the same run resumes


def test_the_last_step_is_always_evaluated(setup, rng):
    _, real = setup
    for eval_every, steps in ((4, [4, 8, 10]), (100, [10]), (5, [5, 10])):
        config = tiny(source="real", n_epochs=2, steps_per_epoch=5, eval_every=eval_every)
        history = train_agent(agent(rng), real, config, rng, evaluate=lambda: 0.0, log=lambda line: None)
        assert [step for step, _ in history] == steps


def test_a_model_of_other_dimensions_is_refused_before_sampling(setup, rng):
    model, real = setup
    wider = dict(real, observations=np.zeros((len(real["rewards"]), 17), np.float32))
    with pytest.raises(ValueError, match="the diffusion model has 2 observation channels, the dataset has 17"):
        train_agent(agent(rng), wider, tiny(), rng, model=model, evaluate=lambda: 0.0)


@pytest.mark.parametrize("field", ["eval_every", "eval_episodes", "n_epochs", "steps_per_epoch", "n_trajectories",
                                   "sampler_steps"])
def test_every_count_must_be_at_least_one(field):
    with pytest.raises(ValueError, match=f"{field} must be >= 1, got 0"):
        tiny(**{field: 0})


def test_every_run_says_where_its_time_went(setup, rng):
    model, real = setup
    lines, timings = [], {}
    train_agent(agent(rng), real, tiny(source="guided"), rng, model=model, evaluate=lambda: 0.0,
                log=lines.append, timings=timings)
    assert lines[-1].startswith("time: ") and all(
        word in lines[-1] for word in ("generation", "guidance", "agent updates", "evaluation", "other"))
    assert set(timings) == {"total", "generation", "guidance", "updates", "evaluation"}
    assert all(seconds >= 0 for seconds in timings.values())
    assert timings["guidance"] > 0  # epochs 1 and 2 are guided
    assert timings["guidance"] <= timings["generation"]
    assert timings["generation"] + timings["updates"] + timings["evaluation"] <= timings["total"]


def test_threads_side_by_side_in_one_part_count_its_wall_time_once(monkeypatch):
    """The sampler's copies guide their chunks on two threads at once: guidance's seconds are wall time."""
    from minipgd.rl import synthetic

    clock = iter([0.0, 10.0, 14.0, 20.0, 21.0, 30.0])  # at the start, when the first thread comes in and when
    # the last goes out, and when the seconds so far are read
    monkeypatch.setattr(synthetic.time, "perf_counter", lambda: next(clock))
    watch = synthetic._Stopwatch({})
    first, second = watch("guidance"), watch("guidance")
    first.__enter__()  # 10 s
    second.__enter__()  # while the first is inside: no reading
    first.__exit__(None, None, None)  # the second still inside: no reading
    second.__exit__(None, None, None)  # 14 s
    with watch("guidance"):  # alone: 20 s to 21 s
        pass
    assert watch.seconds["guidance"] == 5.0
    assert watch.so_far() == {"generation": 0.0, "guidance": 5.0, "updates": 0.0, "evaluation": 0.0, "total": 30.0}


def test_a_generation_without_transitions_is_a_clear_error(setup, rng):
    model, _ = setup

    class StartsTerminal:  # every trajectory begins at a terminal state
        layout = model.layout

        def sample(self, n, rng, **_):
            raw = model.sample(n, rng, n_steps=2)
            raw[:, model.layout.done, 0] = 1.0
            return raw

    with pytest.raises(ValueError, match="none of the 3 sampled trajectories yields a transition"):
        generate_transitions(StartsTerminal(), None, 0.0, 3, rng, 2)
