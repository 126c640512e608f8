"""Table 2: TD3+BC and IQL on real, unguided (λ = 0), policy-guided (λ = 1) and automatic-λ data.

The sweep is a list of units, each leaving one small result file,
`results/table2/<preset>/UNIT.json` (`units.py`: written when the unit finishes,
with the versions and machine that made it; a rerun skips units whose file is
there, so a sweep continues on another machine that has only the repository, and
`--unit ID` runs one unit, for a cluster's own scheduler). Two kinds of unit:

    model-NAME-seedS              a trajectory diffusion model of dataset NAME (its training
                                  time and the dynamics error of its unguided samples)
    AGENT-SOURCE-NAME-seedS       one Algorithm 2 run (periodic generation): final score,
                                  learning curve, where its time went, the λ of every generation

The bulky things stay in the work folder and are remade where they are missing:
`data/NAME.npz` (minipgd's recipe, seed 0, seconds), `models/NAME-seedS.npz`
(trained before the agent units that need it, if its file is not there, even
when the model unit's result is: a sweep continued on another machine retrains
only the models its unfinished units use) and the Algorithm 2 run state of an
unfinished agent unit (resumed by a rerun). `--jobs N` runs N units at once in
separate processes, each under minipgd's thread policy.

Presets (`PRESETS`): "miniature" (the sizes of results/table2.md), "paper-scale"
(Sec. 5.2's data scale: 2^14 trajectories per generation) and "smoke".
"""
import json
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..envs.dataset import load_dataset
from ..envs.registry import make_env
from ..nn.checkpoint import write_text_atomically
from ..nn.threads import under_thread_policy
from ..nn.unet import HORIZON
from ..rl.synthetic import AUTO, SOURCES, Algorithm2Config
from .artifacts import cached_dataset, cached_diffusion, silent, training_record
from .fidelity import unguided_dynamics_error
from .offline_run import ALGORITHMS, run_offline_agent
from .units import load_results, pending_units, run_units, write_result

DATASETS = ("maze2d-umaze", "maze2d-medium", "halfcheetah-medium-replay", "halfcheetah-medium")
TABLE_SOURCES = SOURCES + (AUTO,)  # "auto": guided, with λ chosen at every generation (Sec. 5.3's future work)
FIDELITY_TRAJECTORIES = 256  # unguided samples a model unit scores


@dataclass(frozen=True)
class Table2Config:
    datasets: tuple = DATASETS
    seeds: tuple = (0, 1, 2, 3)  # the paper: 4 seeds (diffusion models and agents)
    agents: tuple = ("iql", "td3bc")
    sources: tuple = SOURCES  # real, unguided (λ = 0), guided (λ = 1), and optionally "auto"
    transitions: int = 100_000  # per dataset (D4RL: 1M for MuJoCo, 1–4M for maze2d)
    diffusion_train_steps: int = 20_000
    features: int = 32  # U-Net width F (the paper: 1024)
    activation: str = "relu"  # the authors' blocks; "mish" with residual=True: Diffuser's (the CPU default)
    residual: bool = False
    horizon: int = HORIZON
    algorithm2: Algorithm2Config = Algorithm2Config(
        guidance_scale=1.0, n_epochs=4, steps_per_epoch=2_500, n_trajectories=512, sampler_steps=64,
        eval_every=2_500, eval_episodes=10)  # every run's settings but its source (the paper: Algorithm2Config.paper())

    @classmethod
    def smoke(cls):
        """Everything once, tiny: one dataset, one seed, both agents, all sources, in seconds."""
        return cls(datasets=("maze2d-umaze",), seeds=(0,), transitions=1_000, diffusion_train_steps=10, features=16,
                   sources=TABLE_SOURCES,
                   algorithm2=Algorithm2Config(guidance_scale=1.0, n_epochs=2, steps_per_epoch=10, n_trajectories=16,
                                               sampler_steps=3, eval_every=10, batch_size=32, eval_episodes=1))

    @classmethod
    def paper_scale(cls):
        """Sec. 5.2's generation size (2^14 trajectories of H = 16 per generation, the first unguided), the
        fidelity frontier's CPU model trained to its chosen length, 4 epochs of 25,000 updates, on the datasets
        where the paper's effect is largest, with a fourth source: automatic λ."""
        return cls(datasets=("maze2d-umaze", "maze2d-medium", "halfcheetah-random", "halfcheetah-medium-replay",
                             "hopper-medium-replay"),
                   sources=TABLE_SOURCES, diffusion_train_steps=60_000, features=128, activation="mish",
                   residual=True,
                   algorithm2=Algorithm2Config(guidance_scale=1.0, n_epochs=4, steps_per_epoch=25_000,
                                               n_trajectories=2**14, sampler_steps=64, eval_every=5_000,
                                               eval_episodes=10))

    def __post_init__(self):
        if not set(self.agents) <= set(ALGORITHMS) or not set(self.sources) <= set(TABLE_SOURCES):
            raise ValueError(f"agents must come from {ALGORITHMS} and sources from {TABLE_SOURCES}")
        if not self.datasets or not self.seeds:
            raise ValueError("need at least one dataset and one seed")
        if not isinstance(self.algorithm2, Algorithm2Config):
            raise ValueError(f"algorithm2 must be an Algorithm2Config, got {type(self.algorithm2).__name__}")

    def agent_config(self, source):
        """The Algorithm 2 settings of a run on `source` ("auto": guided, λ chosen at every generation)."""
        if source == AUTO:
            return replace(self.algorithm2, source="guided", guidance_scale=AUTO, generation="periodic")
        return replace(self.algorithm2, source=source, generation="periodic")

    def models(self):
        """(dataset, seed) of every diffusion model the sweep trains (none if it only uses real data)."""
        if not set(self.sources) - {"real"}:
            return []
        return [(name, seed) for name in self.datasets for seed in self.seeds]

    def runs(self):
        """(agent, source, dataset, seed) of every agent run."""
        return [(agent, source, name, seed) for name in self.datasets for seed in self.seeds
                for agent in self.agents for source in self.sources]

    def unit_names(self):
        """Models first (agents on synthetic data need them), then agent runs."""
        return [model_unit_name(*m) for m in self.models()] + [agent_unit_name(*r) for r in self.runs()]


PRESETS = {"miniature": Table2Config(), "paper-scale": Table2Config.paper_scale(), "smoke": Table2Config.smoke()}


def model_unit_name(name, seed):
    return f"model-{name}-seed{seed}"


def agent_unit_name(agent, source, name, seed):
    return f"{agent}-{source}-{name}-seed{seed}"


def parse_unit(unit):
    """A unit name -> ("model", (dataset, seed)) or ("agent", (agent, source, dataset, seed))."""
    head, seed = unit.rsplit("-seed", 1)
    if head.startswith("model-"):
        return "model", (head[len("model-"):], int(seed))
    agent, source, name = head.split("-", 2)
    return "agent", (agent, source, name, int(seed))


def dataset_path(work, name):
    return os.path.join(work, "data", f"{name}.npz")


def model_path(work, name, seed):
    return os.path.join(work, "models", f"{name}-seed{seed}.npz")


def run_state_path(work, unit):
    return os.path.join(work, "runs", f"{unit}.run.npz")


def unit_log(unit):
    """Progress lines of a long unit, flushed at once and prefixed with the unit (several run at once)."""
    return lambda line: print(f"[{unit}] {line.strip()}", flush=True)


def cached_model(work, config, dataset, name, seed, log=silent):
    """The diffusion model of `dataset` (named `name`) and `seed`, trained first (resumably) if its file is not
    in `work`."""
    os.makedirs(os.path.join(work, "models"), exist_ok=True)
    return cached_diffusion(model_path(work, name, seed), dataset, config.horizon,
                            config.features, config.diffusion_train_steps, seed, log=log,
                            activation=config.activation, residual=config.residual)


def _model_settings(config):
    return {"features": config.features, "activation": config.activation, "residual": config.residual,
            "horizon": config.horizon, "train_steps": config.diffusion_train_steps}


def _dataset_provenance(dataset):
    keys = ("env_id", "recipe", "seed", "n_episodes")
    return {**{k: dataset.metadata.get(k) for k in keys}, "transitions": len(dataset.rewards)}


def model_result(work, config, name, seed):
    """A model unit's result: how the model was made and how faithful its unguided samples are."""
    dataset = load_dataset(dataset_path(work, name))
    model = cached_model(work, config, dataset, name, seed)
    errors = unguided_dynamics_error(model, make_env(dataset.metadata["env_id"]), FIDELITY_TRAJECTORIES,
                                     config.algorithm2.sampler_steps, seed=0)
    error = float(errors[:, 1:].mean())
    return {"kind": "model", "dataset": name, "seed": seed, "data": _dataset_provenance(dataset),
            "model": _model_settings(config), "training": training_record(model_path(work, name, seed)),
            "dynamics_mse": error, "dynamics_mse_relative": error / float(np.mean(dataset.observations.var(axis=0))),
            "fidelity_samples": {"trajectories": FIDELITY_TRAJECTORIES,
                                 "sampler_steps": config.algorithm2.sampler_steps}}


def agent_result(work, config, unit, agent, source, name, seed):
    """An agent unit's result: one Algorithm 2 run, resumable from its run state in `work`."""
    dataset = load_dataset(dataset_path(work, name))
    model = cached_model(work, config, dataset, name, seed) if source != "real" else None
    state = run_state_path(work, unit)
    os.makedirs(os.path.dirname(state), exist_ok=True)
    timings, scales = {}, []
    algorithm2 = config.agent_config(source)
    _, history = run_offline_agent(dataset, agent, algorithm2, seed, model, checkpoint=state, log=unit_log(unit),
                                   timings=timings, scales=scales)
    result = {"kind": "agent", "dataset": name, "agent": agent, "source": source, "seed": seed,
              "final_score": history[-1][1], "history": history,
              "seconds_by_part": timings,  # of the last invocation, if the run was resumed
              "guidance_scales": scales,  # λ of each guided generation of the last invocation
              "data": _dataset_provenance(dataset), "algorithm2": asdict(algorithm2),
              "model": None if model is None else _model_settings(config)}
    return result, state


@under_thread_policy  # in a worker process too: the workers share the cores
def run_unit(work, results_dir, config, unit):
    """One unit (runs in a worker process): writes its result file; -> (description, seconds)."""
    started = time.perf_counter()
    kind, args = parse_unit(unit)
    state = None
    if kind == "model":
        result = model_result(work, config, *args)
        describe = f"dynamics MSE {result['dynamics_mse']:.4f}"
    else:
        result, state = agent_result(work, config, unit, *args)
        describe = f"score {result['final_score']:.1f}"
    result["seconds"] = time.perf_counter() - started  # of this invocation
    write_result(results_dir, unit, result)
    if state is not None and os.path.exists(state):
        os.remove(state)  # the result is kept; the run state is not needed any more
    return f"{unit}: {describe}", result["seconds"]


@under_thread_policy
def _train_model(work, config, name, seed):
    """Phase 1 (a worker process): a model some pending unit needs; -> (description, seconds)."""
    started = time.perf_counter()
    cached_model(work, config, load_dataset(dataset_path(work, name)), name, seed,
                 log=unit_log(model_unit_name(name, seed)))
    return f"trained the model of {name} seed {seed}", time.perf_counter() - started


def run_table2(work, results_dir, config=Table2Config(), only=None, jobs=1, log=print):
    """Run the units (all, or those named in `only`) that have no result file yet; -> every result found."""
    if jobs < 1:
        raise ValueError(f"--jobs must be positive, got {jobs}")  # before any work
    started = time.perf_counter()
    names = config.unit_names()
    todo = pending_units(results_dir, names, only, log)  # checks `only` before any work
    _claim(work, config)
    for name in config.datasets:  # a few seconds each, done first and in order
        cached_dataset(dataset_path(work, name), name, config.transitions, log)
    needed = sorted({(args[0], args[1]) if kind == "model" else (args[2], args[3])
                     for kind, args in map(parse_unit, todo) if kind == "model" or args[1] != "real"})
    missing = [(work, config, name, seed) for name, seed in needed if not os.path.exists(model_path(work, name, seed))]
    phases = [(_train_model, missing), (run_unit, [(work, results_dir, config, unit) for unit in todo])]
    for function, arguments in phases:  # every model before the agents that sample from it
        for describe, seconds in run_units(function, arguments, jobs):
            log(f"{describe} ({seconds / 60:.1f} min; {(time.perf_counter() - started) / 60:.1f} min so far)")
    return load_results(results_dir, names)


def _claim(work, config):
    """Record the settings in `work/config.json`; a sweep with other settings must not mix its runs in."""
    path, settings = os.path.join(work, "config.json"), json.loads(json.dumps(asdict(config)))
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if json.load(f) != settings:
                raise ValueError(f"{work} holds a sweep with other settings ({path}); use another --work-dir")
    else:
        os.makedirs(work, exist_ok=True)
        write_text_atomically(path, json.dumps(settings, indent=1))
