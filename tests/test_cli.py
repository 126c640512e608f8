"""The command line from a dataset to a trained agent, at tiny sizes."""
import pytest

from minipgd.__main__ import main
from minipgd.diffusion import TrajectoryDiffusion


def test_dataset_to_guided_agent(tmp_path, capsys):
    data, model = str(tmp_path / "d.npz"), str(tmp_path / "m.npz")
    main(["collect", "halfcheetah-random", "--transitions", "200", "--out", data])
    main(["train-diffusion", data, "--out", model, "--steps", "20", "--features", "16"])
    assert TrajectoryDiffusion.load(model).layout.channels == 17 + 6 + 2
    main(["train-agent", data, "--diffusion", model, "--epochs", "2", "--steps-per-epoch", "4",
          "--trajectories", "4", "--sampler-steps", "3", "--eval-every", "4", "--eval-episodes", "1"])
    out = capsys.readouterr().out
    assert "(λ = 1.0)" in out and "final normalized score" in out
    main(["train-agent", data, "--algo", "iql", "--data", "real", "--epochs", "1", "--steps-per-epoch", "4",
          "--eval-every", "4", "--eval-episodes", "1"])
    assert "final normalized score" in capsys.readouterr().out


def test_synthetic_data_without_a_model_is_a_clear_error(tmp_path):
    data = str(tmp_path / "d.npz")
    main(["collect", "halfcheetah-random", "--transitions", "50", "--out", data])
    with pytest.raises(SystemExit, match="needs a trained diffusion model"):
        main(["train-agent", data, "--data", "guided", "--epochs", "1", "--steps-per-epoch", "1"])
