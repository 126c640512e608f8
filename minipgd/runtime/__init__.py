"""How many threads minipgd's work uses: the thread policy, the load it reads, the worker pool.

Not part of the method: the layers above (nn, diffusion, rl, ...) call it so that
minipgd stays fast on a busy machine, not only on a quiet one.
"""
