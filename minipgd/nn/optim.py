"""Adam, the cosine learning-rate schedule (Table 3) and gradient-norm clipping."""
import math

import numpy as np

from .kernels import adam_update


class Adam:
    """Adam over all of a module's parameters at once (its packed buffers); lr 2e-3 is Table 3's value."""

    def __init__(self, module, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.grads = module.parameter_buffers()
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m, self.v = np.zeros_like(self.params), np.zeros_like(self.params)
        self.t = 0

    def step(self, lr=None):
        """One update with the current gradients; `lr` overrides the base rate (for schedules)."""
        self.t += 1
        lr = self.lr if lr is None else lr
        adam_update(self.params, self.grads, self.m, self.v, lr, self.beta1, self.beta2, self.eps, self.t)

    def state_dict(self):
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state):
        if set(state) != {"m", "v", "t"} or state["m"].shape != self.m.shape or state["v"].shape != self.v.shape:
            raise ValueError(f"optimizer state does not match a model with {self.m.size} parameters")
        self.m[...], self.v[...] = state["m"], state["v"]
        self.t = int(state["t"])


def cosine_lr(step, total_steps, base_lr, warmup_steps=0, final_lr=0.0):
    """Linear warm-up to `base_lr`, then cosine decay to `final_lr` at `total_steps` (Table 3: cosine decay)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return final_lr + 0.5 * (base_lr - final_lr) * (1.0 + math.cos(math.pi * progress))


def clip_grad_norm(module, max_norm):
    """Scale all gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping."""
    _, grads = module.parameter_buffers()
    norm = math.sqrt(float(np.vdot(grads, grads)))
    if norm > max_norm:
        grads *= max_norm / (norm + 1e-12)
    return norm
