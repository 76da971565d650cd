"""A workdir's orbax checkpoints: the manager, and the newest readable one.

A run resumes from `restore_latest`; a checkpoint whose write was killed or
whose files were cut short is skipped with a warning, never restored.
"""

import os

from absl import logging
import orbax.checkpoint as ocp
import tensorflow as tf

from bodypose_jax.runtime import cli


def absolute(path: str) -> str:
  """An absolute local path; URLs (gs://, the workdir of TPU pods) as given."""
  return path if "://" in path else os.path.abspath(path)


def checkpoint_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  """The orbax manager of `workdir`/checkpoints, keeping the newest N."""
  return ocp.CheckpointManager(
      os.path.join(absolute(workdir), "checkpoints"),
      options=ocp.CheckpointManagerOptions(
          max_to_keep=keep, create=True
      ),
  )


def restore_latest(manager: ocp.CheckpointManager, target):
  """(state, step) of the newest checkpoint of `manager` that restores onto
  `target` (a state or its abstract tree); (None, None) when there is none.

  A write that was killed leaves a temporary folder orbax never lists: it
  is named in a warning and left alone. A checkpoint that fails to read
  (a truncated file) is named in a warning and the one before it tried.

  Raises:
    UnreadableCheckpoints: every checkpoint there failed to read; it names
      them and the newest one's reason (e.g. a model of another config).
  """
  folder = str(manager.directory)
  if tf.io.gfile.isdir(folder):
    for name in sorted(tf.io.gfile.listdir(folder)):
      if ".orbax-checkpoint-tmp" in name:
        logging.warning("Ignoring %s: an interrupted checkpoint write.",
                        os.path.join(folder, name.rstrip("/")))
  steps = sorted(manager.all_steps(), reverse=True)
  reasons = []
  for step in steps:
    try:
      return manager.restore(step, args=ocp.args.StandardRestore(target)), step
    except Exception as e:  # pylint: disable=broad-except
      # orbax and TensorStore raise plain Exceptions for unreadable data.
      reasons.append(str(e).splitlines()[0][:200] if str(e) else repr(e))
      logging.warning("Checkpoint %s cannot be read (%s): skipped.",
                      os.path.join(folder, str(step)), reasons[-1])
  if steps:
    raise UnreadableCheckpoints(
        f"No checkpoint of {folder} can be read (steps {steps}); the newest "
        f"fails with: {reasons[0]}. A checkpoint of another config (another "
        "architecture) fails so too. Move them away to train from scratch.")
  return None, None


class UnreadableCheckpoints(cli.Fault, RuntimeError):
  """No checkpoint of a workdir restores (`restore_latest`)."""
