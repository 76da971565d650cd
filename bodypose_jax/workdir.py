"""What a training workdir holds: its config and its latest checkpoint.

Tools that start from a trained model (export, evaluation, the demo) take a
workdir and nothing else: the trainer wrote `config.json` there, and the
checkpoint's parameters are restored against the model that config describes.
"""

import dataclasses
import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import tensorflow as tf

from bodypose_jax.data import input_pipeline
from bodypose_jax.model import pose_net
from bodypose_jax.runtime import checkpoints
from bodypose_jax.runtime import sharding
from bodypose_jax import train


@dataclasses.dataclass(frozen=True)
class Trained:
  """A restored model.

  Attributes:
    config: the run's config, as the trainer wrote it.
    model: the PoseNet it describes.
    variables: {'params', 'batch_stats'} as numpy arrays.
    step: the training step of the checkpoint.
  """

  config: ml_collections.ConfigDict
  model: pose_net.PoseNet
  variables: Any
  step: int


def _tuples(value):
  """JSON lists back to the tuples the config declares."""
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  if isinstance(value, list):
    return tuple(_tuples(v) for v in value)
  return value


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run in `workdir` was trained with, locked."""
  path = os.path.join(workdir, "config.json")
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(
        f"{path} does not exist: {workdir} is not a training workdir "
        "(bodypose_jax.main writes config.json when it starts)."
    )
  with tf.io.gfile.GFile(path) as f:
    saved = _tuples(json.load(f))
  # The trainer writes every field; those added since the oldest runs still
  # about take the value those runs trained with.
  saved.get("model", {}).setdefault("head_stride", 8)
  saved.get("loss", {}).setdefault("accel_weight", 0.0)
  config = ml_collections.ConfigDict(saved)
  config.lock()
  return config


def restore(
    workdir: str, step: int | None = None, **model_overrides
) -> Trained:
  """Restores the latest (or the given) checkpoint of `workdir`.

  Args:
    workdir: a directory written by `train.train_and_evaluate`.
    step: the checkpoint to restore; None for the latest that can be read
      (`checkpoints.restore_latest`).
    **model_overrides: `config.model` fields to change, e.g. the convolution
      formulations, which share parameters (layers.py).
  """
  config = load_config(workdir)
  manager = checkpoints.checkpoint_manager(workdir, config.keep_checkpoints)
  if step is None and manager.latest_step() is None:
    raise FileNotFoundError(
        f"No checkpoint in {manager.directory}: train first with "
        f"python -m bodypose_jax.main --workdir={workdir} ..."
    )
  with config.unlocked():
    config.model.update(model_overrides)
  model = train.create_model(config)
  _, channels = input_pipeline.modality(config)
  abstract = jax.eval_shape(
      lambda: train.create_train_state(
          jax.random.key(0),
          config,
          model,
          (1, 1, *config.input.input_size, channels),
      )
  )
  # Restore onto this machine's devices whatever topology saved it (export
  # and evaluation of a multi-host run happen on one host).
  replicated = jax.sharding.NamedSharding(
      sharding.make_mesh(), jax.sharding.PartitionSpec()
  )
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated),
      abstract,
  )
  if step is None:  # the newest readable one
    state, step = checkpoints.restore_latest(manager, abstract)
  else:
    state = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  variables = jax.tree.map(
      np.asarray, {"params": state.params, "batch_stats": state.batch_stats}
  )
  return Trained(config, model, variables, int(step))
