"""The Fig. 4 report: final scores of periodic and continuous generation beside real data, the mean over the
agents (TD3+BC and IQL) with the standard error over seeds, Welch's p-values, and the figure (drawn on a
`matplotlib.figure.Figure`: no global matplotlib state changes)."""
import numpy as np
from matplotlib.figure import Figure

from ..analysis.stats import format_mean_se, mean_se
from .table2_report import difference_and_p

ARMS = (("real", "periodic", "Dataset"), ("unguided", "periodic", "Unguided, periodic"),
        ("guided", "periodic", "Guided, periodic"), ("unguided", "continuous", "Unguided, continuous"),
        ("guided", "continuous", "Guided, continuous"))
COMPARISONS = ((4, 2), (4, 0), (4, 3), (2, 0), (2, 1))  # (arm, arm) index pairs: what the paper's Fig. 4 says
PAPER = ("Sec. 5.2, Fig. 4 (aggregated over agents and datasets): continuous generation scores below periodic "
         "generation, and both score above real data and above unguided data.")
COLORS = ("black", "tab:gray", "tab:blue", "silver", "lightskyblue")


def arm_scores(runs, config):
    """{(dataset, arm index): [per seed, the mean final score over the agents]} (seeds missing an agent are left
    out). `runs`: agent results, each with its Algorithm 2 settings (periodic or continuous)."""
    scores = {}
    for r in runs:
        generation = "periodic" if r["source"] == "real" else r["algorithm2"]["generation"]
        scores.setdefault((r["dataset"], (r["source"], generation)), {}).setdefault(r["seed"], {})[r["agent"]] = \
            r["final_score"]
    out = {}
    for name in config.datasets:
        for i, (source, generation, _) in enumerate(ARMS):
            by_seed = scores.get((name, (source, generation)), {})
            out[name, i] = [np.mean(list(agents.values())) for _, agents in sorted(by_seed.items())
                            if len(agents) == len(config.agents)]
    return out


def pooled(scores, config):
    """Per arm, per seed, the mean over the datasets (seeds missing a dataset are left out)."""
    return {i: [np.mean(v) for v in zip(*(scores[name, i] for name in config.datasets))]
            if all(len(scores[name, i]) == len(config.seeds) for name in config.datasets) else []
            for i in range(len(ARMS))}


def _groups(runs, config, everything):
    """[(dataset, {arm index: per-seed scores})] for each dataset, then (`everything`, pooled over datasets)."""
    scores = arm_scores(runs, config)
    groups = [(name, {i: scores[name, i] for i in range(len(ARMS))}) for name in config.datasets]
    return groups + [(everything, pooled(scores, config))]


def fig4_markdown(runs, config):
    """The table (mean ± s.e. over seeds of the agents' mean) and the p-values of the paper's comparisons."""
    rows = _groups(runs, config, "*all datasets*")
    header = "| dataset | " + " | ".join(label for _, _, label in ARMS) + " |"
    lines = [header, "|---|" + "---:|" * len(ARMS)]
    lines += [f"| {name} | " + " | ".join(format_mean_se(v[i]) if v[i] else "—" for i in range(len(ARMS))) + " |"
              for name, v in rows]
    lines += ["", "| dataset | " + " | ".join(f"{ARMS[a][2]} − {ARMS[b][2]} (p)" for a, b in COMPARISONS) + " |",
              "|---|" + "---:|" * len(COMPARISONS)]
    lines += [f"| {name} | " + " | ".join(difference_and_p(v[a], v[b]) for a, b in COMPARISONS) + " |"
              for name, v in rows]
    return "\n".join(lines) + "\n"


def plot_fig4(runs, config, path):
    """Fig. 4's bars: per dataset and over all of them, each arm's mean score over agents, ± s.e. over seeds."""
    groups = _groups(runs, config, "all datasets")
    fig = Figure(figsize=(2.2 + 2.0 * len(groups), 3.2))
    ax = fig.subplots()
    width = 0.8 / len(ARMS)
    for i, (_, _, label) in enumerate(ARMS):
        x = [g + (i - (len(ARMS) - 1) / 2) * width for g in range(len(groups))]
        stats = [mean_se(v[i]) if v[i] else (np.nan, np.nan) for _, v in groups]
        ax.bar(x, [m for m, _ in stats], width, yerr=[np.nan_to_num(se) for _, se in stats], color=COLORS[i],
               edgecolor="black", linewidth=0.5, capsize=2, label=label)
    ax.set_xticks(range(len(groups)), [name for name, _ in groups], fontsize=8)
    ax.set_ylabel("normalized score (mean over agents)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
