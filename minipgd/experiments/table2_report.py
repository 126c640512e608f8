"""The Table 2 markdown: mean ± standard error over seeds, block totals, significance as the paper shades it."""
import numpy as np

from ..analysis.stats import format_mean_se, welch_p_value

BLOCKS = (("Maze2d", "maze2d-"), ("MuJoCo", "halfcheetah-"))
SOURCE_NAMES = {"real": "Dataset", "unguided": "Unguided", "guided": "Guided"}
AGENT_NAMES = {"iql": "IQL", "td3bc": "TD3+BC"}

# The paper's Table 2 (periodic generation, D4RL datasets, 4 seeds) for the datasets we run:
# IQL dataset / unguided / guided, then TD3+BC dataset / unguided / guided.
PAPER_TABLE2 = {
    "maze2d-umaze": ("42.6 ± 0.4", "42.9 ± 1.8", "43.8 ± 3.5", "50.0 ± 2.4", "33.8 ± 3.0", "76.2 ± 17.4"),
    "maze2d-medium": ("38.5 ± 1.9", "33.4 ± 3.2", "60.0 ± 13.9", "32.1 ± 6.8", "24.0 ± 4.0", "89.6 ± 19.9"),
    "halfcheetah-medium-replay": ("44.2 ± 0.2", "43.6 ± 0.2", "43.6 ± 0.2",
                                  "44.7 ± 0.1", "43.1 ± 0.2", "46.1 ± 0.3"),
    "halfcheetah-medium": ("48.4 ± 0.1", "45.4 ± 0.1", "45.1 ± 0.1", "48.6 ± 0.1", "45.3 ± 0.2", "47.6 ± 0.3"),
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


def _scores(results):
    """{(dataset, agent, source): {seed: final score}}."""
    out = {}
    for r in results:
        out.setdefault((r["dataset"], r["agent"], r["source"]), {})[r["seed"]] = r["final_score"]
    return out


def _block_totals(scores, datasets, agent, source, seeds):
    """Per seed, the mean over the block's datasets (seeds missing a dataset are left out)."""
    per_dataset = [scores.get((name, agent, source), {}) for name in datasets]
    return [np.mean([d[s] for d in per_dataset]) for s in seeds if all(s in d for d in per_dataset)]


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
    for block, prefix in BLOCKS:
        datasets = [name for name in config.datasets if name.startswith(prefix)]
        if not datasets:
            continue
        for name in datasets:
            cells = {a: {s: list(scores.get((name, a, s), {}).values()) for s in config.sources}
                     for a in config.agents}
            lines.append(_row(name, cells, config.agents, config.sources))
        if len(datasets) > 1:
            totals = {a: {s: _block_totals(scores, datasets, a, s, seeds) for s in config.sources}
                      for a in config.agents}
            lines.append(_row(f"*{block} total*", totals, config.agents, config.sources))
    return "\n".join(lines) + "\n"


def paper_table2_markdown(datasets):
    """The paper's values for the same datasets, for the README's side-by-side view."""
    lines = ["| paper (D4RL, GPU scale) | IQL Dataset | IQL Unguided | IQL Guided | TD3+BC Dataset | TD3+BC Unguided "
             "| TD3+BC Guided |", "|---|" + "---:|" * 6]
    lines += [f"| {name} | " + " | ".join(PAPER_TABLE2[name]) + " |" for name in datasets if name in PAPER_TABLE2]
    return "\n".join(lines) + "\n"


def fidelity_markdown(fidelity):
    """The diffusion models' dynamics error per dataset (see `table2.diffusion_fidelity`)."""
    lines = ["| dataset | dynamics MSE of unguided samples (steps 1–15) | relative to the mean state variance |",
             "|---|---:|---:|"]
    lines += [f"| {name} | {mse:.4f} | {relative:.3f} |" for name, (mse, relative) in fidelity.items()]
    return "\n".join(lines) + "\n"
