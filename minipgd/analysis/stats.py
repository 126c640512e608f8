"""Summary statistics over seeds: mean ± standard error, Welch's t-test (the paper's shading, Table 2)."""
import math

import numpy as np
from scipy import stats


def mean_se(values):
    """(mean, standard error of the mean) over the first axis; the error is NaN for a single value."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("need at least one value for a mean")
    if len(values) == 1:
        return values[0], np.full(values.shape[1:], np.nan)
    return np.mean(values, axis=0), np.std(values, axis=0, ddof=1) / math.sqrt(len(values))


def format_mean_se(values, digits=1):
    mean, se = mean_se(values)
    return f"{mean:.{digits}f} ± {se:.{digits}f}" if np.isfinite(se) else f"{mean:.{digits}f}"


def welch_p_value(a, b):
    """Two-sided p-value of Welch's unequal-variance t-test; NaN with fewer than 2 values per side."""
    if min(len(a), len(b)) < 2:
        return math.nan
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def gaussian_kl(mean_p, cov_p, mean_q, cov_q):
    """KL(N(mean_p, cov_p) || N(mean_q, cov_q))."""
    k = len(mean_p)
    inv_q = np.linalg.inv(cov_q)
    diff = mean_q - mean_p
    _, logdet_p = np.linalg.slogdet(cov_p)
    _, logdet_q = np.linalg.slogdet(cov_q)
    return 0.5 * (np.trace(inv_q @ cov_p) + diff @ inv_q @ diff - k + logdet_q - logdet_p)
