"""Table 2: TD3+BC and IQL on real, unguided (λ = 0), policy-guided (λ = 1) and automatic-λ data.

The sweep is a list of units, each leaving one small result file,
`results/table2/<preset>/UNIT.json` (`units.py`: written when the unit finishes,
with the versions and machine that made it; a rerun skips units whose file is
there, so a sweep continues on another machine that has only the repository, and
`--unit ID` runs one unit, for a cluster's own scheduler). Three kinds of unit:

    model-NAME-seedS              a trajectory diffusion model of dataset NAME (its training
                                  time and the dynamics error of its unguided samples with
                                  32, 64, 128 and 256 sampler steps, over three sample seeds)
    pool-gG-NAME-seedS            unguided generation G of that model, shared by the runs that
                                  read it (`generation_pool.py`): its fingerprint, sampling time
                                  and one-step dynamics error, in a maze split at the walls
                                  (`pool_checks`)
    AGENT-SOURCE-NAME-seedS       one Algorithm 2 run (periodic generation; Fig. 4: continuous): final score,
                                  learning curve, where its time went, every generation (its λ,
                                  whether it was pooled, Sec. 5.3's measures of it)

An unguided run reads pooled generations 0..N_epochs−1, a guided or automatic-λ
run generation 0 as its first (unguided) epoch; its later, guided, generations
are its own. Fig. 4's continuous runs, whose epochs are smaller, read the
tiers' pooled generations in consecutive slices (`pooled_trajectories`). The
bulky things stay in the work folder and are remade where they are missing:
`data/NAME.npz` (minipgd's recipe, seed 0, seconds), `models/NAME-seedS.npz`
and `pools/NAME-seedS-NxSTEPSsteps-gG.npz` (made before the units that need
them if their file is not there, even when their unit's result is: a sweep
continued on another machine remakes only what its unfinished units use;
a remade model or generation may differ in its last bits, the unit results
record the fingerprints they read) and the Algorithm 2 run state of an
unfinished agent unit (resumed by a rerun). Presets with the same models share
a work folder (`Table2Config.work_name`). `--jobs N` runs N units at once in
separate processes, each under minipgd's thread policy.

Presets (`PRESETS`): "miniature" (the sizes of results/table2.md), "paper-scale"
(Sec. 5.2's data scale: 2^14 trajectories per generation, five datasets; the
full-size reference), "headline" (tier 1: maze2d-umaze and maze2d-medium, where
the paper's effect is largest), "mujoco" (tier 2: hopper-medium-replay and
halfcheetah-random), "model-error" (tier 1's unguided runs on the simulator's
dynamics, `simulated_dynamics.py`) and "smoke". `Table2Config.fig4()` is Fig. 4's sweep
(`fig4.py`).
"""
import json
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..envs.dataset import load_dataset
from ..envs.registry import make_env
from ..nn.checkpoint import write_text_atomically
from ..runtime.threads import under_thread_policy
from ..nn.unet import HORIZON
from ..rl.synthetic import AUTO, SOURCES, Algorithm2Config, unguided_generations
from .artifacts import cached_dataset, cached_diffusion, silent, training_record
from .fidelity import unguided_dynamics_error
from .generation_checks import generation_checks, pool_checks
from .generation_pool import (epoch_slices, load_pool_generation, make_pool_generation, pool_path, pool_record,
                              pool_settings, pool_transitions)
from .offline_run import ALGORITHMS, run_offline_agent
from .simulated_dynamics import simulated_epochs
from .units import load_results, pending_units, result_path, run_units, write_result

DATASETS = ("maze2d-umaze", "maze2d-medium", "halfcheetah-medium-replay", "halfcheetah-medium")
DYNAMICS = ("model", "simulator")  # whose next states and rewards the synthetic transitions carry
TABLE_SOURCES = SOURCES + (AUTO,)  # "auto": guided, with λ chosen at every generation (Sec. 5.3's future work)
FIDELITY_TRAJECTORIES = 256  # unguided samples a model unit scores per sample seed
FIDELITY_SAMPLER_STEPS = (32, 64, 128, 256)  # ... with each of these numbers of Heun steps (Table 4: 256)
# The tiers' cuts from the paper-scale preset (results/table2-headline.md, "The decisions"). F = 128: F = 64 had
# 1.55x its unguided dynamics error on maze2d-umaze. 64 sampler steps: 1.04x the 256-step error on maze2d-medium
# but 1.16x on maze2d-umaze (128 steps 1.11x), outside the 10 % the issue allowed; 256 steps there would put
# tier 1 near three times its budget, so 64 is kept and the report names it as a factor. 2^13 trajectories per
# generation: benchmarks/table2_cost.py put tier 1 at 2^14 at 26 hours on 2 cores against a budget of 12.
TIER_SAMPLER_STEPS, TIER_TRAJECTORIES = 64, 2**13


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
    fidelity_sample_seeds: tuple = (0, 1, 2)  # a model unit scores FIDELITY_TRAJECTORIES unguided samples of each
    pooled_trajectories: int | None = None  # per pooled generation; None: a generation's size (`pool_size`)
    model_units: bool = True  # False: its models and pooled generations are another sweep's units (Fig. 4's)
    dynamics: str = "model"  # "simulator": the pooled data with the simulator's next states and rewards (ablation)
    algorithm2: Algorithm2Config = Algorithm2Config(
        guidance_scale=1.0, n_epochs=4, steps_per_epoch=2_500, n_trajectories=512, sampler_steps=64,
        eval_every=2_500, eval_episodes=10)  # every run's settings but its source (the paper: Algorithm2Config.paper())

    @classmethod
    def smoke(cls):
        """Everything once, tiny: one dataset, one seed, both agents, all sources, in seconds."""
        return cls(datasets=("maze2d-umaze",), seeds=(0,), transitions=1_000, diffusion_train_steps=10, features=16,
                   sources=TABLE_SOURCES, fidelity_sample_seeds=(0,),
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

    @classmethod
    def headline(cls):
        """Tier 1: maze2d-umaze and maze2d-medium, where the paper's effect is largest (TD3+BC 50.0 -> 76.2 and
        32.1 -> 89.6): the paper-scale models and updates, with the tiers' measured cuts."""
        return cls.tier(("maze2d-umaze", "maze2d-medium"))

    @classmethod
    def mujoco(cls):
        """Tier 2: hopper-medium-replay and halfcheetah-random, the paper's largest MuJoCo effects (TD3+BC
        58.6 -> 91.9 and 11.2 -> 21.1), with tier 1's settings."""
        return cls.tier(("hopper-medium-replay", "halfcheetah-random"))

    @classmethod
    def tier(cls, datasets):
        """The paper-scale preset on `datasets` with TIER_SAMPLER_STEPS and TIER_TRAJECTORIES per generation."""
        full = cls.paper_scale()
        return replace(full, datasets=datasets, algorithm2=replace(
            full.algorithm2, sampler_steps=TIER_SAMPLER_STEPS, n_trajectories=TIER_TRAJECTORIES))

    @classmethod
    def model_error(cls):
        """The model-error ablation: tier 1's unguided runs again, on the same pooled generations with the
        simulator's next states and rewards in place of the model's (`simulated_dynamics.py`); compared with
        tier 1's own unguided and dataset runs, it says what the model's errors cost the agents."""
        return replace(cls.headline(), sources=("unguided",), model_units=False, dynamics="simulator")

    @classmethod
    def fig4(cls):
        """Fig. 4's continuous generation beside the tiers' periodic runs: 100 epochs of 1,000 updates (the same
        100,000), 328 trajectories per generation (32,800 in all against periodic's 4 x 2^13 = 32,768), each kept
        for 10 epochs (`GENERATIONS`), on the tiers' models; its periodic and real rows are the tiers' units.
        Its unguided epochs are the tiers' 4 pooled generations of 2^13 cut into 25 slices each (327 or 328
        trajectories): the very trajectories the periodic unguided runs read."""
        periodic = cls.tier(("hopper-medium-replay", "maze2d-umaze"))
        continuous = replace(periodic.algorithm2, generation="continuous", n_epochs=100, steps_per_epoch=1_000,
                             n_trajectories=-(-4 * TIER_TRAJECTORIES // 100))
        return replace(periodic, sources=SOURCES[1:], pooled_trajectories=TIER_TRAJECTORIES, model_units=False,
                       algorithm2=continuous)

    def __post_init__(self):
        if not set(self.agents) <= set(ALGORITHMS) or not set(self.sources) <= set(TABLE_SOURCES):
            raise ValueError(f"agents must come from {ALGORITHMS} and sources from {TABLE_SOURCES}")
        if self.dynamics not in DYNAMICS or (self.dynamics != "model" and set(self.sources) != {"unguided"}):
            raise ValueError(f"dynamics must be one of {DYNAMICS} (\"simulator\" with the unguided source alone, "
                             f"whose data is pooled), got {self.dynamics!r} with sources {self.sources}")
        if not self.datasets or not self.seeds:
            raise ValueError("need at least one dataset and one seed")
        if not isinstance(self.algorithm2, Algorithm2Config):
            raise ValueError(f"algorithm2 must be an Algorithm2Config, got {type(self.algorithm2).__name__}")
        if self.pool_size() < self.algorithm2.n_trajectories:
            raise ValueError(f"pooled_trajectories must be at least a generation's {self.algorithm2.n_trajectories} "
                             f"trajectories, got {self.pooled_trajectories}")

    def work_name(self):
        """The default work folder's name: what its data and models depend on, so that presets with the same
        models (paper-scale, headline, mujoco, fig4) share them."""
        blocks = self.activation + ("-residual" if self.residual else "")
        return (f"table2-F{self.features}-{blocks}-{self.diffusion_train_steps}steps-H{self.horizon}-"
                f"{self.transitions}transitions")

    def pool_size(self):
        """Trajectories per pooled generation: a generation's (periodic runs read them whole), or more (Fig. 4's
        continuous runs read `epochs_per_pool` small epochs from each of the tiers' generations)."""
        return self.pooled_trajectories or self.algorithm2.n_trajectories

    def epochs_per_pool(self):
        """How many epochs' unguided data one pooled generation makes: its size over a generation's, rounded."""
        return round(self.pool_size() / self.algorithm2.n_trajectories)

    def agent_config(self, source):
        """The Algorithm 2 settings of a run on `source` ("auto": guided, λ chosen at every generation)."""
        if source == AUTO:
            return replace(self.algorithm2, source="guided", guidance_scale=AUTO)
        return replace(self.algorithm2, source=source)

    def models(self):
        """(dataset, seed) of every diffusion model the sweep trains (none if it only uses real data)."""
        if not set(self.sources) - {"real"}:
            return []
        return [(name, seed) for name in self.datasets for seed in self.seeds]

    def pools(self):
        """(dataset, seed, generation) of every pooled unguided generation the sweep's runs read."""
        count = max(pool_needs(self, source) for source in self.sources)
        return [(name, seed, g) for name, seed in self.models() for g in range(count)]

    def runs(self):
        """(agent, source, dataset, seed) of every agent run."""
        return [(agent, source, name, seed) for name in self.datasets for seed in self.seeds
                for agent in self.agents for source in self.sources]

    def unit_names(self):
        """Models first, then their pooled generations (agents on synthetic data need both), then agent runs;
        without `model_units`, the agent runs only (the files they read are made where missing all the same)."""
        shared = [model_unit_name(*m) for m in self.models()] + [pool_unit_name(*p) for p in self.pools()]
        return (shared if self.model_units else []) + [agent_unit_name(*r) for r in self.runs()]


PRESETS = {"miniature": Table2Config(), "paper-scale": Table2Config.paper_scale(), "headline": Table2Config.headline(),
           "mujoco": Table2Config.mujoco(), "model-error": Table2Config.model_error(), "smoke": Table2Config.smoke()}


def model_unit_name(name, seed):
    return f"model-{name}-seed{seed}"


def pool_unit_name(name, seed, generation):
    return f"pool-g{generation}-{name}-seed{seed}"


def agent_unit_name(agent, source, name, seed):
    return f"{agent}-{source}-{name}-seed{seed}"


def parse_unit(unit):
    """A unit name -> ("model", (dataset, seed)), ("pool", (dataset, seed, generation)) or
    ("agent", (agent, source, dataset, seed))."""
    head, seed = unit.rsplit("-seed", 1)
    if head.startswith("model-"):
        return "model", (head[len("model-"):], int(seed))
    if head.startswith("pool-g"):
        generation, name = head[len("pool-g"):].split("-", 1)
        return "pool", (name, int(seed), int(generation))
    agent, source, name = head.split("-", 2)
    return "agent", (agent, source, name, int(seed))


def dataset_path(work, name):
    return os.path.join(work, "data", f"{name}.npz")


def model_path(work, name, seed):
    return os.path.join(work, "models", f"{name}-seed{seed}.npz")


def run_state_path(work, results_dir, unit):
    """An unfinished agent unit's run state, kept apart per results folder (presets may share `work`)."""
    return os.path.join(work, "runs", os.path.basename(os.path.normpath(results_dir)), f"{unit}.run.npz")


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
    """A model unit's result: how the model was made and how faithful its unguided samples are, with the
    preset's number of sampler steps and with each of FIDELITY_SAMPLER_STEPS (what the presets' steps and
    widths were chosen by)."""
    dataset = load_dataset(dataset_path(work, name))
    model = cached_model(work, config, dataset, name, seed)
    env = make_env(dataset.metadata["env_id"])
    per_sample = {}  # steps 1–15 (step 0 is set from the sample), for each sample seed
    for steps in sorted({*FIDELITY_SAMPLER_STEPS, config.algorithm2.sampler_steps}):
        per_sample[str(steps)] = [float(unguided_dynamics_error(model, env, FIDELITY_TRAJECTORIES, steps, seed=s)
                                        [:, 1:].mean()) for s in config.fidelity_sample_seeds]
    by_steps = {steps: float(np.mean(errors)) for steps, errors in per_sample.items()}
    error = by_steps[str(config.algorithm2.sampler_steps)]
    return {"kind": "model", "dataset": name, "seed": seed, "data": _dataset_provenance(dataset),
            "model": _model_settings(config), "training": training_record(model_path(work, name, seed)),
            "dynamics_mse": error, "dynamics_mse_relative": error / float(np.mean(dataset.observations.var(axis=0))),
            "dynamics_mse_by_sampler_steps": by_steps,  # the mean over the sample seeds
            "dynamics_mse_by_sampler_steps_per_sample": per_sample,
            "fidelity_samples": {"trajectories": FIDELITY_TRAJECTORIES, "sample_seeds": config.fidelity_sample_seeds,
                                 "sampler_steps": config.algorithm2.sampler_steps}}


def pool_needs(config, source):
    """The pooled generations a run on `source` reads: enough for its unguided epochs, `epochs_per_pool` of them
    from each generation."""
    return -(-unguided_generations(config.agent_config(source)) // config.epochs_per_pool())


def read_pool(work, config, model, name, seed, source):
    """The unguided epochs' data of a run on `source`, from the pool -> (transitions of each epoch, a record of
    each pooled generation read, for its result)."""
    epochs, per = unguided_generations(config.agent_config(source)), config.epochs_per_pool()
    pool, record = [], []
    for generation in range(pool_needs(config, source)):
        path = _pool_path(work, config, name, seed, generation)
        settings = pool_settings(model, config.pool_size(), config.algorithm2.sampler_steps, seed, generation)
        transitions, digest = load_pool_generation(path, settings)
        pool += epoch_slices(transitions, per, min(per, epochs - len(pool)))
        record.append({"file": os.path.relpath(path, work), "fingerprint": digest, **settings})
    return pool, record


def agent_result(work, results_dir, config, unit, agent, source, name, seed):
    """An agent unit's result: one Algorithm 2 run, resumable from its run state in `work`."""
    dataset = load_dataset(dataset_path(work, name))
    model = cached_model(work, config, dataset, name, seed) if source != "real" else None
    pool, pooled = read_pool(work, config, model, name, seed, source) if model is not None else ([], [])
    env = None if model is None else make_env(dataset.metadata["env_id"])  # for synthetic data's checks
    simulation = None
    if config.dynamics == "simulator":
        pool, simulation = simulated_epochs(env, pool)
    state = run_state_path(work, results_dir, unit)
    os.makedirs(os.path.dirname(state), exist_ok=True)
    timings, generations = {}, []
    algorithm2 = config.agent_config(source)
    checks = None if model is None else generation_checks(env, dataset.arrays(), seed)
    _, history = run_offline_agent(dataset, agent, algorithm2, seed, model, checkpoint=state, log=unit_log(unit),
                                   timings=timings, generations=generations, pool=pool or None,
                                   provenance={"pool": [p["fingerprint"] for p in pooled]}, inspect=checks)
    result = {"kind": "agent", "dataset": name, "agent": agent, "source": source, "seed": seed,
              "final_score": history[-1][1], "history": history,
              "seconds_by_part": timings,  # the whole run's (a run state too old to hold them: the last part's)
              "generations": generations,  # every generation: its epoch, λ, whether it came from the pool, and
              # Sec. 5.3's measures of it ("inspected", `generation_checks.py`; not in units that started before)
              "pooled_generations": pooled,  # the pool's files the run read, their fingerprints and settings
              "guidance_scales": [g["lambda"] for g in generations  # λ of each guided generation
                                  if g["epoch"] > 0 and source in ("guided", AUTO)],
              "data": _dataset_provenance(dataset), "algorithm2": asdict(algorithm2),
              "model": None if model is None else _model_settings(config), "dynamics": config.dynamics,
              "simulation": simulation}  # under the simulator's dynamics: what was dropped, what it took
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
        result, state = agent_result(work, results_dir, config, unit, *args)
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


@under_thread_policy
def _sample_pool(work, results_dir, config, name, seed, generation):
    """Phase 2 (a worker process): a pooled unguided generation, sampled if its file is not in `work`, and its
    unit's result written if it has none; -> (description, seconds)."""
    started = time.perf_counter()
    a2 = config.algorithm2
    path, unit = _pool_path(work, config, name, seed, generation), pool_unit_name(name, seed, generation)
    if not os.path.exists(path):
        model = cached_model(work, config, load_dataset(dataset_path(work, name)), name, seed)
        make_pool_generation(path, model, config.pool_size(), a2.sampler_steps, seed, generation)
    record = pool_record(path)
    if not os.path.exists(result_path(results_dir, unit)):
        dataset = load_dataset(dataset_path(work, name))
        checks = pool_checks(make_env(dataset.metadata["env_id"]), pool_transitions(path), dataset.arrays(), seed,
                             generation)
        write_result(results_dir, unit, {"kind": "pool", "dataset": name, "seed": seed, **record, "checks": checks})
    return f"{unit}: {record['transitions']} transitions", time.perf_counter() - started


def _pool_path(work, config, name, seed, generation):
    return pool_path(work, name, seed, generation, config.pool_size(), config.algorithm2.sampler_steps)


def _needed(work, config, todo):
    """-> (the models to train, the pooled generations to sample or record) for the pending units `todo`."""
    models, pools = set(), set()
    for kind, args in map(parse_unit, todo):
        if kind == "model":
            models.add(args)
        elif kind == "pool":
            pools.add(args)  # its result is written, and its file sampled if missing
        elif args[1] != "real":
            agent, source, name, seed = args
            models.add((name, seed))
            pools.update((name, seed, g) for g in range(pool_needs(config, source))
                         if not os.path.exists(_pool_path(work, config, name, seed, g)))
    models |= {p[:2] for p in pools if not os.path.exists(_pool_path(work, config, *p))}
    return ([(work, config, *m) for m in sorted(models) if not os.path.exists(model_path(work, *m))],
            sorted(pools))


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
    models, pools = _needed(work, config, todo)
    phases = [(_train_model, models), (_sample_pool, [(work, results_dir, config, *p) for p in pools]),
              (run_unit, [(work, results_dir, config, unit) for unit in todo if parse_unit(unit)[0] != "pool"])]
    for function, arguments in phases:  # every model before its pool, both before the agents that read them
        for describe, seconds in run_units(function, arguments, jobs):
            log(f"{describe} ({seconds / 60:.1f} min; {(time.perf_counter() - started) / 60:.1f} min so far)")
    return load_results(results_dir, names)


def _claim(work, config):
    """Record in `work/config.json` what the folder's datasets and models are made with; a sweep whose models
    differ must not use them (sweeps with the same models share them; pooled generations and run states are
    named or checked by their own settings)."""
    path = os.path.join(work, "config.json")
    settings = {"transitions": config.transitions, "model": _model_settings(config)}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if json.load(f) != settings:
                raise ValueError(f"{work} holds a sweep with other settings ({path}); use another --work-dir")
    else:
        os.makedirs(work, exist_ok=True)
        write_text_atomically(path, json.dumps(settings, indent=1))
