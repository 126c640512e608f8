# %% [markdown]
# # 03 — Backpropagation by hand: Conv1d, GroupNorm, Mish and a U-Net block
#
# minipgd has no autograd: every layer's `backward` is written out next to its
# `forward`. This tutorial derives three of them from scratch in NumPy, checks
# each against central finite differences in float64 (the test every layer in
# `tests/test_gradients.py` passes), and then checks that the library's versions
# agree with ours. The U-Net is the paper's denoiser backbone (**Appendix A.1**).
#
# Run it with `python tutorials/03_backprop.py` (seconds).

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minipgd.nn import UNetConfig  # noqa: E402
from minipgd.nn.gradcheck import check_gradients, relative_error  # noqa: E402
from minipgd.nn.layers import Conv1d, GroupNorm, Mish  # noqa: E402
from minipgd.nn.unet import EncoderBlock  # noqa: E402
from run_options import run_options  # noqa: E402

FAST, FIGURES = run_options()
rng = np.random.default_rng(0)


def numeric_gradient(f, x, h=1e-6):
    """∂f/∂x for a scalar function f of an array x, by central differences, every entry."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        up = f()
        x[i] = saved - h
        down = f()
        x[i] = saved
        grad[i] = (up - down) / (2 * h)
    return grad


# %% [markdown]
# ## 1. Conv1d
#
# Time-major (L, B, C), 'same' padding p, stride 1: y[t,b,o] = bias[o] + Σ_{j,c} W[j,c,o] x[t+j−p, b, c]
# (the weight tap-major, (k, C_in, C_out), as in Flax: W[j] is tap j's matrix).
# Differentiating a sum of products, each output gradient G = ∂L/∂y flows back to
# exactly the inputs and weights it was multiplied with:
#
#     ∂L/∂W[j,c,o] = Σ_{t,b} G[t,b,o] x[t+j−p, b, c]        ∂L/∂bias[o] = Σ_{t,b} G[t,b,o]
#     ∂L/∂x[s,b,c] = Σ_{o,j} G[s−j+p, b, o] W[j,c,o]       (a "transposed" convolution)
#
# With time first, x[s] is the (B, C_in) block of rows of time step s: every term
# below is a matrix product of such blocks.

# %%
B, L, C_IN, C_OUT, K, P = 2, 7, 3, 4, 3, 1
x = rng.standard_normal((L, B, C_IN))
w = rng.standard_normal((K, C_IN, C_OUT))
bias = rng.standard_normal(C_OUT)
G = rng.standard_normal((L, B, C_OUT))  # ∂L/∂y for the loss L = Σ y · G


def conv_forward(x, w, bias):
    y = np.tile(bias, (L, B, 1))
    for j in range(K):
        for t in range(L):
            s = t + j - P
            if 0 <= s < L:
                y[t] += x[s] @ w[j]
    return y


def conv_backward(G, x, w):
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for j in range(K):
        for t in range(L):
            s = t + j - P
            if 0 <= s < L:
                dw[j] += x[s].T @ G[t]
                dx[s] += G[t] @ w[j].T
    return dx, dw, G.sum(axis=(0, 1))


def loss():
    return float(np.sum(conv_forward(x, w, bias) * G))


dx, dw, db = conv_backward(G, x, w)
print("Conv1d, ours vs finite differences: "
      f"dx {relative_error(dx, numeric_gradient(loss, x)):.1e}, dW {relative_error(dw, numeric_gradient(loss, w)):.1e}, "
      f"db {relative_error(db, numeric_gradient(loss, bias)):.1e}")
layer = Conv1d(C_IN, C_OUT, K, rng, padding=P, dtype=np.float64)
layer.params["weight"][:], layer.params["bias"][:] = w, bias
np.testing.assert_allclose(layer.forward(x), conv_forward(x, w, bias), rtol=1e-12)
np.testing.assert_allclose(layer.backward(G), dx, rtol=1e-10)
np.testing.assert_allclose(layer.grads["weight"], dw, rtol=1e-10)
print("minipgd's Conv1d agrees with the loops: it runs the same sums, but the loop over t inside one matrix "
      "product per tap (time steps t..t+n are one contiguous block of rows, (n*B, C))")

# %% [markdown]
# ## 2. GroupNorm
#
# Each sample's channels are split into groups; x̂ = (x − μ) r with the group's
# mean μ and r = 1/√(var + ε), y = γ x̂ + β. The trap is that μ and r depend on
# every x of the group. With g = γ ∂L/∂y and means over the group (n entries):
#
#     ∂L/∂x = r (g − mean(g) − x̂ · mean(g x̂))
#
# (the two mean terms are the gradients flowing through μ and through r).

# %%
GROUPS, C = 2, 6
x = 3 + 2 * rng.standard_normal((L, B, C))
gamma, beta, eps = rng.standard_normal(C), rng.standard_normal(C), 1e-6
G = rng.standard_normal((L, B, C))
OVER_GROUP = (0, 3)  # a sample's group: all its time steps (axis 0) x the group's channels (axis 3)


def gn_forward(x):
    xg = x.reshape(L, B, GROUPS, C // GROUPS)
    x_hat = (xg - xg.mean(axis=OVER_GROUP, keepdims=True)) / np.sqrt(xg.var(axis=OVER_GROUP, keepdims=True) + eps)
    return x_hat.reshape(x.shape) * gamma + beta


def gn_backward(G, x):
    xg = x.reshape(L, B, GROUPS, C // GROUPS)
    r = 1 / np.sqrt(xg.var(axis=OVER_GROUP, keepdims=True) + eps)
    x_hat = (xg - xg.mean(axis=OVER_GROUP, keepdims=True)) * r
    g = (G * gamma).reshape(xg.shape)
    dx = r * (g - g.mean(axis=OVER_GROUP, keepdims=True)
              - x_hat * (g * x_hat).mean(axis=OVER_GROUP, keepdims=True))
    return dx.reshape(x.shape)


def gn_loss():
    return float(np.sum(gn_forward(x) * G))


dx = gn_backward(G, x)
print(f"GroupNorm, ours vs finite differences: dx {relative_error(dx, numeric_gradient(gn_loss, x)):.1e}")
norm = GroupNorm(GROUPS, C, eps=eps, dtype=np.float64)
norm.params["weight"][:], norm.params["bias"][:] = gamma, beta
norm.forward(x)
np.testing.assert_allclose(norm.backward(G), dx, rtol=1e-8, atol=1e-10)
print("minipgd's GroupNorm (a Numba kernel with a NumPy twin) agrees")

# %% [markdown]
# Why h = 1e-6 and float64? The central difference has a truncation error
# O(h²) and a rounding error O(ε/h) (ε the machine precision), so the error is
# V-shaped in h: on this GroupNorm it bottoms out near h = 1e-4 at ~1e-10, and
# anywhere in 1e-8 … 1e-2 it is far below the tests' 1e-6. In float32
# (ε ≈ 1e-7) the bottom of the V would be around 1e-5: too coarse to prove a
# gradient right, which is why every check runs in float64.

# %%
steps = np.logspace(-10, -1, 10 if FAST else 19)
errors_h = [relative_error(dx, numeric_gradient(gn_loss, x, h)) for h in steps]
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(steps, errors_h, "o-")
ax.axhline(1e-6, color="gray", ls="--", label="the tests' tolerance")
ax.set_xlabel("finite-difference step h")
ax.set_ylabel("relative error of dL/dx (GroupNorm)")
ax.set_title("central differences in float64")
ax.legend()
fig.tight_layout()
fig.savefig(FIGURES / "tutorial03_finite_differences.png", dpi=120)
print(f"best step h = {steps[int(np.argmin(errors_h))]:.0e}, error {min(errors_h):.1e}; "
      f"figure written to {FIGURES / 'tutorial03_finite_differences.png'}")

# %% [markdown]
# ## 3. Mish
#
# y = x tanh(softplus(x)); by the product and chain rules, with sp' = sigmoid,
# dy/dx = tanh(sp(x)) + x (1 − tanh²(sp(x))) sigmoid(x).

# %%
x = 3 * rng.standard_normal(50)


def mish(x):
    return x * np.tanh(np.log1p(np.exp(x)))


def mish_grad(x):
    t = np.tanh(np.log1p(np.exp(x)))
    return t + x * (1 - t**2) / (1 + np.exp(-x))


G = rng.standard_normal(50)
print(f"Mish, ours vs finite differences: {relative_error(G * mish_grad(x), numeric_gradient(lambda: float(np.sum(mish(x) * G)), x)):.1e}")
act = Mish()
act.forward(x)
np.testing.assert_allclose(act.backward(G), G * mish_grad(x), rtol=1e-10)
print("minipgd's Mish agrees")

# %% [markdown]
# ## 4. A whole U-Net encoder block
#
# Conv → + Dense(σ-embedding) → GroupNorm → ReLU → Conv → GroupNorm → ReLU.
# Its `backward` just calls the layers' backward passes in reverse order; the
# σ-embedding was broadcast over time, so its gradient is summed over time. The
# library's checker perturbs every input and parameter array (a random subset of
# entries each) and compares.

# %%
cfg = UNetConfig(in_channels=5, horizon=8, features=16)
block = EncoderBlock(5, 16, cfg, rng, np.float64)
errors = check_gradients(block, [rng.standard_normal((8, 3, 5)), rng.standard_normal((3, 16))], rng,  # (L, B, C)
                         max_entries=8 if FAST else 24)
worst = max(errors, key=errors.get)
print(f"EncoderBlock: {len(errors)} arrays checked, worst relative error {errors[worst]:.1e} ({worst})")
assert errors[worst] < 1e-6
