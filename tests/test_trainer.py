"""Training the diffusion model: normalization, checkpoint/resume, saving and loading."""
import numpy as np
import pytest

from minipgd.diffusion import DiffusionTrainConfig, TrajectoryDiffusion, TrajectoryNormalizer, train_diffusion
from minipgd.diffusion.trajectory import ACTION_CLIP
from minipgd.envs import PointWorld2D
from minipgd.experiments.toy2d import LAYOUT, behavior_trajectories
from minipgd.nn import UNetConfig

WORLD = PointWorld2D()
QUIET = {"log": lambda line: None}


def config(**overrides):
    base = dict(steps=30, batch_size=8, log_every=10, checkpoint_every=10, unet=UNetConfig(in_channels=6, features=16))
    return DiffusionTrainConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def data():
    return behavior_trajectories(WORLD, 64, np.random.default_rng(0))


def test_normalizer_round_trip_and_unit_statistics(data):
    norm = TrajectoryNormalizer.fit(data, LAYOUT)
    encoded = norm.encode(data)
    np.testing.assert_allclose(encoded[:, :5].mean(axis=(0, 2)), 0, atol=1e-9)
    np.testing.assert_allclose(encoded[:, :5].std(axis=(0, 2)), 1, rtol=1e-9)
    expected = data.copy()
    expected[:, LAYOUT.act] = np.clip(expected[:, LAYOUT.act], -ACTION_CLIP, ACTION_CLIP)
    np.testing.assert_allclose(norm.decode(encoded), expected, atol=1e-9)
    assert norm.std[LAYOUT.done] == 1.0  # the done channel never varies here


def test_decoded_actions_stay_in_bounds(data):
    norm = TrajectoryNormalizer.fit(data, LAYOUT)
    decoded = norm.decode(50 * np.ones((1, 6, 16)))
    assert np.all(np.abs(decoded[:, LAYOUT.act]) <= 1.0)


def test_actions_outside_the_unit_box_are_refused_when_squashed(data):
    scaled = data.copy()
    scaled[:, LAYOUT.act] *= 2.0 / np.abs(data[:, LAYOUT.act]).max()  # a Pendulum-like [-2, 2] box
    with pytest.raises(ValueError, match=r"actions reach \|a\| = 2, outside \[-1, 1\]: .* scale them into"):
        TrajectoryNormalizer.fit(scaled, LAYOUT)
    assert TrajectoryNormalizer.fit(scaled, LAYOUT, squash_actions=False).squash_actions is False


def test_resumed_training_equals_an_uninterrupted_run(tmp_path, data):
    straight = train_diffusion(data, LAYOUT, config(), **QUIET)
    path = tmp_path / "run.npz"

    def interrupt_at_step_20(line):
        if "step      20/30" in line:
            raise KeyboardInterrupt  # before the save of step 20: the checkpoint holds step 10

    with pytest.raises(KeyboardInterrupt):
        train_diffusion(data, LAYOUT, config(), checkpoint=path, log=interrupt_at_step_20)
    lines = []
    resumed = train_diffusion(data, LAYOUT, config(), checkpoint=path, log=lines.append)
    assert any("resumed from" in line and "step 10/30" in line for line in lines)
    for (name, a, _), (_, b, _) in zip(straight.unet.named_parameters(), resumed.unet.named_parameters()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_checkpoint_of_other_settings_or_data_is_refused(tmp_path, data):
    path = tmp_path / "run.npz"
    train_diffusion(data, LAYOUT, config(steps=10), checkpoint=path, **QUIET)
    with pytest.raises(ValueError, match="config.unet.features is 16 there, 24 now"):
        train_diffusion(data, LAYOUT, config(steps=10, unet=UNetConfig(in_channels=6, features=24)), checkpoint=path,
                        **QUIET)
    with pytest.raises(ValueError, match="config.steps is 10 there, 30 now"):
        train_diffusion(data, LAYOUT, config(), checkpoint=path, **QUIET)
    with pytest.raises(ValueError, match=r"dataset is '\w+' there, '\w+' now"):
        train_diffusion(data[:32], LAYOUT, config(steps=10), checkpoint=path, **QUIET)


def test_saved_model_samples_identically(tmp_path, data):
    model = train_diffusion(data, LAYOUT, config(steps=10), **QUIET)
    model.save(tmp_path / "model.npz")
    loaded = TrajectoryDiffusion.load(tmp_path / "model.npz")
    a = model.sample(3, np.random.default_rng(1), n_steps=4)
    b = loaded.sample(3, np.random.default_rng(1), n_steps=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 6, 16)


def test_bad_training_data_is_rejected(data):
    with pytest.raises(ValueError, match="7 channels"):
        train_diffusion(np.zeros((4, 7, 16)), LAYOUT, config(), **QUIET)
    bad = data.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_diffusion(bad, LAYOUT, config(), **QUIET)
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        config(steps=0)
