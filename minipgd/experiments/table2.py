"""Table 2 in miniature: TD3+BC and IQL on real, unguided (λ = 0) and policy-guided (λ = 1) data.

The sweep is a list of *units*, each writing one file atomically:

    data/NAME.npz                       the offline dataset (collected with minipgd's recipe, seed 0)
    models/NAME-seedS.npz               a trajectory diffusion model per dataset and seed (shared by
                                        the unguided and guided runs of that seed)
    runs/NAME/AGENT-SOURCE-seedS.json   one Algorithm 2 run (periodic generation) and its scores

A unit whose file exists is never redone, and an agent run that was interrupted
resumes from its Algorithm 2 checkpoint, so rerunning the same command continues
an interrupted sweep. `--jobs N` runs N units at once in separate processes, each
under minipgd's thread policy (automatic unless the user chose otherwise: each
worker sees the others as busy neighbours; `minipgd/nn/threads.py`).
"""
import json
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..diffusion import TrajectoryDiffusion
from ..envs.dataset import load_dataset
from ..envs.registry import make_env
from ..nn.checkpoint import write_text_atomically
from ..nn.threads import under_thread_policy
from ..nn.unet import HORIZON
from ..rl.synthetic import SOURCES, Algorithm2Config
from .artifacts import cached_dataset, cached_diffusion, silent
from .fidelity import unguided_dynamics_error
from .offline_run import ALGORITHMS, run_offline_agent
from .units import run_units

DATASETS = ("maze2d-umaze", "maze2d-medium", "halfcheetah-medium-replay", "halfcheetah-medium")


@dataclass(frozen=True)
class Table2Config:
    datasets: tuple = DATASETS
    seeds: tuple = (0, 1, 2, 3)  # the paper: 4 seeds (diffusion models and agents)
    agents: tuple = ("iql", "td3bc")
    sources: tuple = SOURCES  # real, unguided (λ = 0), guided
    transitions: int = 100_000  # per dataset (D4RL: 1M for MuJoCo, 1–4M for maze2d)
    diffusion_train_steps: int = 20_000
    features: int = 32  # U-Net width F (the paper: 1024)
    horizon: int = HORIZON
    algorithm2: Algorithm2Config = Algorithm2Config(
        guidance_scale=1.0, n_epochs=4, steps_per_epoch=2_500, n_trajectories=512, sampler_steps=64,
        eval_every=2_500, eval_episodes=10)  # every run's settings but its source (the paper: Algorithm2Config.paper())

    @classmethod
    def smoke(cls):
        """Everything once, tiny: one dataset, one seed, both agents, all sources, in seconds."""
        return cls(datasets=("maze2d-umaze",), seeds=(0,), transitions=1_000, diffusion_train_steps=10, features=16,
                   algorithm2=Algorithm2Config(guidance_scale=1.0, n_epochs=2, steps_per_epoch=10, n_trajectories=16,
                                               sampler_steps=3, eval_every=10, batch_size=32, eval_episodes=1))

    def __post_init__(self):
        if not set(self.agents) <= set(ALGORITHMS) or not set(self.sources) <= set(SOURCES):
            raise ValueError(f"agents must come from {ALGORITHMS} and sources from {SOURCES}")
        if not self.datasets or not self.seeds:
            raise ValueError("need at least one dataset and one seed")
        if not isinstance(self.algorithm2, Algorithm2Config):
            raise ValueError(f"algorithm2 must be an Algorithm2Config, got {type(self.algorithm2).__name__}")

    def agent_config(self, source):
        return replace(self.algorithm2, source=source, generation="periodic")


def dataset_path(work, name):
    return os.path.join(work, "data", f"{name}.npz")


def model_path(work, name, seed):
    return os.path.join(work, "models", f"{name}-seed{seed}.npz")


def run_path(work, name, agent, source, seed):
    return os.path.join(work, "runs", name, f"{agent}-{source}-seed{seed}.json")


def units(config):
    """(kind, args) of every unit: models first (agents on synthetic data need them), then agent runs."""
    models = [("diffusion", (name, seed)) for name in config.datasets for seed in config.seeds
              if set(config.sources) - {"real"}]
    runs = [("agent", (name, agent, source, seed)) for name in config.datasets for seed in config.seeds
            for agent in config.agents for source in config.sources]
    return models + runs


def output_path(work, kind, args):
    return model_path(work, *args) if kind == "diffusion" else run_path(work, *args)


def train_model_unit(work, config, name, seed):
    dataset = load_dataset(dataset_path(work, name))
    cached_diffusion(model_path(work, name, seed), dataset, config.horizon, config.features, config.diffusion_train_steps,
                     seed, log=silent)
    return f"diffusion model {name} seed {seed}"


def agent_unit(work, config, name, agent, source, seed):
    dataset = load_dataset(dataset_path(work, name))
    model = TrajectoryDiffusion.load(model_path(work, name, seed)) if source != "real" else None
    path = run_path(work, name, agent, source, seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    started, timings = time.perf_counter(), {}
    _, history = run_offline_agent(dataset, agent, config.agent_config(source), seed, model,
                                   checkpoint=path + ".run.npz", log=silent, timings=timings)
    result = {"dataset": name, "agent": agent, "source": source, "seed": seed, "final_score": history[-1][1],
              "history": history, "seconds": time.perf_counter() - started,
              "seconds_by_part": timings}  # of the last invocation, if the run was resumed
    write_text_atomically(path, json.dumps(result, indent=1))
    os.remove(path + ".run.npz")
    return f"{agent} on {source} {name} seed {seed}: {result['final_score']:.1f}"


@under_thread_policy  # in a worker process too: the workers share the cores
def run_unit(work, config, kind, args):
    """One unit (runs in a worker process): -> (description, seconds)."""
    started = time.perf_counter()
    describe = train_model_unit(work, config, *args) if kind == "diffusion" else agent_unit(work, config, *args)
    return describe, time.perf_counter() - started


def run_table2(work, config=Table2Config(), jobs=1, log=print):
    """Run every unit not yet done; returns the list of run results (all of them, old and new)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be positive, got {jobs}")  # before any work
    started = time.perf_counter()
    _claim(work, config)
    for name in config.datasets:  # a few seconds each, done first and in order
        cached_dataset(dataset_path(work, name), name, config.transitions, log)
    every = units(config)
    todo = [(kind, args) for kind, args in every if not os.path.exists(output_path(work, kind, args))]
    total = done = len(every)
    done -= len(todo)
    log(f"{done} of {total} units already done; running {len(todo)} with {jobs} job(s)")
    for phase in ("diffusion", "agent"):  # agents on synthetic data wait for every model
        pending = [(kind, args) for kind, args in todo if kind == phase]
        for describe, seconds in run_units(run_unit, [(work, config, kind, args) for kind, args in pending], jobs):
            done += 1
            log(f"[{done}/{total}] {describe} ({seconds:.0f} s, {(time.perf_counter() - started) / 60:.1f} min so far)")
    return load_results(work, config)


def _claim(work, config):
    """Record the settings in `work/config.json`; a sweep with other settings must not mix its runs in."""
    path, settings = os.path.join(work, "config.json"), json.loads(json.dumps(asdict(config)))
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if json.load(f) != settings:
                raise ValueError(f"{work} holds a sweep with other settings ({path}); use another --work-dir")
    else:
        write_text_atomically(path, json.dumps(settings, indent=1))


def diffusion_fidelity(work, config, n_trajectories=256):
    """{dataset: (dynamics MSE of unguided samples, that MSE relative to the data's mean state variance)}.

    The first seed's model, steps 1 .. H−1 (Sec. 5.3's metric), to judge the synthetic data's quality.
    """
    out = {}
    for name in config.datasets:
        path = model_path(work, name, config.seeds[0])
        if not os.path.exists(path):
            continue
        dataset, model = load_dataset(dataset_path(work, name)), TrajectoryDiffusion.load(path)
        errors = unguided_dynamics_error(model, make_env(dataset.metadata["env_id"]), n_trajectories,
                                         config.algorithm2.sampler_steps, seed=0)
        error = float(errors[:, 1:].mean())
        out[name] = (error, error / float(np.mean(dataset.observations.var(axis=0))))
    return out


def load_results(work, config):
    """Every finished run of the sweep, as dicts (missing runs are left out)."""
    results = []
    for path in (run_path(work, *args) for kind, args in units(config) if kind == "agent"):
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                results.append(json.load(f))
    return results
