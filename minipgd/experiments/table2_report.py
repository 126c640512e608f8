"""The Table 2 report: the table (mean ± standard error over seeds, block totals, significance as the paper
shades it), the paper's values beside it, the models' fidelity, the λ automatic guidance chose, and the
learning curves (drawn on a `matplotlib.figure.Figure`: no global matplotlib state changes)."""
import json
from dataclasses import asdict
from operator import itemgetter

import numpy as np
from matplotlib.figure import Figure

from ..analysis.stats import format_mean_se, mean_se, welch_p_value
from ..envs.maze_walls import NEAR_WALL
from .generation_checks import POOL_CHECKED
from .table2 import parse_unit

BLOCKS = (("Maze2d", ("maze2d-",)), ("MuJoCo", ("halfcheetah-", "walker2d-", "hopper-")))
SOURCE_NAMES = {"real": "Dataset", "unguided": "Unguided", "guided": "Guided", "auto": "Guided (auto λ)"}
AGENT_NAMES = {"iql": "IQL", "td3bc": "TD3+BC"}
AUTO_SOURCE = "auto"

# The paper's Table 2 (periodic generation, D4RL datasets, 4 seeds; "mixed" is medium-replay):
# IQL dataset / unguided / guided, then TD3+BC dataset / unguided / guided.
PAPER_TABLE2 = {
    "halfcheetah-random": ("9.1 ± 2.2", "2.6 ± 0.1", "6.5 ± 1.7", "11.2 ± 0.8", "11.0 ± 0.4", "21.1 ± 0.9"),
    "walker2d-random": ("4.3 ± 0.5", "2.7 ± 0.7", "5.3 ± 0.3", "0.5 ± 0.3", "1.1 ± 1.2", "-0.3 ± 0.1"),
    "hopper-random": ("7.4 ± 0.4", "5.2 ± 0.9", "4.9 ± 1.0", "7.4 ± 0.6", "4.2 ± 1.4", "5.5 ± 2.1"),
    "halfcheetah-medium-replay": ("44.2 ± 0.2", "43.6 ± 0.2", "43.6 ± 0.2",
                                  "44.7 ± 0.1", "43.1 ± 0.2", "46.1 ± 0.3"),
    "walker2d-medium-replay": ("81.3 ± 2.0", "85.2 ± 0.3", "84.9 ± 1.4",
                               "82.7 ± 1.3", "70.7 ± 10.1", "84.0 ± 1.0"),
    "hopper-medium-replay": ("82.9 ± 3.5", "97.4 ± 2.7", "100.5 ± 0.5",
                             "58.6 ± 11.2", "52.1 ± 1.8", "91.9 ± 4.3"),
    "halfcheetah-medium": ("48.4 ± 0.1", "45.4 ± 0.1", "45.1 ± 0.1", "48.6 ± 0.1", "45.3 ± 0.2", "47.6 ± 0.3"),
    "walker2d-medium": ("81.7 ± 1.4", "82.1 ± 0.9", "77.8 ± 3.6", "84.8 ± 0.1", "85.2 ± 0.2", "86.3 ± 0.3"),
    "hopper-medium": ("63.6 ± 0.8", "59.7 ± 2.0", "62.8 ± 1.2", "62.4 ± 0.9", "57.4 ± 0.4", "63.1 ± 0.6"),
    "maze2d-umaze": ("42.6 ± 0.4", "42.9 ± 1.8", "43.8 ± 3.5", "50.0 ± 2.4", "33.8 ± 3.0", "76.2 ± 17.4"),
    "maze2d-medium": ("38.5 ± 1.9", "33.4 ± 3.2", "60.0 ± 13.9", "32.1 ± 6.8", "24.0 ± 4.0", "89.6 ± 19.9"),
    "maze2d-large": ("50.9 ± 5.8", "23.4 ± 8.0", "45.3 ± 14.8", "137.2 ± 20.2", "93.3 ± 31.0", "131.1 ± 37.5"),
}


def significantly_best(samples):
    """The paper's shading: the sources significantly better (Welch's t-test, p < 0.05) than all the others.

    `samples`: {source: scores over seeds}. Sources are ranked by mean; the smallest top group whose
    every member beats every source outside it significantly is returned (empty if there is none).
    """
    order = sorted(samples, key=lambda s: -np.mean(samples[s]))
    for k in range(1, len(order)):
        top, rest = order[:k], order[k:]
        if all(np.mean(samples[a]) > np.mean(samples[b]) and welch_p_value(samples[a], samples[b]) < 0.05
               for a in top for b in rest):
            return set(top)
    return set()


def units_of_kind(results, kind):
    """The results ({unit: result}) of the units of one kind, "agent", "model" or "pool"."""
    return [r for r in results.values() if r["kind"] == kind]


def _scores(runs):
    """{(dataset, agent, source): {seed: final score}} of agent results."""
    out = {}
    for r in runs:
        out.setdefault((r["dataset"], r["agent"], r["source"]), {})[r["seed"]] = r["final_score"]
    return out


def _row(label, cells_by_agent, agents, sources):
    cells = []
    for agent in agents:
        samples = {src: v for src, v in cells_by_agent[agent].items() if len(v) > 0}
        best = significantly_best(samples) if len(samples) == len(sources) else set()
        for src in sources:
            values = cells_by_agent[agent].get(src, [])
            text = format_mean_se(values) if len(values) else "—"
            cells.append(f"**{text}**" if src in best else text)
    return f"| {label} | " + " | ".join(cells) + " |"


def table2_markdown(results, config):
    """Our Table 2 (bold: significant improvement over every non-bold cell of the same agent and row)."""
    scores, seeds = _scores(results), list(config.seeds)
    header = " | ".join(f"{AGENT_NAMES[a]} {SOURCE_NAMES[s]}" for a in config.agents for s in config.sources)
    lines = [f"| | {header} |", "|---|" + "---:|" * (len(config.agents) * len(config.sources))]
    for block, prefixes in BLOCKS:
        datasets = [name for name in config.datasets if name.startswith(prefixes)]
        if not datasets:
            continue
        for name in datasets:
            cells = {a: {s: list(scores.get((name, a, s), {}).values()) for s in config.sources}
                     for a in config.agents}
            lines.append(_row(name, cells, config.agents, config.sources))
        if len(datasets) > 1:
            totals = {a: {s: _pooled(scores, datasets, [a], s, seeds) for s in config.sources}
                      for a in config.agents}
            lines.append(_row(f"*{block} total*", totals, config.agents, config.sources))
    return "\n".join(lines) + "\n"


def paper_table2_markdown(datasets):
    """The paper's values for the same datasets, for the README's side-by-side view."""
    lines = ["| paper (D4RL, GPU scale) | IQL Dataset | IQL Unguided | IQL Guided | TD3+BC Dataset | TD3+BC Unguided "
             "| TD3+BC Guided |", "|---|" + "---:|" * 6]
    lines += [f"| {name} | " + " | ".join(PAPER_TABLE2[name]) + " |" for name in datasets if name in PAPER_TABLE2]
    return "\n".join(lines) + "\n"


def fidelity_markdown(results, config):
    """The diffusion models' dynamics error per dataset (the model units'), mean ± s.e. over seeds."""
    models = units_of_kind(results, "model")
    lines = ["| dataset | models | dynamics MSE of unguided samples (steps 1–15) | relative to the mean state "
             "variance | training CPU-minutes |", "|---|---:|---:|---:|---:|"]
    for name in config.datasets:
        mine = [r for r in models if r["dataset"] == name]
        if mine:
            cpu = [r["training"]["cpu"] / 60 for r in mine if r.get("training")]
            lines.append(f"| {name} | {len(mine)} | {format_mean_se([r['dynamics_mse'] for r in mine], 4)} | "
                         f"{format_mean_se([r['dynamics_mse_relative'] for r in mine], 3)} | "
                         f"{format_mean_se(cpu, 1) if cpu else '—'} |")
    return "\n".join(lines) + "\n"


def auto_scale_markdown(results, config):
    """The λ automatic guidance chose, per dataset and agent: mean over generations and seeds, and range."""
    runs = [r for r in units_of_kind(results, "agent") if r["source"] == "auto" and r["guidance_scales"]]
    lines = ["| dataset | agent | runs | mean λ chosen | smallest | largest |", "|---|---|---:|---:|---:|---:|"]
    for name in config.datasets:
        for agent in config.agents:
            scales = [s for r in runs if r["dataset"] == name and r["agent"] == agent for s in r["guidance_scales"]]
            if scales:
                count = sum(r["dataset"] == name and r["agent"] == agent for r in runs)
                lines.append(f"| {name} | {AGENT_NAMES[agent]} | {count} | {np.mean(scales):.3g} | "
                             f"{min(scales):.3g} | {max(scales):.3g} |")
    return "\n".join(lines) + "\n"


def generation_checks_markdown(results, config):
    """Sec. 5.3's measures of the synthetic runs' generations (`generation_checks.py`), per dataset, agent and
    source: the first generation (unguided) and the later ones (guided, but for unguided runs), each the mean over
    a run's generations, then mean ± s.e. over its runs. Runs without the measures are left out; "" if none has
    them."""
    runs = [r for r in units_of_kind(results, "agent") if r["generations"] and "inspected" in r["generations"][0]]
    if not runs:
        return ""
    return _per_generation_table(runs, config, "generation 0: log π − log π(dataset) | dynamics MSE | "
                                 "generations 1–: log π − log π(dataset) | dynamics MSE",
                                 ((_likelihood_gain, 2), (itemgetter("dynamics_mse"), 4)))


def action_distance_markdown(results, config):
    """How far each cell's synthetic actions were from its policy's mean action, |a − μ(s)|² (the generation
    checks' `action_distance`), beside the dataset's actions' distance, for the first generation (unguided) and
    the later ones: mean over a run's generations, then over its runs. Only runs that recorded it; "" if none."""
    runs = [r for r in units_of_kind(results, "agent")
            if r["generations"] and "action_distance" in r["generations"][0].get("inspected", {})]
    if not runs:
        return ""
    return _per_generation_table(runs, config,
                                 "generation 0: synthetic | dataset | generations 1–: synthetic | dataset",
                                 ((itemgetter("action_distance"), 3), (itemgetter("action_distance_real"), 3)))


def _per_generation_table(runs, config, columns, measures):
    """A row per cell of `runs`: for the first generation (unguided) and for the later ones, each of `measures`
    ((a function of a generation's "inspected" checks, digits)) as the mean over a run's generations, then mean ±
    s.e. over its runs. `columns`: the headers of those cells."""
    lines = [f"| dataset | agent | source | runs | {columns} |", "|---|---|---|---:|" + "---:|" * (2 * len(measures))]
    for label, mine in _cells(runs, config):
        cells = [format_mean_se([np.mean([measure(g["inspected"]) for g in r["generations"][part]]) for r in mine],
                                digits)
                 for part in (slice(0, 1), slice(1, None)) for measure, digits in measures]
        lines.append(f"| {label} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cells(runs, config):
    """(row label "dataset | agent | source", its runs) for every cell of `config` that has runs."""
    for name in config.datasets:
        for agent in config.agents:
            for source in config.sources:
                mine = [r for r in runs if (r["dataset"], r["agent"], r["source"]) == (name, agent, source)]
                if mine:
                    yield f"{name} | {AGENT_NAMES[agent]} | {SOURCE_NAMES[source]}", mine


def _likelihood_gain(checks):
    return checks["log_likelihood"] - checks["log_likelihood_real"]


LAST_EVALUATIONS = 5  # the end of a learning curve: 80,000–100,000 updates at the tiers' settings


def final_noise_markdown(runs, config):
    """How much one final score says, and whether the runs were still learning: per cell, the final scores'
    mean beside the mean of each run's last LAST_EVALUATIONS evaluations, the standard deviation of those
    evaluations within a run (averaged over the runs: a final score moves by about that much from one evaluation
    to the next), and how far their mean rose over the LAST_EVALUATIONS evaluations before them (a rise well
    above the noise says more updates would have helped)."""
    lines = ["| dataset | agent | source | runs | final score | mean of the last evaluations | s.d. within a run | "
             "rise over the ones before |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for label, mine in _cells(runs, config):
        scores = [[score for _, score in r["history"]] for r in mine]
        last = [c[-LAST_EVALUATIONS:] for c in scores]
        rise = [np.mean(c[-LAST_EVALUATIONS:]) - np.mean(c[-2 * LAST_EVALUATIONS:-LAST_EVALUATIONS])
                for c in scores if len(c) >= 2 * LAST_EVALUATIONS]
        lines.append(f"| {label} | {len(last)} | {format_mean_se([c[-1] for c in last])} | "
                     f"{format_mean_se([np.mean(c) for c in last])} | "
                     f"{np.mean([np.std(c, ddof=1) for c in last]):.1f} | "
                     f"{format_mean_se(rise) if rise else '—'} |")
    return "\n".join(lines) + "\n"


def guiding_policy_markdown(runs, config):
    """The updates factor seen from guidance: how good the policy was when it guided a generation (its latest
    evaluation at the step the generation was made, epoch × steps per epoch; mean over a run's guided
    generations, then over its runs), beside the same agent on the dataset and on unguided data at those steps,
    and the final scores; "" without a guided run. Guidance draws the next epoch's data toward what that policy
    does, good or bad."""
    a2 = config.algorithm2
    steps = [epoch * a2.steps_per_epoch for epoch in range(1, a2.n_epochs)]
    guided = [r for r in runs if r["source"] in ("guided", AUTO_SOURCE)]
    if not guided:
        return ""
    lines = ["| dataset | agent | source | runs | score of the guiding policies | the agent at those steps on the "
             "dataset | on unguided data | final score |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for label, mine in _cells(guided, config):
        cell = (mine[0]["dataset"], mine[0]["agent"])
        others = [[r for r in runs if (r["dataset"], r["agent"], r["source"]) == (*cell, source)]
                  for source in ("real", "unguided")]
        scores = [format_mean_se([np.mean([_latest_score(r, step) for step in steps]) for r in group])
                  if group else "—" for group in [mine] + others]
        lines.append(f"| {label} | {len(mine)} | " + " | ".join(scores) + " | "
                     f"{format_mean_se([r['final_score'] for r in mine])} |")
    return "\n".join(lines) + "\n"


def _latest_score(run, step):
    """The run's latest evaluation score at or before update `step`."""
    return max((s, score) for s, score in run["history"] if s <= step)[1]


def per_model_markdown(results, config):
    """The model-error factor, seed by seed: each diffusion model's dynamics error beside what its synthetic data
    did for the agents trained on it (that seed's guided − dataset and guided − unguided final scores; "—" where
    a run is missing), and in a maze the share of its unguided data's states whose ball overlaps a wall (its pooled
    generations' `in_wall`). A gain that shrinks as the error grows points at the model, not at guidance."""
    scores = _scores(units_of_kind(results, "agent"))
    lines = ["| dataset | seed | model's dynamics MSE | unguided data in a wall | " + " | ".join(
        f"{AGENT_NAMES[a]}: guided − dataset | guided − unguided" for a in config.agents) + " |",
        "|---|---:|---:|---:|" + "---:|" * (2 * len(config.agents))]
    for model in sorted(units_of_kind(results, "model"), key=lambda r: (config.datasets.index(r["dataset"]),
                                                                        r["seed"])):
        cells = []
        for agent in config.agents:
            final = {s: scores.get((model["dataset"], agent, s), {}).get(model["seed"])
                     for s in ("real", "unguided", "guided")}
            cells += [f"{final['guided'] - final[other]:+.1f}" if None not in (final["guided"], final[other]) else "—"
                      for other in ("real", "unguided")]
        in_wall = [c["in_wall"] for c in _pool_checks(results, model["dataset"], model["seed"]) if "in_wall" in c]
        lines.append(f"| {model['dataset']} | {model['seed']} | {model['dynamics_mse']:.4f} | "
                     f"{f'{np.mean(in_wall):.3f}' if in_wall else '—'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pool_checks_markdown(results, config):
    """Where the unguided data's one-step dynamics error lies (`pool_checks`), per model: the mean over its pooled
    generations of the error, and in a point maze of the share of transitions that start near a wall (beside the
    dataset's share) and in one, the error there and away from the walls, and the part of the error near them.
    "" if no pooled generation has the measures."""
    if not any("checks" in r for r in units_of_kind(results, "pool")):
        return ""
    lines = ["| dataset | seed | generations | one-step dynamics MSE | near a wall (dataset) | in a wall | "
             "MSE near a wall | MSE away | part of the MSE near a wall |", "|---|---:|---:|" + "---:|" * 6]
    for name in config.datasets:
        for seed in config.seeds:
            checks = _pool_checks(results, name, seed)
            if checks:
                walls = ["—"] * 5
                if "near_wall" in checks[0]:
                    walls = [f"{np.mean([c['near_wall'] for c in checks]):.3f} "
                             f"({np.mean([c['dataset_near_wall'] for c in checks]):.3f})",
                             f"{np.mean([c['in_wall'] for c in checks]):.3f}",
                             _mean_of(checks, "dynamics_mse_near_wall"), _mean_of(checks, "dynamics_mse_away"),
                             f"{np.mean([_part_near_walls(c) for c in checks]):.2f}"]
                lines.append(f"| {name} | {seed} | {len(checks)} | "
                             f"{np.mean([c['dynamics_mse'] for c in checks]):.4f} | " + " | ".join(walls) + " |")
    return "\n".join(lines) + "\n"


def pool_rewards_markdown(results, config):
    """How right each model's unguided rewards are (`pool_checks`): the mean over its pooled generations of the
    squared error against the reward the dataset gives the transition, and in a point maze the share of
    transitions with reward 1 (beside the dataset's share) and the share whose sparse reward is the wrong one.
    "" if no pooled generation has the measures."""
    rows = [(name, seed, checks) for name in config.datasets for seed in config.seeds
            if (checks := [c for c in _pool_checks(results, name, seed) if "reward_mse" in c])]
    if not rows:
        return ""
    lines = ["| dataset | seed | generations | reward MSE | reward 1 (dataset) | the wrong reward |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, seed, checks in rows:
        maze = ["—"] * 2
        if "rewarded" in checks[0]:
            maze = [f"{_mean_of(checks, 'rewarded', 3)} ({_mean_of(checks, 'dataset_rewarded', 3)})",
                    _mean_of(checks, "reward_mismatch", 3)]
        lines.append(f"| {name} | {seed} | {len(checks)} | {_mean_of(checks, 'reward_mse')} | " + " | ".join(maze)
                     + " |")
    return "\n".join(lines) + "\n"


def model_error_markdown(runs, compared, config):
    """The model-error ablation against tier 1: per dataset and agent, the dataset runs and the unguided runs on
    the model's own transitions (`compared`, tier 1's units, of the seeds the ablation has run) beside the
    unguided runs on the same pooled generations with the simulator's dynamics (`runs`), the differences with
    Welch's p-values, and the share of transitions dropped because their ball starts inside a wall."""
    mine, theirs = _scores(runs), _scores(compared)
    lines = ["| dataset | agent | dataset | unguided, the model's dynamics | unguided, the simulator's | simulator's − "
             "model's (p) | simulator's − dataset (p) | dropped in a wall |", "|---|---|" + "---:|" * 6]
    for name in config.datasets:
        for agent in config.agents:
            by_seed = mine.get((name, agent, "unguided"), {})
            if not by_seed:
                continue
            simulated = list(by_seed.values())
            real, model = ([score for seed, score in theirs.get((name, agent, s), {}).items() if seed in by_seed]
                           for s in ("real", "unguided"))  # the ablation's seeds: the same pools and agent seeds
            dropped = [sum(r["simulation"]["dropped_in_wall"]) / sum(r["simulation"]["transitions"]) for r in runs
                       if (r["dataset"], r["agent"]) == (name, agent)]
            cells = [format_mean_se(v) if v else "—" for v in (real, model, simulated)]
            lines.append(f"| {name} | {AGENT_NAMES[agent]} | " + " | ".join(cells) + " | "
                         f"{difference_and_p(simulated, model)} | {difference_and_p(simulated, real)} | "
                         f"{np.mean(dropped):.3f} |")
    return "\n".join(lines) + "\n"


def _pool_checks(results, name, seed):
    """The checks (`pool_checks`) of the pooled generations of the model of `name` and `seed` that recorded them."""
    return [r["checks"] for r in units_of_kind(results, "pool") if (r["dataset"], r["seed"]) == (name, seed)
            and "checks" in r]


def _mean_of(checks, key, digits=4):
    values = [c[key] for c in checks if c[key] is not None]  # None: no transition on that side
    return f"{np.mean(values):.{digits}f}" if values else "—"


def _part_near_walls(checks):
    near = checks["near_wall"] * (checks["dynamics_mse_near_wall"] or 0.0)
    return near / checks["dynamics_mse"] if checks["dynamics_mse"] > 0 else 0.0


def welch_markdown(runs, config):
    """Welch's p-values of guided (and automatic-λ) against real and unguided data: per dataset and agent, then
    pooled per block (per seed, the mean over the block's datasets and both agents), with the difference of
    means (positive: guided higher)."""
    scores = _scores(runs)
    tests = [(a, b) for a in ("guided", AUTO_SOURCE) for b in ("real", "unguided")
             if a in config.sources and b in config.sources]
    lines = ["| cell | " + " | ".join(f"{SOURCE_NAMES[a]} − {SOURCE_NAMES[b]} (p)" for a, b in tests) + " |",
             "|---|" + "---:|" * len(tests)]
    for name in config.datasets:
        for agent in config.agents:
            cells = {s: list(scores.get((name, agent, s), {}).values()) for s in config.sources}
            lines.append(f"| {name}, {AGENT_NAMES[agent]} | " + " | ".join(difference_and_p(cells[a], cells[b])
                                                                            for a, b in tests) + " |")
    for block, prefixes in BLOCKS:
        datasets = [name for name in config.datasets if name.startswith(prefixes)]
        if datasets:
            pooled = {s: _pooled(scores, datasets, config.agents, s, config.seeds) for s in config.sources}
            lines.append(f"| *{block}, pooled over datasets and agents* | "
                         + " | ".join(difference_and_p(pooled[a], pooled[b]) for a, b in tests) + " |")
    return "\n".join(lines) + "\n"


def _pooled(scores, datasets, agents, source, seeds):
    """Per seed, the mean over `datasets` and `agents` (seeds missing a cell are left out): one agent's block
    totals, or a block pooled over the agents."""
    cells = [scores.get((name, agent, source), {}) for name in datasets for agent in agents]
    return [np.mean([c[s] for c in cells]) for s in seeds if all(s in c for c in cells)]


def difference_and_p(a, b):
    """"+12.3 (p = 0.004)": the difference of means and Welch's p-value; "—" without two values on each side."""
    if len(a) < 2 or len(b) < 2:
        return "—"
    return f"{np.mean(a) - np.mean(b):+.1f} (p = {welch_p_value(a, b):.3g})"


def unit_compute_seconds(result):
    """A unit's compute as it recorded it: a model's training CPU time and its fidelity check, a pooled
    generation's sampling CPU time, an agent run's training seconds on its one core (`seconds_by_part`: a
    resumed run's earlier invocations included, but in run states saved before they were recorded)."""
    if result["kind"] == "pool":
        return result["cpu_seconds"]
    if result["kind"] == "agent":
        return result["seconds_by_part"]["total"]
    return result["seconds"] + (result["training"]["cpu"] if result.get("training") else 0.0)


def _unit_group(unit):
    """What a unit runs, for pricing the ones left: models, pooled generations, or one agent on one source."""
    kind, key = parse_unit(unit)
    if kind == "agent":
        return f"{AGENT_NAMES[key[0]]}, {SOURCE_NAMES[key[1]]}"
    return {"model": "models (training, fidelity check)", "pool": "pooled unguided generations"}[kind]


def remaining_markdown(results, config):
    """The units without a result, grouped by what they run, each group priced at the median compute of its units
    that have run (the median, so that a unit resumed from a run state that did not record its earlier seconds
    does not pull the price down); "—" where none has run yet. "" when nothing is left."""
    missing = [unit for unit in config.unit_names() if unit not in results]
    if not missing:
        return ""
    left, done = {}, {}
    for unit in missing:
        left.setdefault(_unit_group(unit), []).append(unit)
    for unit, result in results.items():
        done.setdefault(_unit_group(unit), []).append(unit_compute_seconds(result) / 3600)
    price = {group: np.median(hours) for group, hours in done.items()}
    lines = ["| units | left | CPU-hours each (median of those run) | CPU-hours left | ids |",
             "|---|---:|---:|---:|---|"]
    for group, units in left.items():
        each, total = ((f"{price[group]:.2f} ({len(done[group])})", f"{price[group] * len(units):.1f}")
                       if group in price else ("—", "—"))
        lines.append(f"| {group} | {len(units)} | {each} | {total} | {', '.join(units)} |")
    unpriced = sum(len(units) for group, units in left.items() if group not in price)
    if unpriced == len(missing):
        total = "— (none of these kinds has run yet)"
    else:
        total = f"{sum(price[g] * len(units) for g, units in left.items() if g in price):.1f}" + (
            f" and {unpriced} units not yet priced" if unpriced else "")
    lines.append(f"| *all* | {len(missing)} | | {total} | |")
    return "\n".join(lines) + "\n"


def time_markdown(results):
    """Where the compute went, in CPU-hours: the models' training, the pooled generations' sampling, and the
    agent runs' parts (`seconds_by_part`, each run on one core) per source."""
    hours = {"models (training)": sum(r["training"]["cpu"] for r in units_of_kind(results, "model")
                                      if r.get("training")) / 3600,
             "pooled unguided generations": sum(r["cpu_seconds"] for r in units_of_kind(results, "pool")) / 3600}
    lines = ["| part | runs | CPU-hours | of which generation (guidance) | agent updates | evaluation |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {part} | — | {value:.2f} | | | |" for part, value in hours.items()]
    runs = units_of_kind(results, "agent")
    for source in SOURCE_NAMES:
        parts = [r["seconds_by_part"] for r in runs if r["source"] == source]
        if parts:
            total = {key: sum(p[key] for p in parts) / 3600 for key in parts[0]}
            lines.append(f"| agent runs on {SOURCE_NAMES[source].lower()} data | {len(parts)} | {total['total']:.2f} | "
                         f"{total['generation']:.2f} ({total['guidance']:.2f}) | {total['updates']:.2f} | "
                         f"{total['evaluation']:.2f} |")
    return "\n".join(lines) + "\n"


STEP_COLUMNS = ("32", "64", "128", "256")


def sampler_width_markdown(models, reference):
    """The model units' unguided dynamics error with 32, 64, 128 and 256 sampler steps (mean ± s.e. over the sample
    seeds where there are several), each relative to the widest model of the same dataset and seed at 256 steps
    (`reference`: more model units, e.g. the paper-scale preset's)."""
    rows = sorted({(r["dataset"], r["seed"], r["model"]["features"]): r for r in list(models) + list(reference)
                   if "dynamics_mse_by_sampler_steps" in r}.items())
    ref = {(name, seed): r["dynamics_mse_by_sampler_steps"]["256"] for (name, seed, _), r in rows}  # widest last
    lines = ["| dataset | seed | F | training CPU-min | MSE, 32 steps | 64 steps | 128 steps | 256 steps |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (name, seed, features), r in rows:
        base, means = ref.get((name, seed)), r["dynamics_mse_by_sampler_steps"]
        samples = r.get("dynamics_mse_by_sampler_steps_per_sample", {})
        cells = [((format_mean_se(samples[steps], 4) if len(samples.get(steps, ())) > 1 else f"{means[steps]:.4f}")
                  + (f" ({means[steps] / base:.2f}x)" if base else "")) if steps in means else "—"
                 for steps in STEP_COLUMNS]
        cpu = f"{r['training']['cpu'] / 60:.1f}" if r.get("training") else "—"
        lines.append(f"| {name} | {seed} | {features} | {cpu} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


COLORS = {"real": "black", "unguided": "tab:gray", "guided": "tab:blue", "auto": "tab:orange"}


def plot_learning_curves(results, config, path):
    """Normalized score against agent updates: one panel per dataset (columns) and agent (rows), one line per
    source, mean ± standard error over the seeds found."""
    runs = units_of_kind(results, "agent")
    fig = Figure(figsize=(3.2 * len(config.datasets), 2.6 * len(config.agents)))
    axes = fig.subplots(len(config.agents), len(config.datasets), squeeze=False)
    for row, agent in enumerate(config.agents):
        for col, name in enumerate(config.datasets):
            ax = axes[row, col]
            for source in config.sources:
                curves = [r["history"] for r in runs
                          if (r["dataset"], r["agent"], r["source"]) == (name, agent, source)]
                if curves and len({len(c) for c in curves}) == 1:
                    steps = np.array([step for step, _ in curves[0]])
                    mean, se = mean_se(np.array([[score for _, score in c] for c in curves]))
                    se = np.nan_to_num(se)  # one seed: no band
                    ax.plot(steps, mean, color=COLORS[source], label=f"{SOURCE_NAMES[source]} ({len(curves)})")
                    ax.fill_between(steps, mean - se, mean + se, color=COLORS[source], alpha=0.2)
            ax.set_title(f"{AGENT_NAMES[agent]}, {name}", fontsize=9)
            ax.tick_params(labelsize=7)
            if row == len(config.agents) - 1:
                ax.set_xlabel("agent updates", fontsize=8)
            if col == 0:
                ax.set_ylabel("normalized score", fontsize=8)
            if ax.lines:
                ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def table2_report(results, config, preset, command, results_dir, minutes, reference=(), compared=()):
    """The whole markdown report of a preset from its unit results ({unit: result}); `reference`: the F = 128
    model units its sampler steps and width were measured against (the paper-scale preset's); `compared`: for
    the model-error ablation, tier 1's dataset and unguided runs."""
    runs, models = units_of_kind(results, "agent"), units_of_kind(results, "model")
    compute = sum(unit_compute_seconds(r) for r in results.values()) / 3600
    expected = len(config.unit_names())
    checks, remaining = generation_checks_markdown(results, config), remaining_markdown(results, config)
    walls, distances = pool_checks_markdown(results, config), action_distance_markdown(results, config)
    guiding, rewards = guiding_policy_markdown(runs, config), pool_rewards_markdown(results, config)
    guided = {"guided", AUTO_SOURCE} & set(config.sources)
    return (f"# Table 2, preset \"{preset}\"\n\nProduced by `{command}` from the {len(results)} of {expected} unit "
            f"results in `{results_dir}/` (this invocation: {minutes:.1f} min of wall-clock time); the units took "
            f"{compute:.1f} hours of compute in all, as each recorded it (models: their training's CPU time; pooled "
            "generations: their sampling's CPU time; agent runs: their training's seconds on one core, a resumed "
            "run's earlier invocations included unless its run state predates their recording). "
            f"Final D4RL normalized score, mean ± standard error over seeds; **bold**: significantly better "
            f"(Welch's t-test, p < 0.05) than every non-bold cell of the same agent and row, as the paper shades; "
            f"— : no result yet.\n\n"
            + table2_markdown(runs, config)
            + ("\nUnguided generations are sampled once per diffusion model and shared (the `pool-*` units): an "
               f"unguided run reads generations 0–{config.algorithm2.n_epochs - 1}, a guided or automatic-λ run "
               "generation 0 as its first, unguided, "
               "epoch, and samples its guided ones itself. Each generation has its own seeded generator, so the "
               "data a run reads has the distribution of data it would sample itself; the runs of one model share "
               "the draws, not the agents' randomness.\n" if config.pools() else "")
            + "\nThe paper's Table 2 for the same datasets:\n\n"
            + paper_table2_markdown(config.datasets)
            + ("\nWhat the model's errors cost (the unguided runs of tier 1 again, on the same pooled generations "
               "and agent seeds, with the simulator's next states and rewards in place of the model's and the "
               "transitions whose ball starts inside a wall dropped; tier 1's columns hold the seeds the ablation has run): "
               "difference of the mean final scores and "
               "Welch's p-value (— : fewer than two seeds on a side):\n\n" + model_error_markdown(runs, compared, config)
               if config.dynamics == "simulator" else "")
            + ("\nGuided against real and unguided data: difference of the mean final scores and Welch's p-value "
               "(— : fewer than two seeds on a side):\n\n" + welch_markdown(runs, config) if guided else "")
            + f"\nHow much a final score says, and whether the runs were still learning (the last "
              f"{LAST_EVALUATIONS} evaluations of each run, {config.algorithm2.eval_episodes} episodes each, and "
              f"the rise of their mean over the {LAST_EVALUATIONS} before; the updates factor):\n\n"
            + final_noise_markdown(runs, config)
            + ("\nHow faithful the synthetic data is (the model units; real trajectories have 0 by construction, "
               "Sec. 5.3's metric):\n\n" + fidelity_markdown(results, config) if models else "")
            + ("\nHow good the policy was when it guided (its latest evaluation when each guided generation was "
               f"made, after {config.algorithm2.steps_per_epoch:,}, {2 * config.algorithm2.steps_per_epoch:,}, … "
               "updates), beside the same agent trained on the dataset and on unguided data at those steps:\n\n"
               + guiding if guiding else "")
            + ("\nEach model beside what its data did, seed by seed (the model-error factor):\n\n"
               + per_model_markdown(results, config) if models and "guided" in config.sources else "")
            + (f"\nWhere each model's unguided data leaves the real dynamics (its pooled generations, "
               f"{POOL_CHECKED:,} transitions of each: the simulator put in each synthetic state and stepped once "
               f"with its action; in a maze, the transitions that start within {NEAR_WALL} of a wall, one step at "
               "top speed, and those whose ball overlaps one; the dataset never goes there):\n\n" + walls
               if walls else "")
            + (f"\nHow right each model's unguided rewards are (the same {POOL_CHECKED:,} transitions of each pooled "
               "generation, against the reward the dataset gives the action from the state: in a maze the sparse "
               "reward at the evaluation goal of the simulator's next state):\n\n" + rewards if rewards else "")
            + ("\nSampler steps and width: unguided dynamics MSE (steps 1–15, 256 trajectories per sample seed) of "
               "each model, and "
               "relative to the F = 128 model of the same dataset and seed at 256 sampler steps (the rule: the "
               "cheapest setting within 1.10x):\n\n" + sampler_width_markdown(models, reference)
               if any("dynamics_mse_by_sampler_steps" in r for r in models + list(reference)) else "")
            + ("\nWhat the synthetic data was like, generation by generation (Sec. 5.3's measures on 1,024 "
               "transitions of each: the log-likelihood of its actions under the agent's policy at the time, minus "
               "the same policy's on dataset actions, which guidance should raise (Fig. 5); the one-step dynamics "
               "error against the simulator, which it should leave near the unguided generation's (Fig. 6)):\n\n"
               + checks if checks else "")
            + ("\nHow far guidance moved the actions: the mean squared distance |a − μ(s)|² of a generation's "
               "actions from the mean action of the policy that guided it, beside the dataset's actions' (the same "
               "1,024 transitions as above; a likelihood gain is this distance's fall over 2σ², so it compares "
               "TD3+BC's unit Gaussian with IQL's learned σ):\n\n" + distances if distances else "")
            + ("\nThe λ automatic guidance chose (every guided generation; the first generation is unguided):\n\n"
               + auto_scale_markdown(results, config) if "auto" in config.sources else "")
            + "\nWhere the compute went:\n\n" + time_markdown(results)
            + ("\nWhat is left, priced by the units that have run (CPU-hours; two jobs on two cores take about half "
               "as many hours):\n\n" + remaining if remaining else "")
            + f"\nConfiguration:\n\n```json\n{json.dumps(asdict(config), indent=1)}\n```\n")
