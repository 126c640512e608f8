"""The command line from a dataset to a trained agent, at tiny sizes, and what it refuses before any work."""
import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import minipgd.diffusion.trainer
from minipgd.__main__ import build_parser, main
from minipgd.diffusion import TrajectoryDiffusion
from minipgd.envs.dataset import load_dataset
from minipgd.nn import UNetConfig

ROOT = Path(__file__).resolve().parents[1]
AGENT = ["--data", "real", "--epochs", "1", "--steps-per-epoch", "3", "--eval-episodes", "1"]


def test_dataset_to_guided_agent(tmp_path, capsys):
    data, model = str(tmp_path / "d.npz"), str(tmp_path / "m.npz")
    main(["collect", "halfcheetah-random", "--transitions", "200", "--out", data])
    main(["train-diffusion", data, "--out", model, "--steps", "20", "--features", "16"])
    assert TrajectoryDiffusion.load(model).layout.channels == 17 + 6 + 2
    main(["train-agent", data, "--diffusion", model, "--epochs", "2", "--steps-per-epoch", "4",
          "--trajectories", "4", "--sampler-steps", "3", "--eval-every", "4", "--eval-episodes", "1"])
    out = capsys.readouterr().out
    assert "(λ = 1.0)" in out and "final normalized score" in out
    time_line = out.splitlines()[-2]  # where the time went, before the score
    assert time_line.startswith("time: ") and "generation" in time_line and "guidance" in time_line
    main(["train-agent", data, "--algo", "iql", "--data", "real", "--epochs", "1", "--steps-per-epoch", "4",
          "--eval-every", "4", "--eval-episodes", "1"])
    assert "final normalized score" in capsys.readouterr().out


def test_train_diffusion_takes_the_block_type_and_learning_rate(tmp_path, files, capsys):
    _, maze, _, _ = files
    model = str(tmp_path / "residual.npz")
    main(["train-diffusion", maze, "--out", model, "--steps", "3", "--features", "16", "--activation", "mish",
          "--residual", "--lr", "1e-3"])
    cfg = TrajectoryDiffusion.load(model).unet.cfg
    assert (cfg.activation, cfg.residual) == ("mish", True)
    main(["train-diffusion", maze, "--out", model, "--steps", "3", "--features", "16", "--activation", "relu",
          "--no-residual", "--force"])
    cfg = TrajectoryDiffusion.load(model).unet.cfg
    assert (cfg.activation, cfg.residual) == ("relu", False)  # the authors' blocks
    main(["train-diffusion", maze, "--out", model, "--steps", "3", "--force"])
    assert TrajectoryDiffusion.load(model).unet.cfg == UNetConfig.cpu_default(in_channels=4 + 2 + 2)
    assert "lr must be positive" in refused(["train-diffusion", maze, "--out", model, "--lr", "0"], capsys)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two tiny datasets (maze2d: 4 observations, halfcheetah: 17) and a maze2d model."""
    root = tmp_path_factory.mktemp("cli")
    maze, cheetah, model = str(root / "maze.npz"), str(root / "cheetah.npz"), str(root / "maze-model.npz")
    main(["collect", "maze2d-umaze", "--transitions", "300", "--out", maze])
    main(["collect", "halfcheetah-random", "--transitions", "300", "--out", cheetah])
    main(["train-diffusion", maze, "--out", model, "--steps", "5", "--features", "16"])
    return root, maze, cheetah, model


def refused(argv, capsys=None):
    """The message of a command that stops with an error."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code not in (0, None)
    return stop.value.code if isinstance(stop.value.code, str) else capsys.readouterr().err


def test_an_output_that_is_an_input_is_refused_even_with_force(files):
    root, maze, cheetah, model = files
    before = Path(maze).read_bytes()
    for argv in (["train-diffusion", maze, "--out", maze, "--force"],
                 ["train-diffusion", maze, "--out", str(root / "new.npz"), "--checkpoint", maze],
                 ["train-diffusion", maze, "--out", str(root / "new.npz"), "--checkpoint", str(root / "new.npz")],
                 ["train-agent", maze, "--checkpoint", maze, "--force", *AGENT],
                 ["train-agent", maze, "--diffusion", model, "--checkpoint", model],
                 ["collect", "halfcheetah-medium", "--policy-dir", str(root),
                  "--out", str(root / "halfcheetah-medium.npz")]):
        assert "is also an input of this command" in refused(argv)
    assert Path(maze).read_bytes() == before and not (root / "new.npz").exists()


def test_an_existing_output_is_replaced_only_with_force(files, tmp_path, capsys):
    root, maze, cheetah, model = files
    message = refused(["train-diffusion", maze, "--out", model, "--steps", "5", "--features", "16"])
    assert message == f"error: --out '{model}' already exists; pass --force to overwrite it"
    (tmp_path / "diffusion_fidelity.md").write_text("kept")
    message = refused(["experiment", "fidelity", "--smoke", "--results", str(tmp_path), "--figures", str(tmp_path),
                       "--work-dir", str(tmp_path)])
    assert "results file" in message and "already exists; pass --force" in message
    assert (tmp_path / "diffusion_fidelity.md").read_text() == "kept" and not (tmp_path / "config.json").exists()
    main(["train-diffusion", maze, "--out", str(tmp_path / "m.npz"), "--steps", "5", "--features", "16"])
    main(["train-diffusion", maze, "--out", str(tmp_path / "m.npz"), "--steps", "5", "--features", "16", "--force"])
    assert "--force: removed the earlier run state" in capsys.readouterr().out  # starts over, not resumed


def test_an_output_folder_that_takes_no_files_is_named_before_any_work(files, capsys):
    root, maze, cheetah, model = files
    message = refused(["train-diffusion", maze, "--out", f"{maze}/model.npz"])
    assert message == f"error: cannot write '{maze}/model.npz': '{maze}' is a file, not a folder"
    if os.path.isdir("/proc"):  # a folder that takes no files, also for root
        message = refused(["collect", "maze2d-umaze", "--out", "/proc/minipgd/d.npz"])
        assert message.startswith("error: cannot write '/proc/minipgd/d.npz': the folder '/proc' takes no new files")
    assert capsys.readouterr().out == ""  # nothing collected or trained


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_named_before_any_work(files, tmp_path):
    root, maze, cheetah, model = files
    (tmp_path / "ro").mkdir(mode=0o500)
    assert "takes no new files" in refused(["train-diffusion", maze, "--out", str(tmp_path / "ro" / "m.npz")])


def test_train_agent_always_scores_the_last_step(files, capsys):
    _, _, cheetah, _ = files
    main(["train-agent", cheetah, *AGENT])  # 3 steps, fewer than --eval-every's 5000
    assert capsys.readouterr().out.splitlines()[-1].startswith("final normalized score (step 3): ")
    main(["train-agent", cheetah, *AGENT, "--epochs", "2", "--eval-every", "4"])  # 6 steps, not a multiple of 4
    out = capsys.readouterr().out
    assert "step        4  evaluation" in out and "step        6  evaluation" in out
    assert out.splitlines()[-1].startswith("final normalized score (step 6): ")


@pytest.mark.parametrize("argv, flag", [
    (["train-agent", "x.npz", "--eval-every", "0"], "--eval-every"),
    (["train-agent", "x.npz", "--eval-every", "-5"], "--eval-every"),
    (["train-agent", "x.npz", "--eval-episodes", "0"], "--eval-episodes"),
    (["train-agent", "x.npz", "--epochs", "0"], "--epochs"),
    (["train-agent", "x.npz", "--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["train-agent", "x.npz", "--trajectories", "0"], "--trajectories"),
    (["train-agent", "x.npz", "--sampler-steps", "0"], "--sampler-steps"),
    (["train-agent", "x.npz", "--guidance-scale", "-1"], "--guidance-scale"),
    (["train-agent", "x.npz", "--seed", "-1"], "--seed"),
    (["train-diffusion", "x.npz", "--out", "m.npz", "--steps", "0"], "--steps"),
    (["train-diffusion", "x.npz", "--out", "m.npz", "--batch-size", "0"], "--batch-size"),
    (["train-diffusion", "x.npz", "--out", "m.npz", "--features", "12"], "--features"),
    (["train-diffusion", "x.npz", "--out", "m.npz", "--horizon", "2"], "--horizon"),
    (["collect", "maze2d-umaze", "--transitions", "0"], "--transitions"),
    (["train-behavior", "--env", "hopper", "--medium-return", "1", "--steps", "0"], "--steps"),
    (["train-behavior", "--env", "hopper", "--medium-return", "1", "--actor-hidden", "256,x"], "--actor-hidden"),
    (["train-behavior", "--env", "hopper", "--medium-return", "1", "--actor-hidden", "0"], "--actor-hidden"),
    (["train-behavior", "--env", "hopper", "--medium-return", "1", "--start-steps", "-1"], "--start-steps"),
    (["experiment", "table2", "--jobs", "0"], "--jobs"),
])
def test_a_bad_argument_is_one_line_naming_its_flag_before_any_work(argv, flag, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)  # x.npz does not exist: the argument is refused before anything is read
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and f"argument {flag}: " in err


def test_a_checkpoint_is_resumed_only_by_the_run_that_made_it(files, capsys):
    root, maze, cheetah, _ = files
    run = ["train-agent", cheetah, *AGENT, "--checkpoint", str(root / "run.npz")]
    main(run)
    main(run)
    assert "resumed from" in capsys.readouterr().out
    for change, field in ((["--seed", "1"], "seed is 0 there, 1 now"),
                          (["--eval-episodes", "2"], "config.eval_episodes is 1 there, 2 now"),
                          (["--algo", "iql"], "algorithm is 'td3bc' there, 'iql' now")):
        message = refused(run + change)
        assert field in message and "use another checkpoint path, or pass --force to start over" in message
    message = refused(["train-agent", maze, *run[2:]])  # a checkpoint written for other data
    assert "dataset is '" in message and "env_id is 'HalfCheetah-v5' there, 'PointMaze_UMaze-v3' now" in message
    main(run + ["--seed", "1", "--force"])
    assert "resumed from" not in capsys.readouterr().out


def test_the_diffusion_run_state_is_refused_for_other_data(files):
    root, maze, cheetah, model = files
    message = refused(["train-diffusion", cheetah, "--out", str(root / "other.npz"), "--steps", "5", "--features",
                       "16", "--checkpoint", f"{model}.run.npz"])
    assert "config.unet.in_channels is 8 there, 25 now" in message and "dataset is '" in message


def test_ctrl_c_says_where_the_run_stopped_and_how_to_resume(files, tmp_path):
    """A real SIGINT once the first evaluation was printed: one line, exit status 130, no traceback."""
    _, _, cheetah, _ = files
    argv = ["train-agent", cheetah, "--data", "real", "--steps-per-epoch", "100000", "--eval-every", "10",
            "--eval-episodes", "1", "--checkpoint", "run.npz"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-m", "minipgd", *argv], cwd=tmp_path, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in child.stdout:
        if "evaluation" in line:  # printed after the run state was saved
            break
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and len(err.splitlines()) == 1, err
    assert err.startswith("interrupted; run.npz holds the run at step ") and " of 400000: resume it with " in err
    assert f"`python -m minipgd {' '.join(argv)}`" in err


def test_ctrl_c_before_the_first_save_says_so(files, tmp_path, monkeypatch, capsys):
    _, maze, _, _ = files

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(minipgd.diffusion.trainer, "edm_loss", interrupt)
    out = tmp_path / "m.npz"
    with pytest.raises(SystemExit) as stop:
        main(["train-diffusion", maze, "--out", str(out), "--steps", "50", "--features", "16"])
    err = capsys.readouterr().err
    assert stop.value.code == 130 and err == (
        f"interrupted before the first save to {out}.run.npz (every 2000 steps); nothing to resume: rerun "
        f"`python -m minipgd train-diffusion {maze} --out {out} --steps 50 --features 16` to start again\n")


def test_a_model_of_other_dimensions_is_refused_before_sampling(files, capsys):
    _, _, cheetah, model = files
    message = refused(["train-agent", cheetah, "--diffusion", model, "--epochs", "1", "--steps-per-epoch", "2"])
    assert message == ("error: the diffusion model has 4 observation channels, the dataset has 17; it has 2 action "
                       "channels, the dataset has 6: use a model trained on this dataset")
    assert "generated" not in capsys.readouterr().out


def test_synthetic_data_without_a_model_names_the_flag(files):
    _, maze, _, model = files
    for data in ("guided", "unguided"):
        message = refused(["train-agent", maze, "--data", data, "--epochs", "1", "--steps-per-epoch", "1"])
        assert message.startswith(f"error: --data {data} needs a trained diffusion model: pass --diffusion MODEL")
    assert "--diffusion is used only with" in refused(["train-agent", maze, "--data", "real", "--diffusion", model])


def test_a_wrong_or_missing_file_names_the_kind_expected(files, tmp_path):
    _, maze, _, _ = files
    text = tmp_path / "notes.npz"
    text.write_text("not a dataset\n")
    message = refused(["train-diffusion", str(text), "--out", str(tmp_path / "m.npz")])
    assert message == f"error: dataset '{text}' is truncated or not an .npz file written by minipgd (not a zip archive)"
    message = refused(["train-agent", maze, "--diffusion", str(text)])
    assert message.startswith(f"error: diffusion model '{text}' is truncated") and "pickle" not in message
    message = refused(["train-agent", maze, "--diffusion", maze])
    assert message == f"error: '{maze}' holds a 'OfflineDataset' file, not the diffusion model expected " \
                      "('TrajectoryDiffusion')"
    missing = tmp_path / "missing.npz"
    assert refused(["train-agent", str(missing), "--data", "real"]) == f"error: dataset '{missing}' does not exist"


def test_medium_replay_gives_the_number_of_transitions_asked_for(tmp_path, capsys):
    out = tmp_path / "replay.npz"
    main(["collect", "halfcheetah-medium-replay", "--transitions", "300", "--out", str(out)])
    assert "re-rolls the first 300 of the 90000 transitions" in capsys.readouterr().out
    data = load_dataset(out)
    assert len(data.rewards) == 300 and data.truncations[-1]


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_shows_every_default(name, capsys):
    with pytest.raises(SystemExit) as stop:
        main([name, "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for action in _subcommands()[name]._actions:
        if not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
            continue  # positional, flag, or none: the help text says what happens
        assert f"(default: {action.default})" in text, action.option_strings
    for action in _subcommands()[name]._actions:
        if action.default is None and action.option_strings and not action.required:
            assert "default" in action.help, action.option_strings  # e.g. "(default NAME.npz)"
