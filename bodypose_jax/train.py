"""Training and evaluation: state, steps, sharding, checkpoints, the loop.

The batch is data-parallel over every device of every host (a 1-D mesh named
'data'); parameters and optimiser state are replicated. A run in a workdir that
already holds checkpoints resumes from the latest one by itself.
"""

import functools
import json
import os
import time
from typing import Any

from absl import logging
from clu import metric_writers
from flax.training import train_state
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P
import ml_collections
import numpy as np
import optax
import tensorflow as tf
import orbax.checkpoint as ocp

from bodypose_jax import cli
from bodypose_jax import hardware
from bodypose_jax import heatmaps
from bodypose_jax import input_pipeline
from bodypose_jax import layers
from bodypose_jax import losses
from bodypose_jax import metrics
from bodypose_jax import models
from bodypose_jax import preemption
from bodypose_jax import skeleton


class TrainState(train_state.TrainState):
  batch_stats: Any


# ------------------------------------------------------------------- model --
def create_model(config: ml_collections.ConfigDict) -> models.PoseNet:
  """The PoseNet described by `config.model` ('auto' fields resolved)."""
  hardware.resolve(config)
  m = config.model
  return models.PoseNet(
      num_joints=skeleton.NUM_JOINTS,
      width=m.width,
      stem_features=m.stem_features,
      stages=tuple(tuple(s) for s in m.stages),
      decoder_features=m.decoder_features,
      head_stride=m.head_stride,
      decoder_features_s4=m.decoder_features_s4,
      cell=m.cell,
      cell_features=m.cell_features,
      cell_kernel=m.cell_kernel,
      cell_stride=m.cell_stride,
      cell_skip=m.cell_skip,
      warp_state=m.warp_state,
      formulation=layers.Formulation(
          m.depthwise_impl, m.pointwise_impl, m.dense_impl
      ),
      dtype=jnp.bfloat16 if m.compute_dtype == "bfloat16" else None,
  )


def create_learning_rate_fn(config: ml_collections.ConfigDict):
  """Linear warm-up to `learning_rate`, then cosine decay to the last step."""
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0,
      peak_value=config.learning_rate,
      warmup_steps=config.warmup_steps,
      decay_steps=max(config.num_train_steps, config.warmup_steps + 1),
      end_value=config.learning_rate * config.end_learning_rate_factor,
  )


def create_train_state(rng, config, model, frames_shape) -> TrainState:
  """Initialises parameters from a zero clip of shape [B, T, H, W, C]."""
  variables = model.init(rng, np.zeros(frames_shape, np.float32), train=False)
  tx = optax.chain(
      optax.clip_by_global_norm(config.grad_clip_norm),
      optax.adamw(
          create_learning_rate_fn(config), weight_decay=config.weight_decay
      ),
  )
  state = TrainState.create(
      apply_fn=model.apply,
      params=variables["params"],
      batch_stats=variables["batch_stats"],
      tx=tx,
  )
  # A strongly typed step, as a restored checkpoint's is: with create()'s
  # weakly typed Python 0 a resumed run's train step lowered to another
  # program than the fresh run's and missed the compilation cache.
  return state.replace(step=jnp.zeros((), jnp.int32))


# ------------------------------------------------------------------- steps --
def train_step(state: TrainState, batch, *, loss_config, learning_rate_fn):
  """One optimiser step on a global batch (see input_pipeline for keys)."""

  def loss_fn(params):
    outputs, updates = state.apply_fn(
        {"params": params, "batch_stats": state.batch_stats},
        batch["frames"],
        train=True,
        rois=batch["rois"],
        mutable=["batch_stats"],
    )
    loss, aux = losses.pose_loss(
        outputs,
        batch["joints"],
        batch["tracking_state"],
        confidence=batch.get("confidence"),
        **loss_config,
    )
    return loss, (aux, updates["batch_stats"])

  (loss, (aux, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params
  )
  grad_norm = optax.tree.norm(grads)
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
  updated = state.apply_gradients(grads=grads, batch_stats=batch_stats)
  # A non-finite loss or gradient leaves the model and the optimiser as they
  # were, so that no NaN can reach a checkpoint; the step still counts (it
  # is the data's position). The loop stops or goes on (`config.nonfinite`).
  keep = lambda new, old: jnp.where(finite, new, old)
  state = updated.replace(
      params=jax.tree.map(keep, updated.params, state.params),
      opt_state=jax.tree.map(keep, updated.opt_state, state.opt_state),
      batch_stats=jax.tree.map(keep, updated.batch_stats, state.batch_stats),
  )
  return state, {
      "loss": loss,
      **aux,
      "grad_norm": grad_norm,
      "learning_rate": learning_rate_fn(state.step),
      "nonfinite": (~finite).astype(jnp.float32),
  }


def make_train_step(config: ml_collections.ConfigDict):
  """`train_step` with the config's loss settings and schedule bound.

  The targets are built on the grid of the model `config` describes.
  """
  return functools.partial(
      train_step,
      loss_config=dict(
          stride=create_model(config).head_stride,
          sigma=config.loss.sigma,
          offset_weight=config.loss.offset_weight,
          inferred_weight=config.loss.inferred_weight,
      ),
      learning_rate_fn=create_learning_rate_fn(config),
  )


def eval_step(state: TrainState, batch, *, stride, pck_thresholds):
  """Metric sums over a global batch of clips, frame by frame.

  `stride` is the model's `head_stride`, input pixels per heatmap cell.
  """
  outputs = state.apply_fn(
      {"params": state.params, "batch_stats": state.batch_stats},
      batch["frames"],
      train=False,
      rois=batch["rois"],
  )
  pred, _ = heatmaps.decode(
      outputs["heatmaps"], outputs["offsets"], stride
  )
  return metrics.pose_metric_sums(
      pred, batch["joints"], batch["tracking_state"], pck_thresholds
  )


# ---------------------------------------------------------------- sharding --
def make_mesh() -> jax.sharding.Mesh:
  """A 1-D data-parallel mesh over every device of every process."""
  return jax.make_mesh((jax.device_count(),), ("data",))


def init_state(config, model, frames_shape, mesh) -> TrainState:
  """A fresh TrainState for clips [B, T, H, W, C], replicated over `mesh`."""
  return jax.jit(
      functools.partial(
          create_train_state,
          config=config,
          model=model,
          frames_shape=frames_shape,
      ),
      out_shardings=NamedSharding(mesh, P()),
  )(jax.random.key(config.seed))


def jit_train_step(config, mesh):
  """The train step on `mesh`: state replicated and donated, batch split."""
  replicated = NamedSharding(mesh, P())
  return jax.jit(
      make_train_step(config),
      in_shardings=(replicated, NamedSharding(mesh, P("data"))),
      out_shardings=(replicated, replicated),
      donate_argnums=0,
  )


def batch_spec(frames_shape, sharding) -> dict:
  """Abstract global batch (see input_pipeline) for ahead-of-time lowering."""
  b, t = frames_shape[:2]
  j = skeleton.NUM_JOINTS
  spec = {
      "frames": (frames_shape, jnp.float32),
      "joints": ((b, t, j, 2), jnp.float32),
      "tracking_state": ((b, t, j), jnp.int32),
      "confidence": ((b, t, j), jnp.float32),
      "rois": ((b, t, 3), jnp.float32),
  }
  return {
      k: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)
      for k, (shape, dtype) in spec.items()
  }


def to_global(batch, sharding):
  """Host-local numpy batch -> global jax.Arrays split along the batch axis."""
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), batch
  )


# ------------------------------------------------------------- evaluation --
def evaluate(p_eval_step, state, config, builder, batch_sharding) -> dict:
  """Runs the whole eval split and returns finalised metrics."""
  totals = None
  ds = input_pipeline.eval_dataset(config, builder, _local_batch(config))
  for batch in input_pipeline.as_numpy(ds):
    totals = metrics.accumulate(
        totals, p_eval_step(state, to_global(batch, batch_sharding))
    )
  if totals is None:
    raise ValueError(f"Eval split {config.dataset.eval_split!r} is empty.")
  return metrics.finalize(totals)


def _local_batch(config) -> int:
  if config.batch_size % jax.process_count():
    raise ValueError(
        f"batch_size {config.batch_size} is not divisible by the "
        f"{jax.process_count()} processes."
    )
  return config.batch_size // jax.process_count()


def compile_step(jitted, *args, compiler_options=None):
  """AOT-compiles `jitted` for `args`: (executable, seconds)."""
  t0 = time.perf_counter()
  executable = jitted.lower(*args).compile(compiler_options or None)
  return executable, time.perf_counter() - t0


def cost_report(executable) -> dict:
  """What XLA expects a compiled step to cost.

  XLA counts a scanned (while-loop) body once, so the FLOPs cover one time
  step of the recurrent cell.

  Returns:
    {'flops', 'bytes_accessed'} (None where XLA gives none) and 'memory':
    {'<argument|output|alias|temp|generated_code>_bytes'} or None.
  """
  try:
    cost = executable.cost_analysis()
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("cost_analysis() failed: %s", e)
    cost = None
  if isinstance(cost, (list, tuple)):  # older JAX: one dict per device
    cost = cost[0] if cost else None
  cost = cost or {}
  try:
    stats = executable.memory_analysis()
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("memory_analysis() failed: %s", e)
    stats = None
  fields = ("argument", "output", "alias", "temp", "generated_code")
  memory = None
  if stats is not None:
    memory = {
        f"{f}_bytes": int(getattr(stats, f"{f}_size_in_bytes"))
        for f in fields
        if hasattr(stats, f"{f}_size_in_bytes")
    }
  return {
      "flops": float(cost["flops"]) if "flops" in cost else None,
      "bytes_accessed": (
          float(cost["bytes accessed"]) if "bytes accessed" in cost else None
      ),
      "memory": memory,
  }


def compile_and_report(jitted, *args, compiler_options=None):
  """Compiles ahead of time and logs what XLA expects the step to cost.

  Run before the first step, so a researcher learns whether a config fits the
  device before any data is read.

  Returns:
    The compiled executable, called like `jitted`.
  """
  compiled, seconds = compile_step(
      jitted, *args, compiler_options=compiler_options
  )
  cost = cost_report(compiled)
  memory = cost["memory"] or {}
  mib = lambda n: "?" if n is None else f"{n / 2**20:.1f} MiB"
  logging.info(
      "Compiled the train step in %.1f s: %.3g FLOPs and %s accessed per "
      "step (per device; the scanned cell counted once), memory: arguments "
      "%s, outputs %s, temporaries %s, code %s.",
      seconds,
      cost["flops"] if cost["flops"] is not None else float("nan"),
      mib(cost["bytes_accessed"]),
      *(
          mib(memory.get(f"{f}_bytes"))
          for f in ("argument", "output", "temp", "generated_code")
      ),
  )
  return compiled


def absolute(path: str) -> str:
  """An absolute local path; URLs (gs://, the workdir of TPU pods) as given."""
  return path if "://" in path else os.path.abspath(path)


def checkpoint_manager(workdir: str, config) -> ocp.CheckpointManager:
  """The orbax manager of `workdir`/checkpoints, keeping the newest N."""
  return ocp.CheckpointManager(
      os.path.join(absolute(workdir), "checkpoints"),
      options=ocp.CheckpointManagerOptions(
          max_to_keep=config.keep_checkpoints, create=True
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


# -------------------------------------------------------------------- loop --
class NonFiniteStep(cli.Fault):
  """A step's loss or gradient was not finite (`config.nonfinite='stop'`).

  The step left the model unchanged and nothing after it was checkpointed:
  the latest checkpoint is the last good state.
  """

  def __init__(self, step: int, workdir: str):
    super().__init__(
        f"{workdir}: the loss or gradient of step {step} is not finite; "
        "training stopped before any checkpoint after it (set "
        "config.nonfinite='skip' to skip such steps and count them)")
    self.step = step


def _nonfinite_steps(pending: list) -> list[int]:
  """The steps of `pending` [(step, the step's 'nonfinite' flag)] whose
  loss or gradient was not finite; reading the flags waits for them."""
  flags = jax.device_get([flag for _, flag in pending])
  return [step for (step, _), bad in zip(pending, flags) if bad]


class Preempted(Exception):
  """Training stopped at `step` on SIGTERM, its checkpoint written.

  An exception rather than a return value, so that no caller goes on to
  work that needs the finished run (main's streamed evaluation would spend
  the scheduler's grace period evaluating a half-trained model).
  """

  def __init__(self, step: int):
    super().__init__(f"pre-empted at step {step}")
    self.step = step


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config` in `workdir`, resuming from its latest checkpoint.

  Returns:
    The last evaluation's metrics.

  Raises:
    Preempted: SIGTERM arrived; the step it reached is checkpointed.
    NonFiniteStep: a step's loss or gradient was not finite and
      `config.nonfinite` is 'stop'.
    cli.Fault: the workdir cannot be created.
  """
  # Before any data, model or compilation: a typo fails at once.
  if config.nonfinite not in ("stop", "skip"):
    raise ValueError(
        f"config.nonfinite={config.nonfinite!r}: 'stop' or 'skip'.")
  workdir = absolute(workdir)
  try:
    tf.io.gfile.makedirs(workdir)
  except tf.errors.OpError as e:
    raise cli.Fault(f"{workdir}: cannot create the workdir ({e.message})."
                    ) from e
  choices = hardware.resolve(config)  # recorded in config.json below
  if jax.process_index() == 0:
    with tf.io.gfile.GFile(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))
  writer = metric_writers.create_default_writer(
      workdir, just_logging=jax.process_index() > 0
  )

  builder = input_pipeline.get_builder(config)
  # Before the model: a split the build left empty fails fast, named.
  for split in (config.dataset.train_split, config.dataset.eval_split):
    input_pipeline.check_split(builder, split)
  mix_builder = input_pipeline.get_mix_builder(config)
  if mix_builder is not None:
    input_pipeline.check_split(mix_builder, config.dataset.mix_train_split)
    logging.info(
        "Mixing %d of every %d clips from %s %s.",
        input_pipeline.mix_count(config, _local_batch(config)),
        _local_batch(config),
        mix_builder.info.full_name,
        config.dataset.mix_train_split,
    )
  h, w, c, modality = input_pipeline.frame_spec(builder)
  logging.info(
      "Dataset %s/%s: %s frames stored at %dx%d, input %s.",
      config.dataset.name,
      config.dataset.builder_config,
      modality,
      h,
      w,
      tuple(config.input.input_size),
  )

  mesh = make_mesh()
  replicated = NamedSharding(mesh, P())
  batch_sharding = NamedSharding(mesh, P("data"))
  model = create_model(config)
  frames_shape = (
      config.batch_size,
      config.input.clip_length,
      *config.input.input_size,
      c,
  )
  state = init_state(config, model, frames_shape, mesh)
  num_params = sum(x.size for x in jax.tree.leaves(state.params))
  logging.info(
      "PoseNet (cell=%s): %d parameters.", config.model.cell, num_params
  )

  ckpt = checkpoint_manager(workdir, config)
  start_step = 0
  restored, _ = restore_latest(ckpt, state)
  if restored is not None:
    state = restored
    start_step = int(state.step)
    logging.info(
        "Resumed from checkpoint at step %d in %s.", start_step, ckpt.directory
    )

  p_eval_step = jax.jit(
      functools.partial(
          eval_step,
          stride=model.head_stride,
          pck_thresholds=tuple(config.pck_thresholds),
      ),
      in_shardings=(replicated, batch_sharding),
      out_shardings=replicated,
  )

  def run_eval(step, state):
    m = evaluate(p_eval_step, state, config, builder, batch_sharding)
    writer.write_scalars(step, {f"eval/{k}": v for k, v in m.items()})
    logging.info("eval at step %d: %s", step, _format_metrics(m))
    return m

  eval_metrics = {}
  total = config.num_train_steps
  if start_step >= total:
    logging.info(
        "Already trained to step %d (num_train_steps=%d): evaluating.",
        start_step,
        total,
    )
    eval_metrics = run_eval(start_step, state)
  else:
    # The batch of a step is a function of the config and the step alone:
    # a resumed run reads on where the checkpointed one stopped.
    train_iter = input_pipeline.as_numpy(
        input_pipeline.train_dataset(
            config, builder, _local_batch(config), mix_builder, start_step
        )
    )
    compiled_train_step = compile_and_report(
        jit_train_step(config, mesh),
        state,
        batch_spec(frames_shape, batch_sharding),
        compiler_options=choices.compiler_options,
    )
  t_start, steps_timed = None, 0
  # Steps whose finiteness the host has not read yet: read at every log,
  # checkpoint and evaluation, so that the check costs no sync per step.
  pending, skipped = [], 0
  trace_first = config.profile_start_step
  trace_last = trace_first + config.profile_num_steps - 1
  with preemption.Watcher() as watcher:
    for step in range(start_step + 1, total + 1):  # empty when trained
      if step == trace_first and config.profile_num_steps > 0:
        jax.profiler.start_trace(workdir)
      batch = to_global(next(train_iter), batch_sharding)
      state, train_metrics = compiled_train_step(state, batch)
      if step == trace_last and config.profile_num_steps > 0:
        jax.block_until_ready(state)
        jax.profiler.stop_trace()
        logging.info(
            "Profiler trace of steps %d-%d in %s/plugins/profile.",
            trace_first,
            step,
            workdir,
        )
      if step == start_step + 1:
        jax.block_until_ready(state)
        t_start = time.perf_counter()  # excludes compilation
      else:
        steps_timed += 1
      pending.append((step, train_metrics["nonfinite"]))
      logs = step % config.log_every_steps == 0 or step == total
      saves = step % config.checkpoint_every_steps == 0 or step == total
      evals = step % config.eval_every_steps == 0 or step == total
      preempt = watcher.reached(step)
      if logs or saves or evals or preempt:
        bad = _nonfinite_steps(pending)
        pending = []
        if bad and config.nonfinite == "stop":
          # The last good checkpoint may still be being written.
          ckpt.wait_until_finished()
          writer.flush()
          raise NonFiniteStep(bad[0], workdir)
        for b in bad:
          logging.warning("Step %d: non-finite loss or gradient, skipped.", b)
        skipped += len(bad)
        if bad:
          writer.write_scalars(step, {"train/skipped_steps": skipped})
      if logs:
        train_metrics = jax.device_get(train_metrics)
        writer.write_scalars(
            step, {f"train/{k}": v for k, v in train_metrics.items()}
        )
        rate = steps_timed / max(time.perf_counter() - t_start, 1e-9)
        eta = (total - step) / rate if rate > 0 else float("nan")
        logging.info(
            "step %d/%d  loss %.4f  %.2f steps/s  %.1f frames/s  ETA %s",
            step,
            total,
            train_metrics["loss"],
            rate,
            rate * config.batch_size * config.input.clip_length,
            _format_seconds(eta),
        )
      if preempt:
        ckpt.save(step, args=ocp.args.StandardSave(state), force=True)
        ckpt.wait_until_finished()
        logging.warning(
            "Pre-empted (SIGTERM) at step %d: checkpoint saved in %s; the "
            "same command resumes from it.",
            step,
            ckpt.directory,
        )
        writer.flush()
        raise Preempted(step)
      if saves:
        ckpt.save(step, args=ocp.args.StandardSave(state))
      if evals:
        eval_metrics = run_eval(step, state)
  ckpt.wait_until_finished()
  writer.flush()
  if jax.process_index() == 0 and eval_metrics:
    with tf.io.gfile.GFile(
        os.path.join(workdir, "eval_metrics.json"), "w"
    ) as f:
      json.dump({"step": max(start_step, total), **eval_metrics}, f, indent=2)
  return eval_metrics


def _format_seconds(seconds: float) -> str:
  if not np.isfinite(seconds):
    return "?"
  m, s = divmod(int(seconds), 60)
  return f"{m}m{s:02d}s"


def _format_metrics(m: dict) -> str:
  return "  ".join(f"{k} {v:.4g}" for k, v in sorted(m.items()))
