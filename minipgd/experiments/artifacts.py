"""Trained things an experiment keeps on disk: made once, reused by every later run of it."""
import os

from ..diffusion import DiffusionTrainConfig, TrajectoryDiffusion, TrajectoryLayout, train_diffusion
from ..diffusion.windows import trajectory_windows
from ..envs.dataset import load_dataset, save_dataset
from ..nn import UNetConfig
from ..recipes.collect import collect_dataset


def silent(_):
    pass


def cached_dataset(path, name, transitions, log=print):
    """The dataset `name` (minipgd's recipe, seed 0) at `path`, collected first if it is not there."""
    if not os.path.exists(path):
        log(f"collecting {name} ({transitions} transitions, seed 0)")
        save_dataset(path, collect_dataset(name, transitions, seed=0, log=silent))
    return load_dataset(path)


def diffusion_path(work, features, steps, seed):
    """Where a model of width F trained for `steps` with `seed` is kept (the name says how it was made)."""
    return os.path.join(work, f"diffusion-F{features}-{steps}steps-seed{seed}.npz")


def cached_diffusion(path, dataset, horizon, features, steps, seed, log=print):
    """A trajectory diffusion model of `dataset` at `path`, trained first (resumably) if it is not there."""
    if not os.path.exists(path):
        raw = trajectory_windows(dataset, horizon=horizon, log=log)
        layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
        unet = UNetConfig(in_channels=layout.channels, horizon=horizon, features=features)
        config = DiffusionTrainConfig(steps=steps, seed=seed, unet=unet, log_every=max(steps // 4, 1))
        run_state = path + ".run.npz"
        train_diffusion(raw, layout, config, checkpoint=run_state, log=log).save(path)
        os.remove(run_state)  # only needed until the model is written
    return TrajectoryDiffusion.load(path)
