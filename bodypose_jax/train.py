"""The trainer: model and state, the steps, their sharding, and the loop.

`train_and_evaluate` reads top to bottom in six marked stages: config and
workdir, data, model and state (restored), the compiled steps, the loop (log,
checkpoint, evaluate on schedule), finish. The batch is data-parallel over
every device of every host (`runtime/sharding.py`); parameters and optimiser
state are replicated. A run in a workdir that already holds checkpoints
resumes from the newest readable one by itself (`runtime/checkpoints.py`).
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

from bodypose_jax.data import input_pipeline
from bodypose_jax.evaluators import metrics
from bodypose_jax.model import heatmaps
from bodypose_jax.model import losses
from bodypose_jax.model import pose_net
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import checkpoints
from bodypose_jax.runtime import cli
from bodypose_jax.runtime import hardware
from bodypose_jax.runtime import preemption
from bodypose_jax.runtime import sharding
from bodypose_jax.runtime import xla_cost


class TrainState(train_state.TrainState):
  batch_stats: Any


# ------------------------------------------------------------------- model --
def create_model(config: ml_collections.ConfigDict) -> pose_net.PoseNet:
  """The PoseNet described by `config.model`, compiled as this backend wants
  ('auto' fields: `hardware.resolve`)."""
  return pose_net.from_config(config.model, hardware.resolve(config))


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
          accel_weight=config.loss.accel_weight,
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


def batch_spec(frames_shape, batch_sharding) -> dict:
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
      k: jax.ShapeDtypeStruct(shape, dtype, sharding=batch_sharding)
      for k, (shape, dtype) in spec.items()
  }


# ------------------------------------------------------------- evaluation --
def evaluate_clips(p_eval_step, state, config, builder, batch_sharding) -> dict:
  """Metrics over the eval split's clips, each cropped around its ground
  truth: the trainer's quick check (the tracked, streamed evaluation of
  whole videos is `evaluators.evaluate`)."""
  totals = None
  ds = input_pipeline.eval_dataset(config, builder, _local_batch(config))
  for batch in input_pipeline.as_numpy(ds):
    totals = metrics.accumulate(
        totals, p_eval_step(state, sharding.to_global(batch, batch_sharding))
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


class _NonFiniteGuard:
  """Reads the steps' 'nonfinite' flags only when the host syncs anyway (at
  logs, checkpoints and evaluations), so the check costs no sync per step."""

  def __init__(self, policy: str, workdir: str):
    self.policy, self.workdir = policy, workdir
    self.pending, self.skipped = [], 0

  def add(self, step: int, flag):
    self.pending.append((step, flag))

  def check(self, step: int, ckpt, writer):
    """Raises NonFiniteStep (policy 'stop') or counts the bad steps."""
    flags = jax.device_get([flag for _, flag in self.pending])
    bad = [s for (s, _), flag in zip(self.pending, flags) if flag]
    self.pending = []
    if bad and self.policy == "stop":
      ckpt.wait_until_finished()  # the last good checkpoint may be writing
      writer.flush()
      raise NonFiniteStep(bad[0], self.workdir)
    for b in bad:
      logging.warning("Step %d: non-finite loss or gradient, skipped.", b)
    if bad:
      self.skipped += len(bad)
      writer.write_scalars(step, {"train/skipped_steps": self.skipped})


class Preempted(Exception):
  """Training stopped at `step` on SIGTERM, its checkpoint written.

  An exception rather than a return value, so that no caller goes on to
  work that needs the finished run (main's streamed evaluation would spend
  the scheduler's grace period evaluating a half-trained model).
  """

  def __init__(self, step: int):
    super().__init__(f"pre-empted at step {step}")
    self.step = step


def _open_workdir(config, workdir: str):
  """Stage 1: the workdir, its config.json (what later tools read) and the
  metric writer. Returns (absolute workdir, writer)."""
  workdir = checkpoints.absolute(workdir)
  try:
    tf.io.gfile.makedirs(workdir)
  except tf.errors.OpError as e:
    raise cli.Fault(f"{workdir}: cannot create the workdir ({e.message})."
                    ) from e
  if jax.process_index() == 0:
    with tf.io.gfile.GFile(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))
  writer = metric_writers.create_default_writer(
      workdir, just_logging=jax.process_index() > 0
  )
  return workdir, writer


def _open_data(config):
  """Stage 2: the builders, checked before any model is built: a split the
  build left empty or a modality the trainer cannot read fails fast, named.

  Returns (builder, mix builder or None, channels).
  """
  input_pipeline.modality(config)  # refuses rgbd and ir before any build
  builder = input_pipeline.get_builder(config)
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
  return builder, mix_builder, c


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
  # ---- 1. config and workdir. Before any data or compilation: a typo fails
  # at once. The backend's choices for 'auto' fields go into config.json.
  if config.nonfinite not in ("stop", "skip"):
    raise ValueError(
        f"config.nonfinite={config.nonfinite!r}: 'stop' or 'skip'.")
  config = hardware.resolved(config)
  workdir, writer = _open_workdir(config, workdir)

  # ---- 2. data.
  builder, mix_builder, channels = _open_data(config)

  # ---- 3. model and state, restored from the newest readable checkpoint.
  mesh = sharding.make_mesh()
  replicated = NamedSharding(mesh, P())
  batch_sharding = NamedSharding(mesh, P("data"))
  model = create_model(config)
  frames_shape = (
      config.batch_size,
      config.input.clip_length,
      *config.input.input_size,
      channels,
  )
  state = init_state(config, model, frames_shape, mesh)
  logging.info(
      "PoseNet (cell=%s): %d parameters.",
      config.model.cell,
      sum(x.size for x in jax.tree.leaves(state.params)),
  )
  ckpt = checkpoints.checkpoint_manager(workdir, config.keep_checkpoints)
  restored, start_step = checkpoints.restore_latest(ckpt, state)
  if restored is None:
    start_step = 0
  else:
    state = restored
    logging.info(
        "Resumed from checkpoint at step %d in %s.", start_step, ckpt.directory
    )

  # ---- 4. steps, compiled.
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
    m = evaluate_clips(p_eval_step, state, config, builder, batch_sharding)
    writer.write_scalars(step, {f"eval/{k}": v for k, v in m.items()})
    logging.info("eval at step %d: %s", step, _format_metrics(m))
    return m

  total = config.num_train_steps
  if start_step >= total:
    logging.info(
        "Already trained to step %d (num_train_steps=%d): evaluating.",
        start_step,
        total,
    )
    eval_metrics = run_eval(start_step, state)
    _finish(workdir, writer, ckpt, max(start_step, total), eval_metrics)
    return eval_metrics
  # The batch of a step is a function of the config and the step alone: a
  # resumed run reads on where the checkpointed one stopped.
  train_iter = input_pipeline.as_numpy(
      input_pipeline.train_dataset(
          config, builder, _local_batch(config), mix_builder, start_step
      )
  )
  compiled_train_step = xla_cost.compile_and_report(
      jit_train_step(config, mesh),
      state,
      batch_spec(frames_shape, batch_sharding),
      compiler_options=hardware.resolve(config).compiler_options,
  )

  # ---- 5. the loop: step, then log / checkpoint / evaluate on schedule.
  eval_metrics = {}
  timer = _Throughput(config)
  guard = _NonFiniteGuard(config.nonfinite, workdir)
  trace = _Trace(config, workdir)
  with preemption.Watcher() as watcher:
    for step in range(start_step + 1, total + 1):
      trace.before(step)
      batch = sharding.to_global(next(train_iter), batch_sharding)
      state, train_metrics = compiled_train_step(state, batch)
      trace.after(step, state)
      timer.stepped(step == start_step + 1, state)
      guard.add(step, train_metrics["nonfinite"])
      logs = step % config.log_every_steps == 0 or step == total
      saves = step % config.checkpoint_every_steps == 0 or step == total
      evals = step % config.eval_every_steps == 0 or step == total
      preempt = watcher.reached(step)
      if logs or saves or evals or preempt:
        guard.check(step, ckpt, writer)
      if logs:
        train_metrics = jax.device_get(train_metrics)
        writer.write_scalars(
            step, {f"train/{k}": v for k, v in train_metrics.items()}
        )
        timer.log(step, total, train_metrics["loss"])
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

  # ---- 6. finish: every checkpoint written, the last evaluation on disk.
  _finish(workdir, writer, ckpt, total, eval_metrics)
  return eval_metrics


def _finish(workdir, writer, ckpt, step: int, eval_metrics: dict):
  ckpt.wait_until_finished()
  writer.flush()
  if jax.process_index() == 0 and eval_metrics:
    with tf.io.gfile.GFile(
        os.path.join(workdir, "eval_metrics.json"), "w"
    ) as f:
      json.dump({"step": step, **eval_metrics}, f, indent=2)


class _Throughput:
  """Steps/s and frames/s since the first step (compilation excluded)."""

  def __init__(self, config):
    self.frames_per_step = config.batch_size * config.input.clip_length
    self.t_start, self.steps = None, 0

  def stepped(self, first: bool, state):
    if first:
      jax.block_until_ready(state)
      self.t_start = time.perf_counter()
    else:
      self.steps += 1

  def log(self, step: int, total: int, loss):
    rate = self.steps / max(time.perf_counter() - self.t_start, 1e-9)
    eta = (total - step) / rate if rate > 0 else float("nan")
    logging.info(
        "step %d/%d  loss %.4f  %.2f steps/s  %.1f frames/s  ETA %s",
        step,
        total,
        loss,
        rate,
        rate * self.frames_per_step,
        _format_seconds(eta),
    )


class _Trace:
  """A profiler trace of `config.profile_num_steps` steps from
  `config.profile_start_step`, written to the workdir."""

  def __init__(self, config, workdir: str):
    self.first = config.profile_start_step
    self.last = self.first + config.profile_num_steps - 1
    self.on = config.profile_num_steps > 0
    self.workdir = workdir

  def before(self, step: int):
    if self.on and step == self.first:
      jax.profiler.start_trace(self.workdir)

  def after(self, step: int, state):
    if self.on and step == self.last:
      jax.block_until_ready(state)
      jax.profiler.stop_trace()
      logging.info(
          "Profiler trace of steps %d-%d in %s/plugins/profile.",
          self.first,
          step,
          self.workdir,
      )


def _format_seconds(seconds: float) -> str:
  if not np.isfinite(seconds):
    return "?"
  m, s = divmod(int(seconds), 60)
  return f"{m}m{s:02d}s"


def _format_metrics(m: dict) -> str:
  return "  ".join(f"{k} {v:.4g}" for k, v in sorted(m.items()))
