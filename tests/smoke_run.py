"""The settings of the shared trained workdir (conftest's `smoke_workdir`).

Few clips at a high rate, logging every step: one run serves the training
loop's tests (the loss falls, checkpoints are kept, a raised budget
resumes) and the tools' (evaluate, export).
"""

from configs import rgb_gru

STEPS = 60
CHECKPOINT_EVERY = 20
LEARNING_RATE = 1e-2


def config(data_dir, **overrides):
  """rgb_gru.py:smoke reading `data_dir`, with `overrides` set."""
  c = rgb_gru.get_config("smoke")
  with c.unlocked():
    c.dataset.data_dir = data_dir
    for key, value in overrides.items():
      c[key] = value
  return c
