r"""Times the training step against a Keras baseline and the input pipeline.

  python -m bodypose_jax.tools.benchmark_train --config=configs/rgb_gru.py:synthetic \
      [--steps=20] [--warmup=3] [--rounds=2] [--keras=true] [--pipeline=true] \
      [--pipeline_batches=30] [--peak_tflops=...] [--json_out=bench.json]

prints a table to stdout (and everything, with machine info, as JSON):

* JAX train step: `train.make_train_step(config)` jitted as the trainer jits
  it (same shardings, state donated), on a random batch of the config's shape
  already on the device.
  - compile s: `jax.jit(step).lower(state, batch).compile()`, timed (tracing,
    lowering and XLA compilation; the persistent compilation cache is off).
  - step ms: median and mean of `--steps` steps after `--warmup` untimed ones,
    each ended by `jax.block_until_ready`; frames/s = B * T / median.
  - FLOPs/step: XLA's `cost_analysis()` counts the body of a scan/while loop
    once, not once per iteration, and the model scans its recurrent cell over
    the T frames of a clip, so the raw figure of the step counts the cell for
    one frame only while every other layer (which runs on all B * T frames at
    once) is counted in full. The model FLOPs are therefore T x the FLOPs of
    the same step compiled for clips of length 1 (same B): every per-frame
    layer and the cell counted T times. This overcounts the per-step work that
    does not scale with T (the optimiser update, a few FLOPs per parameter) by
    a factor T, negligible next to the convolutions. Both figures are printed.
  - MFU (GPU/TPU only): model FLOPs per step / step time / peak FLOP/s, with
    the dense peak from `--peak_tflops` or `_PEAK_TFLOPS` by device kind, at
    the precision the step's matrix products run in (bfloat16 compute: bf16;
    float32 on an NVIDIA GPU: TF32, which JAX's default precision allows).
  - memory: the compiled step's `memory_analysis()` (argument, output, alias
    and temporary bytes).
* Keras (`--keras`): keras_baseline's model of the same size and input shape,
  its step a `tf.function` on TensorFlow's own kernels (oneDNN on CPU),
  timed the same way; compile s = tracing + (first call - median step).
  Machine load drifts, so the two are timed in `--rounds` interleaved rounds
  (JAX, Keras, JAX, Keras, ...) and each reports its best round (lowest
  median). JAX / Keras < 1 means JAX is faster.
* Input pipeline (`--pipeline`): the real train tf.data pipeline of the config
  (`input_pipeline.train_dataset`), alone with no training running, frames/s
  over `--pipeline_batches` batches after `_PIPELINE_WARMUP` (which start its
  threads and, with `dataset.cache`, begin filling the cache); headroom =
  pipeline frames/s / JAX train frames/s (> 1: the pipeline is not the
  bottleneck).
"""

import json
import statistics
import time
from typing import Any, Callable

from absl import app
from absl import flags
from absl import logging
import jax
from jax.sharding import NamedSharding, PartitionSpec as P
import keras
from ml_collections import config_flags
import ml_collections
import numpy as np
import tensorflow as tf

from bodypose_jax.data import input_pipeline
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import cli
from bodypose_jax.runtime import hardware
from bodypose_jax.runtime import sharding
from bodypose_jax.runtime import xla_cost
from bodypose_jax.tools import keras_baseline
from bodypose_jax.tools import profile_tflite
from bodypose_jax import train

FLAGS = flags.FLAGS

# Dense (no sparsity) peak TFLOP/s per device kind (a substring of
# jax.devices()[0].device_kind; the longest match wins) and precision, from the
# vendors' datasheets. 'tf32' is the tensor-core rate for float32 inputs.
_PEAK_TFLOPS = {
    "H100 PCIe": {"bf16": 756.0, "tf32": 378.0, "fp32": 51.2},
    "H100": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9},  # SXM
    "H200": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "A100": {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5},
    "L4": {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3},
    "TPU v4": {"bf16": 275.0},
    "TPU v5 lite": {"bf16": 197.0},
    "TPU v5": {"bf16": 459.0},  # v5p
    "TPU v6 lite": {"bf16": 918.0},
}

# Batches drawn before the pipeline's clock starts: the first indexes the
# split's records and starts the map threads.
_PIPELINE_WARMUP = 3


# ------------------------------------------------------------------ inputs --
def random_batch(
    config: ml_collections.ConfigDict,
    rng: np.random.Generator,
    clip_length: int | None = None,
) -> dict[str, np.ndarray]:
  """A random host batch shaped like the train pipeline's.

  Args:
    config: the experiment config.
    rng: the source of randomness.
    clip_length: T; default `config.input.clip_length`.

  Returns:
    frames [B, T, H, W, C] float32 ~ N(0, 1) (normalised scale), joints
    [B, T, 25, 2] float32 uniform inside the input frame (x, y pixels),
    tracking_state [B, T, 25] int32, mostly tracked (2), some inferred (1) and
    absent (0), and rois [B, T, 3] of a person drifting through a 1080p
    frame, so the state warp between frames costs what it costs in
    training. B is `config.batch_size`, (H, W) `config.input.input_size`
    and C that of the config's modality.
  """
  b, t = config.batch_size, clip_length or config.input.clip_length
  h, w = config.input.input_size
  _, c = input_pipeline.modality(config)
  j = skeleton.NUM_JOINTS
  return {
      "frames": rng.standard_normal((b, t, h, w, c), np.float32),
      "joints": (rng.random((b, t, j, 2)) * [w - 1, h - 1]).astype(np.float32),
      "tracking_state": rng.choice(
          np.array([0, 1, 2], np.int32), (b, t, j), p=[0.1, 0.1, 0.8]
      ),
      "rois": (
          np.array([960.0, 540.0, 600.0], np.float32)
          + np.cumsum(rng.normal(0, 10, (b, t, 3)), axis=1)
      ).astype(np.float32),
  }


# ----------------------------------------------------------------- timing --
def time_steps(run: Callable[[], Any], steps: int, warmup: int) -> dict:
  """Times `run()` (one blocking step) `steps` times after `warmup` calls.

  Returns:
    step_s_median, step_s_mean and step_s (every timed step), in seconds.
  """
  if steps < 1 or warmup < 0:
    raise ValueError(f"Need steps >= 1 and warmup >= 0, got {steps}, {warmup}.")
  for _ in range(warmup):
    run()
  times = []
  for _ in range(steps):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
  return {
      "step_s_median": statistics.median(times),
      "step_s_mean": statistics.fmean(times),
      "step_s": times,
  }


def _frames_per_step(config) -> int:
  return config.batch_size * config.input.clip_length


def _with_rates(config, timing: dict) -> dict:
  return {
      **timing,
      "frames_per_s": _frames_per_step(config) / timing["step_s_median"],
  }


# -------------------------------------------------------------------- JAX --
def _jit_train_step(config) -> tuple[Any, Any, dict, Any]:
  """The trainer's own step and state (train.jit_train_step, init_state).

  Args:
    config: the experiment config ('auto' model fields resolved).

  Returns:
    (jitted step, its initial state, a random [B, T, ...] batch on the
    devices, the batch sharding), the state replicated and donated by the step.
  """
  mesh = sharding.make_mesh()
  batch_sharding = NamedSharding(mesh, P("data"))
  batch = random_batch(config, np.random.default_rng(config.seed))
  state = train.init_state(
      config, train.create_model(config), batch["frames"].shape, mesh
  )
  batch = sharding.to_global(batch, batch_sharding)
  return train.jit_train_step(config, mesh), state, batch, batch_sharding


def peak_flops(
    device_kind: str, precision: str, override_tflops: float | None = None
) -> tuple[float | None, str]:
  """Dense peak FLOP/s of one device and the precision it refers to.

  Args:
    device_kind: `jax.devices()[0].device_kind`, e.g. 'NVIDIA H100 80GB HBM3'.
    precision: 'bf16', 'tf32' or 'fp32'; a device without that rate falls
      back to its bf16 rate (TPUs run float32 matmuls as bf16 passes).
    override_tflops: a known peak in TFLOP/s, which wins.

  Returns:
    (peak FLOP/s or None when unknown, the precision label).
  """
  if override_tflops:
    return override_tflops * 1e12, f"{precision} (--peak_tflops)"
  matches = [k for k in _PEAK_TFLOPS if k.lower() in device_kind.lower()]
  if not matches:
    return None, precision
  rates = _PEAK_TFLOPS[max(matches, key=len)]
  if precision not in rates:
    precision = "bf16"
  return rates[precision] * 1e12, precision


def _step_precision(config, backend: str) -> str:
  dtype = config.model.get("compute_dtype", "float32")
  if dtype == "bfloat16" or backend == "tpu":
    return "bf16"
  return "tf32" if backend == "gpu" else "fp32"


def prepare_jax_step(
    config: ml_collections.ConfigDict, peak_tflops: float | None = None
) -> tuple[Callable[[], None], dict]:
  """Compiles the trainer's step for `config`'s batch and counts its FLOPs.

  Compiles twice: the step on [B, T, ...] clips (timed, the one that runs) and
  on [B, 1, ...] clips for the FLOP count (see the module docstring).

  Args:
    config: the experiment config; its 'auto' model fields are resolved for
      this backend, as the trainer resolves them.
    peak_tflops: overrides the device's peak for MFU.

  Returns:
    (run, info): run() performs one step and blocks until it is done; info
    holds num_params, compile_s, flops_raw (cost_analysis of the step),
    flops_t1 (of the T=1 step), flops_model (T x flops_t1), memory, backend,
    device_kind, peak_flops, peak_precision and the resolved formulation.
  """
  config = hardware.resolved(config)
  t = config.input.clip_length
  jitted, state, batch, batch_sharding = _jit_train_step(config)
  options = hardware.resolve(config).compiler_options
  logging.info("Compiling the JAX train step (T=%d).", t)
  executable, compile_s = xla_cost.compile_step(
      jitted, state, batch, compiler_options=options
  )
  logging.info("Compiled in %.1f s; compiling T=1 for FLOPs.", compile_s)
  # Parameters do not depend on T, so the same state serves; lowering only
  # reads shapes and donates nothing.
  batch_t1 = sharding.to_global(
      random_batch(config, np.random.default_rng(config.seed), clip_length=1),
      batch_sharding,
  )
  flops_t1 = xla_cost.cost_report(
      xla_cost.compile_step(jitted, state, batch_t1, compiler_options=options)[0]
  )["flops"]
  cost = xla_cost.cost_report(executable)
  backend = hardware.backend()
  device_kind = jax.devices()[0].device_kind
  peak, precision = peak_flops(
      device_kind, _step_precision(config, backend), peak_tflops
  )
  info = {
      "num_params": int(sum(x.size for x in jax.tree.leaves(state.params))),
      "compile_s": compile_s,
      "flops_raw": cost["flops"],
      "flops_t1": flops_t1,
      "flops_model": None if flops_t1 is None else t * flops_t1,
      "memory": cost["memory"],
      "backend": backend,
      "device_kind": device_kind,
      "device_count": jax.device_count(),
      # MFU is for accelerators; a CPU's peak depends on clocks and ISA.
      "peak_flops": None if backend == "cpu" else peak,
      "peak_precision": precision,
      "depthwise_impl": config.model.depthwise_impl,
      "pointwise_impl": config.model.pointwise_impl,
      "dense_impl": config.model.dense_impl,
      "compute_dtype": config.model.get("compute_dtype", "float32"),
  }
  holder = {"state": state}  # the step donates the state it gets

  def run():
    holder["state"], metrics = executable(holder["state"], batch)
    jax.block_until_ready((holder["state"], metrics))

  return run, info


def _jax_results(config, info: dict, timing: dict) -> dict:
  out = {**info, **_with_rates(config, timing)}
  step_s = timing["step_s_median"]
  out["model_flops_per_s"] = (
      None if info["flops_model"] is None else info["flops_model"] / step_s
  )
  out["mfu"] = (
      None
      if info["peak_flops"] is None or out["model_flops_per_s"] is None
      else out["model_flops_per_s"] / info["peak_flops"]
  )
  return out


def time_jax_step(
    config: ml_collections.ConfigDict,
    steps: int,
    warmup: int,
    peak_tflops: float | None = None,
) -> dict:
  """Compiles and times the JAX train step on a random batch.

  Returns:
    prepare_jax_step's info plus step_s_median, step_s_mean, step_s (each
    timed step), frames_per_s (B * T / median), model_flops_per_s and mfu
    (None on CPU or for an unknown device).
  """
  run, info = prepare_jax_step(config, peak_tflops)
  return _jax_results(config, info, time_steps(run, steps, warmup))


# ------------------------------------------------------------------ Keras --
def prepare_keras_step(
    config: ml_collections.ConfigDict,
) -> tuple[Callable[[], None], dict]:
  """Builds and traces the Keras baseline's step on a random batch.

  Returns:
    (run, info) as keras_baseline.prepare_step, info with compile_s added:
    tracing plus the first call's graph optimisation, estimated once the
    step time is known (see `time_keras_step`).
  """
  logging.info("Building and tracing the Keras baseline.")
  batch = random_batch(config, np.random.default_rng(config.seed))
  return keras_baseline.prepare_step(config, batch)


def _keras_results(config, info: dict, timing: dict) -> dict:
  out = {**info, **_with_rates(config, timing)}
  # The first call optimises the graph and runs one step; only the former is
  # the analogue of XLA's compilation.
  out["compile_s"] = info["trace_s"] + max(
      info["first_call_s"] - timing["step_s_median"], 0.0
  )
  return out


def time_keras_step(config: ml_collections.ConfigDict, steps: int, warmup: int):
  """Builds, traces and times the Keras baseline's train step.

  Returns:
    num_params, trace_s, first_call_s, compile_s, step_s_median, step_s_mean,
    step_s and frames_per_s, as `time_jax_step`.
  """
  run, info = prepare_keras_step(config)
  return _keras_results(config, info, time_steps(run, steps, warmup))


# --------------------------------------------------------------- pipeline --
def time_pipeline(config: ml_collections.ConfigDict, batches: int) -> dict:
  """Frames/s the real train tf.data pipeline delivers with nothing else busy.

  Args:
    config: the experiment config (`dataset` built or buildable).
    batches: batches timed after `_PIPELINE_WARMUP` untimed ones. The
      prefetch buffer may hold up to `dataset.prefetch` ready batches when
      the clock starts, so use many more than that.

  Returns:
    batches, frames (timed), seconds, frames_per_s and first_batch_s (time to
    the first batch: pipeline start-up, indexing the split's records).
  """
  if batches < 1:
    raise ValueError(f"Need batches >= 1, got {batches}.")
  builder = input_pipeline.get_builder(config)
  local_batch = config.batch_size // jax.process_count()
  t0 = time.perf_counter()
  it = input_pipeline.as_numpy(
      input_pipeline.train_dataset(config, builder, local_batch)
  )
  next(it)
  first_batch_s = time.perf_counter() - t0
  for _ in range(_PIPELINE_WARMUP - 1):
    next(it)
  frames = 0
  t0 = time.perf_counter()
  for _ in range(batches):
    b, t = next(it)["frames"].shape[:2]
    frames += b * t
  seconds = time.perf_counter() - t0
  return {
      "batches": batches,
      "frames": frames,
      "seconds": seconds,
      "frames_per_s": frames / seconds,
      "first_batch_s": first_batch_s,
  }


# -------------------------------------------------------------- benchmark --
def _best(rounds: list[dict]) -> dict:
  """The round with the lowest median: the least disturbed by other load."""
  best = min(rounds, key=lambda r: r["step_s_median"])
  return {**best, "round_medians_s": [r["step_s_median"] for r in rounds]}


def benchmark(
    config: ml_collections.ConfigDict,
    steps: int,
    warmup: int,
    rounds: int = 2,
    keras: bool = True,
    pipeline: bool = True,
    pipeline_batches: int = 30,
    peak_tflops: float | None = None,
) -> dict:
  """Everything the command reports, measured in one process.

  JAX and Keras are compiled first, then timed in `rounds` interleaved rounds
  (each reports its best), then the input pipeline runs alone.

  Returns:
    {'jax': time_jax_step's keys, 'keras': time_keras_step's (or None),
    'pipeline': time_pipeline's (or None), 'comparison': ratios}; 'jax' and
    'keras' also list round_medians_s.
  """
  if rounds < 1:
    raise ValueError(f"Need rounds >= 1, got {rounds}.")
  jax_run, jax_info = prepare_jax_step(config, peak_tflops)
  keras_run, keras_info = prepare_keras_step(config) if keras else (None, None)
  jax_rounds, keras_rounds = [], []
  for r in range(rounds):
    logging.info("Round %d/%d: JAX, %d steps.", r + 1, rounds, steps)
    jax_rounds.append(time_steps(jax_run, steps, warmup))
    if keras:
      logging.info("Round %d/%d: Keras, %d steps.", r + 1, rounds, steps)
      keras_rounds.append(time_steps(keras_run, steps, warmup))
  results = {
      "jax": _jax_results(config, jax_info, _best(jax_rounds)),
      "keras": (
          _keras_results(config, keras_info, _best(keras_rounds))
          if keras
          else None
      ),
      "pipeline": None,
      "comparison": {},
  }
  comparison = results["comparison"]
  if keras:
    comparison["jax_over_keras_step_time"] = (
        results["jax"]["step_s_median"] / results["keras"]["step_s_median"]
    )
    comparison["keras_over_jax_params"] = (
        results["keras"]["num_params"] / results["jax"]["num_params"]
    )
  if pipeline:
    logging.info("Timing the input pipeline, %d batches.", pipeline_batches)
    results["pipeline"] = time_pipeline(config, pipeline_batches)
    comparison["pipeline_headroom"] = (
        results["pipeline"]["frames_per_s"] / results["jax"]["frames_per_s"]
    )
  return results


def machine_info() -> dict[str, Any]:
  """profile_tflite.machine_info plus the JAX and Keras side."""
  return {
      **profile_tflite.machine_info(),
      "jax": jax.__version__,
      "jaxlib": jax.lib.__version__,
      "keras": keras.__version__,
      "backend": jax.default_backend(),
      "device_kind": jax.devices()[0].device_kind,
      "device_count": jax.device_count(),
  }


# ------------------------------------------------------------------ table --
def _num(x, fmt: str, scale: float = 1.0, none: str = "n/a") -> str:
  return none if x is None else format(x * scale, fmt)


def _bytes(n) -> str:
  return "n/a" if n is None else f"{n / 2**20:.1f} MiB"


def format_table(config: ml_collections.ConfigDict, results: dict) -> str:
  """The human-readable report of `benchmark`'s results."""
  j, k, p = results["jax"], results["keras"], results["pipeline"]
  cmp = results["comparison"]
  h, w = config.input.input_size
  _, c = input_pipeline.modality(config)
  rows = []

  def row(label, jax_value, keras_value=""):
    rows.append(f"{label:<34}{jax_value:<24}{keras_value}".rstrip())

  row("", "JAX (XLA)", "Keras (TF)" if k else "")
  row(
      "parameters",
      f"{j['num_params']:,}",
      f"{k['num_params']:,} ({cmp['keras_over_jax_params'] - 1:+.1%})"
      if k
      else "",
  )
  row(
      "compile s",
      f"{j['compile_s']:.1f}",
      f"{k['compile_s']:.1f} (trace {k['trace_s']:.1f})" if k else "",
  )
  row(
      "step ms median / mean",
      f"{j['step_s_median'] * 1e3:.1f} / {j['step_s_mean'] * 1e3:.1f}",
      f"{k['step_s_median'] * 1e3:.1f} / {k['step_s_mean'] * 1e3:.1f}"
      if k
      else "",
  )
  row(
      "  round medians ms",
      " ".join(f"{s * 1e3:.1f}" for s in j["round_medians_s"]),
      " ".join(f"{s * 1e3:.1f}" for s in k["round_medians_s"]) if k else "",
  )
  row(
      "frames/s",
      f"{j['frames_per_s']:.1f}",
      f"{k['frames_per_s']:.1f}" if k else "",
  )
  if k:
    ratio = cmp["jax_over_keras_step_time"]
    row(
        "JAX / Keras step time",
        f"{ratio:.2f} ({'JAX' if ratio < 1 else 'Keras'} faster)",
    )
  rows.append("")
  row("GFLOPs/step (model = T x T=1)", _num(j["flops_model"], ".3f", 1e-9))
  row("GFLOPs/step (T=1 step)", _num(j["flops_t1"], ".3f", 1e-9))
  row(
      "GFLOPs/step (raw cost_analysis)",
      _num(j["flops_raw"], ".3f", 1e-9),
      "(scan body counted once)",
  )
  row("achieved GFLOP/s", _num(j["model_flops_per_s"], ".1f", 1e-9))
  if j["mfu"] is None:
    why = "CPU" if j["backend"] == "cpu" else "peak unknown, --peak_tflops"
    row("MFU", f"n/a ({why})")
  else:
    row(
        "MFU",
        f"{j['mfu']:.2%}",
        f"of {j['peak_flops'] / 1e12:.0f} TFLOP/s {j['peak_precision']}",
    )
  mem = j["memory"] or {}
  row(
      "XLA memory: arguments / outputs",
      " / ".join(
          _bytes(mem.get(k)) for k in ("argument_bytes", "output_bytes")
      ),
      f"(aliased {_bytes(mem.get('alias_bytes'))})",
  )
  row("XLA memory: temporaries", _bytes(mem.get("temp_bytes")))
  if p:
    rows.append("")
    row(
        "input pipeline frames/s",
        f"{p['frames_per_s']:.1f}",
        f"({p['batches']} batches; first batch {p['first_batch_s']:.1f} s)",
    )
    row("headroom (pipeline / JAX step)", f"{cmp['pipeline_headroom']:.2f}")
  title = (
      f"Train step, B={config.batch_size} T={config.input.clip_length}"
      f" {h}x{w}x{c}, cell {config.model.cell}, {j['backend']}"
      f" ({j['device_kind']}, {j['device_count']} device(s)),"
      f" {j['depthwise_impl']}/{j['pointwise_impl']}/{j['dense_impl']}"
      f" {j['compute_dtype']}"
  )
  return "\n".join([title, *rows])


# -------------------------------------------------------------------- CLI --
def _define_flags():
  # Defined only when run as a program, so that the library can be imported
  # beside other commands (tests import several in one process).
  config_flags.DEFINE_config_file(
      "config",
      None,
      "Experiment config file, optionally with ':variant'.",
      lock_config=True,
  )
  flags.DEFINE_integer("steps", 20, "Timed steps per round.")
  flags.DEFINE_integer("warmup", 3, "Untimed steps before each round.")
  flags.DEFINE_integer(
      "rounds", 2, "Interleaved JAX/Keras timing rounds; the best is reported."
  )
  flags.DEFINE_bool("keras", True, "Time the tf.keras baseline too.")
  flags.DEFINE_bool("pipeline", True, "Time the tf.data train pipeline.")
  flags.DEFINE_integer("pipeline_batches", 30, "Timed pipeline batches.")
  flags.DEFINE_float(
      "peak_tflops",
      None,
      "Peak TFLOP/s of one accelerator for MFU; default from a table by "
      "device kind.",
  )
  flags.DEFINE_string("json_out", None, "Optional path for the JSON report.")
  flags.mark_flags_as_required(["config"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Before anything starts JAX: the trainer's host set-up (main.py's).
  logging.info(hardware.configure_host(FLAGS.config.reuse_host_memory))
  if FLAGS.json_out:
    cli.check_writable(FLAGS.json_out)  # before minutes of timing
  # A cached executable would make the compile time meaningless.
  jax.config.update("jax_enable_compilation_cache", False)
  # tf.data and the Keras baseline run on the host, as in training.
  tf.config.set_visible_devices([], "GPU")
  config = FLAGS.config
  results = benchmark(
      config,
      FLAGS.steps,
      FLAGS.warmup,
      rounds=FLAGS.rounds,
      keras=FLAGS.keras,
      pipeline=FLAGS.pipeline,
      pipeline_batches=FLAGS.pipeline_batches,
      peak_tflops=FLAGS.peak_tflops,
  )
  print(format_table(config, results))
  if FLAGS.json_out:
    report = {
        **results,
        "machine": machine_info(),
        "settings": {
            "config_file": config_flags.get_config_filename(FLAGS["config"]),
            "steps": FLAGS.steps,
            "warmup": FLAGS.warmup,
            "rounds": FLAGS.rounds,
            "pipeline_batches": FLAGS.pipeline_batches,
            "peak_tflops": FLAGS.peak_tflops,
        },
        "config": json.loads(config.to_json_best_effort()),
    }
    cli.write_json(FLAGS.json_out, report, indent=2)
    logging.info("Wrote %s.", FLAGS.json_out)


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
