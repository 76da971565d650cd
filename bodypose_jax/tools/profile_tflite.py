r"""Profiles .tflite models side by side: size, params, FLOPs, latency, memory.

  python -m bodypose_jax.tools.profile_tflite a.tflite b.tflite --threads=1,2,4 \
      --warmup=10 --runs=100 --baseline=b.tflite \
      --json_out=prof.json --markdown_out=prof.md

Prints one markdown table, one row per model, to stdout. Every model is
measured the same way, one after another:

* size MB: the file's size on disk. MB here and for memory is 2**20 bytes.
* params: the number of elements of the constant tensors of subgraph 0, i.e.
  tensors whose buffer is non-empty, each tensor counted once however many
  operators read it. This includes the converter's small constants (shapes,
  zero biases it adds to depthwise convolutions). Constants of other subgraphs
  (e.g. the `init` subgraph that builds a recurrent model's zero state) are
  not weights of the per-frame computation and are left out.
* GFLOPs/frame: FLOPs of one invoke() of subgraph 0, counted from tensor
  shapes in the flatbuffer:
  - CONV_2D: 2 * out_elements * kh * kw * cin_per_group, kernel shape
    [cout, kh, kw, cin_per_group] (so grouped convolutions count their groups).
  - DEPTHWISE_CONV_2D: 2 * out_elements * kh * kw, kernel [1, kh, kw, cout].
  - CONV_3D: 2 * out_elements * kd * kh * kw * cin, kernel
    [kd, kh, kw, cin, cout].
  - FULLY_CONNECTED: 2 * out_elements * k, weights [units, k].
  - BATCH_MATMUL: 2 * out_elements * k, k the contracted dim of the left
    operand (its last dim, or second to last with adj_x).
  - TRANSPOSE_CONV: 2 * in_elements * cout * kh * kw, weights
    [cout, kh, kw, cin], input the op's third operand.
  - 1 FLOP per output element for elementwise arithmetic: ADD, SUB, MUL, DIV,
    SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, POW, FLOOR_DIV, FLOOR_MOD, LOGISTIC,
    TANH, RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1, LEAKY_RELU, PRELU,
    HARD_SWISH, ELU, GELU, EXP, LOG, SQRT, RSQRT, SQUARE, ABS, NEG, SIN, COS;
    ADD_N counts (inputs - 1) per output element.
  - Everything else counts 0: biases and activations fused into the ops
    above, data movement (reshape, concat, pad, resize, (de)quantize),
    pooling, reductions, softmax, and the bodies of control-flow subgraphs.
  Dynamic dimensions (-1) count as 1.
* peak MB: growth of peak resident memory while loading, allocating and
  running the model (all thread counts), over the resident memory just before
  loading, in a fresh process of its own so that it belongs to that model
  alone.
* p50/p90 ms and FPS (= 1000 / p50) per thread count: tf.lite.Interpreter with
  num_threads=n and its default XNNPACK delegate, subgraph 0 through the plain
  invoke(), inputs set once to random data (floats uniform in [0, 1), integers
  uniform over their dtype's range), `--warmup` untimed invokes, then
  `--runs` timed invoke() calls.
* xbase (with --baseline): p50(model) / p50(baseline) at the same thread
  count, both measured in this run.
* --rounds=R measures the whole sequence of models R times over (each time
  in fresh processes) and reports medians over the rounds; xbase is then the
  median of the R within-round ratios. On a machine whose load drifts (other
  jobs), this keeps a slow minute from landing on one model only.
"""

from collections.abc import Sequence
import concurrent.futures
import datetime
import math
import multiprocessing
import os
import platform
import resource
import sys
import time
from typing import Any
import warnings

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema_fb
from tensorflow.lite.tools import flatbuffer_utils

from bodypose_jax.runtime import cli

FLAGS = flags.FLAGS

_OP = schema_fb.BuiltinOperator
# getattr: some of these ops are newer than older TensorFlow schemas.
_ELEMENTWISE_OPS = frozenset(
    code
    for code in (
        getattr(_OP, name, None)
        for name in (
            "ADD",
            "SUB",
            "MUL",
            "DIV",
            "SQUARED_DIFFERENCE",
            "MAXIMUM",
            "MINIMUM",
            "POW",
            "FLOOR_DIV",
            "FLOOR_MOD",
            "LOGISTIC",
            "TANH",
            "RELU",
            "RELU6",
            "RELU_N1_TO_1",
            "RELU_0_TO_1",
            "LEAKY_RELU",
            "PRELU",
            "HARD_SWISH",
            "ELU",
            "GELU",
            "EXP",
            "LOG",
            "SQRT",
            "RSQRT",
            "SQUARE",
            "ABS",
            "NEG",
            "SIN",
            "COS",
        )
    )
    if code is not None
)
_MIB = 2**20
_TFLITE_IDENTIFIER = b"TFL3"


class ModelFileError(ValueError):
  """A model path that is missing, unreadable or not a TFLite flatbuffer."""


def read_model(path: str) -> bytes:
  """Returns the bytes of a .tflite file.

  Args:
    path: the file.

  Raises:
    ModelFileError: naming the file, if it is missing, unreadable or not a
      TFLite flatbuffer.
  """
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise ModelFileError(f"Cannot read model {path!r}: {e}") from e
  # Bytes 4..8 hold the flatbuffer file identifier; checking it turns a wrong
  # file into a clear error instead of a crash deep in the parser.
  if data[4:8] != _TFLITE_IDENTIFIER:
    raise ModelFileError(f"{path!r} is not a TFLite model (no TFL3 header).")
  return data


def _parse(model_bytes: bytes) -> Any:
  return flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))


def _shape(tensor: Any) -> tuple[int, ...]:
  if tensor.shape is None:
    return ()
  return tuple(1 if int(d) < 0 else int(d) for d in tensor.shape)


def _has_data(buffer: Any) -> bool:
  # Models over 2 GB keep buffers outside the flatbuffer: offset and size.
  return (buffer.data is not None and len(buffer.data) > 0) or bool(buffer.size)


def count_parameters(model_bytes: bytes) -> int:
  """Returns the number of constant tensor elements of subgraph 0.

  A constant is a tensor with a non-empty buffer; each tensor counts once.

  Args:
    model_bytes: the .tflite flatbuffer.
  """
  model = _parse(model_bytes)
  return sum(
      math.prod(_shape(tensor))
      for tensor in model.subgraphs[0].tensors
      if _has_data(model.buffers[tensor.buffer])
  )


def _operator_flops(code: int, operator: Any, tensors: Sequence[Any]) -> int:
  """FLOPs of one operator by the rule in the module docstring."""

  def shape(index):
    return _shape(tensors[index])

  out_elements = math.prod(shape(operator.outputs[0]))
  if code == _OP.CONV_2D:
    return 2 * out_elements * math.prod(shape(operator.inputs[1])[1:])
  if code == _OP.DEPTHWISE_CONV_2D:
    kernel = shape(operator.inputs[1])
    return 2 * out_elements * kernel[1] * kernel[2]
  if code == _OP.CONV_3D:
    return 2 * out_elements * math.prod(shape(operator.inputs[1])[:4])
  if code == _OP.FULLY_CONNECTED:
    return 2 * out_elements * shape(operator.inputs[1])[-1]
  if code == _OP.BATCH_MATMUL:
    lhs = shape(operator.inputs[0])
    adj_x = operator.builtinOptions is not None and operator.builtinOptions.adjX
    return 2 * out_elements * (lhs[-2] if adj_x else lhs[-1])
  if code == _OP.TRANSPOSE_CONV:
    weights = shape(operator.inputs[1])
    return 2 * math.prod(shape(operator.inputs[2])) * math.prod(weights[:3])
  if code == _OP.ADD_N:
    return out_elements * (len(operator.inputs) - 1)
  if code in _ELEMENTWISE_OPS:
    return out_elements
  return 0


def count_flops(model_bytes: bytes) -> int:
  """Returns the FLOPs of one invoke() of subgraph 0.

  See the module docstring for the counting rule.

  Args:
    model_bytes: the .tflite flatbuffer.
  """
  model = _parse(model_bytes)
  subgraph = model.subgraphs[0]
  total = 0
  for operator in subgraph.operators:
    opcode = model.operatorCodes[operator.opcodeIndex]
    # Codes below 127 live in the deprecated int8 field, newer ones in the
    # int32 field; the other field holds a placeholder lower than the code.
    code = max(opcode.builtinCode, opcode.deprecatedBuiltinCode)
    total += _operator_flops(code, operator, subgraph.tensors)
  return total


def _random_input(
    rng: np.random.Generator, shape: Sequence[int], dtype: Any
) -> np.ndarray:
  dtype = np.dtype(dtype)
  if np.issubdtype(dtype, np.floating):
    return rng.random(shape).astype(dtype)
  if np.issubdtype(dtype, np.integer):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype, endpoint=True)
  if dtype == np.bool_:
    return rng.random(shape) < 0.5
  return np.zeros(shape, dtype)


def _new_interpreter(path: str, threads: int) -> tf.lite.Interpreter:
  with warnings.catch_warnings():
    # The deprecation notice would repeat for every model and thread count;
    # the TF interpreter is used on purpose, to match the converting TF.
    warnings.filterwarnings("ignore", "(?s).*tf.lite.Interpreter is deprecated")
    interpreter = tf.lite.Interpreter(model_path=path, num_threads=threads)
  interpreter.allocate_tensors()
  rng = np.random.default_rng(0)
  for detail in interpreter.get_input_details():
    interpreter.set_tensor(
        detail["index"], _random_input(rng, detail["shape"], detail["dtype"])
    )
  return interpreter


def measure_latency(
    path: str, threads: int, warmup: int, runs: int
) -> dict[str, float]:
  """Times invoke() of subgraph 0 of a model in this process.

  Args:
    path: the .tflite file.
    threads: the interpreter's num_threads.
    warmup: untimed invokes first.
    runs: timed invokes.

  Returns:
    {"threads", "p50_ms", "p90_ms", "mean_ms", "fps"}, fps = 1000 / p50_ms.
  """
  interpreter = _new_interpreter(path, threads)
  for _ in range(warmup):
    interpreter.invoke()
  times_ms = []
  for _ in range(runs):
    start = time.perf_counter()
    interpreter.invoke()
    times_ms.append((time.perf_counter() - start) * 1e3)
  p50, p90 = np.percentile(times_ms, [50, 90])
  return {
      "threads": threads,
      "p50_ms": float(p50),
      "p90_ms": float(p90),
      "mean_ms": float(np.mean(times_ms)),
      "fps": 1e3 / float(p50),
  }


def _proc_status_kb(field: str) -> int | None:
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1])
  except OSError:
    pass
  return None


def _reset_peak_rss() -> None:
  # Forgets the peak of importing TensorFlow, which can exceed the resident
  # memory left afterwards and would hide a small model's peak.
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
  except OSError:
    pass


def _peak_rss_kb() -> int:
  # VmHWM, not ru_maxrss, where /proc has it: on Linux a spawned process's
  # ru_maxrss starts at its parent's resident size (exec keeps the pre-exec
  # peak), which would swamp the model's share.
  peak = _proc_status_kb("VmHWM")
  if peak is not None:
    return peak
  maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return maxrss // 1024 if sys.platform == "darwin" else maxrss


def _current_rss_kb() -> int:
  rss = _proc_status_kb("VmRSS")
  return _peak_rss_kb() if rss is None else rss


def _measure_here(
    path: str, threads: Sequence[int], warmup: int, runs: int
) -> dict[str, Any]:
  """Peak memory and latencies of one model; meant for a fresh process."""
  _reset_peak_rss()
  before_kb = _current_rss_kb()
  latency = [measure_latency(path, n, warmup, runs) for n in threads]
  peak_mb = (_peak_rss_kb() - before_kb) * 1024 / _MIB
  return {"peak_mb": peak_mb, "latency": latency}


def measure_in_fresh_process(
    path: str, threads: Sequence[int], warmup: int, runs: int
) -> dict[str, Any]:
  """Measures one model in a new (spawned) Python process.

  Args:
    path: the .tflite file.
    threads: interpreter thread counts, measured in this order.
    warmup: untimed invokes before timing, per thread count.
    runs: timed invokes per thread count.

  Returns:
    {"peak_mb": growth of peak resident memory over the resident memory
    before loading, in MB, "latency": [measure_latency() per thread count]}.
  """
  # Spawn, not fork: a fresh interpreter holds no other model's memory, and
  # forking a process that has started TensorFlow's threads is unsafe.
  context = multiprocessing.get_context("spawn")
  with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
    try:
      return pool.submit(
          _measure_here, path, tuple(threads), warmup, runs
      ).result()
    except concurrent.futures.process.BrokenProcessPool as e:
      raise RuntimeError(f"The process measuring {path!r} died.") from e


def _same_file(a: str, b: str) -> bool:
  return os.path.realpath(a) == os.path.realpath(b)


def describe(path: str) -> dict[str, Any]:
  """Returns what the file alone tells: name, size, parameters and FLOPs.

  Args:
    path: the .tflite file.

  Raises:
    ModelFileError: naming the file, if it is missing, unreadable or does not
      parse.
  """
  data = read_model(path)
  try:
    params, flops = count_parameters(data), count_flops(data)
  except Exception as e:  # pylint: disable=broad-exception-caught
    # A damaged flatbuffer fails with whatever the parser trips on.
    raise ModelFileError(f"Cannot parse model {path!r}: {e!r}") from e
  return {
      "model": os.path.basename(path),
      "path": path,
      "size_mb": len(data) / _MIB,
      "params": params,
      "flops": flops,
  }


def check_arguments(
    paths: Sequence[str],
    threads: Sequence[int],
    warmup: int,
    runs: int,
    baseline: str | None,
    rounds: int = 1,
) -> list[dict[str, Any]]:
  """Validates profile()'s arguments and returns describe() of each model.

  Raises:
    ModelFileError: for a missing, unreadable or damaged model file.
    ValueError: for no models, a baseline not among them, or bad counts.
  """
  if not paths:
    raise ValueError("No models given.")
  if not threads or min(threads) < 1 or runs < 1 or warmup < 0 or rounds < 1:
    raise ValueError(
        f"Need threads >= 1, runs >= 1, warmup >= 0, rounds >= 1; got"
        f" {list(threads)}, runs={runs}, warmup={warmup}, rounds={rounds}."
    )
  if baseline is not None and not any(_same_file(baseline, p) for p in paths):
    raise ValueError(
        f"--baseline={baseline} is not one of the models: {list(paths)}."
    )
  results = [describe(path) for path in paths]
  # Exports share file names (pose_float32.tflite): name each model by the
  # shortest tail of its path that tells it apart from the others.
  parts = [os.path.abspath(r["path"]).split(os.sep) for r in results]
  for r, p in zip(results, parts):
    for k in range(1, len(p) + 1):
      tail = p[-k:]
      if sum(q[-k:] == tail for q in parts) == 1:
        r["model"] = "/".join(tail)
        break
  return results


def _combine_rounds(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """One model's measurements over rounds -> medians, per-round p50s kept."""
  latency = []
  for entries in zip(*(r["latency"] for r in rounds)):
    p50 = float(np.median([e["p50_ms"] for e in entries]))
    latency.append({
        "threads": entries[0]["threads"],
        "p50_ms": p50,
        "p90_ms": float(np.median([e["p90_ms"] for e in entries])),
        "mean_ms": float(np.mean([e["mean_ms"] for e in entries])),
        "fps": 1e3 / p50,
        "p50_ms_rounds": [e["p50_ms"] for e in entries],
    })
  return {
      "peak_mb": float(np.median([r["peak_mb"] for r in rounds])),
      "latency": latency,
  }


def profile(
    paths: Sequence[str],
    threads: Sequence[int] = (1,),
    warmup: int = 10,
    runs: int = 100,
    baseline: str | None = None,
    rounds: int = 1,
) -> list[dict[str, Any]]:
  """Profiles models one after another, each in its own fresh process.

  With `rounds` > 1 the whole sequence of models is measured that many
  times over, so that a change in the machine's load during the run falls
  on every model alike: each figure is the median over rounds, and each
  ratio to the baseline is the median of the ratios within a round.

  Args:
    paths: .tflite files.
    threads: interpreter thread counts.
    warmup: untimed invokes before timing, per model, thread count and round.
    runs: timed invokes per model, thread count and round.
    baseline: optional; one of `paths`, to which latency ratios refer.
    rounds: how many times to measure the sequence of models.

  Returns:
    Per model, in the order of `paths`: {"model" (file name), "path",
    "size_mb", "params", "flops", "peak_mb", "latency": [{"threads",
    "p50_ms", "p90_ms", "mean_ms", "fps", "p50_ms_rounds", and with a
    baseline "x_baseline"}]}.

  Raises:
    ModelFileError: before any measurement, for a bad file.
    ValueError: before any measurement, for a baseline not among `paths` or
      bad counts.
  """
  results = check_arguments(paths, threads, warmup, runs, baseline, rounds)
  measured = [[] for _ in results]  # [model][round]
  for r in range(rounds):
    for i, result in enumerate(results):
      path = result["path"]
      logging.info("[round %d/%d, %d/%d] %s: measuring", r + 1, rounds, i + 1,
                   len(paths), path)
      measured[i].append(measure_in_fresh_process(path, threads, warmup, runs))
      for entry in measured[i][-1]["latency"]:
        logging.info(
            "[round %d/%d, %d/%d] %s @%d threads: p50 %.2f ms, p90 %.2f ms",
            r + 1, rounds, i + 1, len(paths), result["model"],
            entry["threads"], entry["p50_ms"], entry["p90_ms"],
        )
  for result, rounds_of_model in zip(results, measured):
    result.update(_combine_rounds(rounds_of_model))
  if baseline is not None:
    b = next(i for i, r in enumerate(results) if _same_file(baseline, r["path"]))
    for result, rounds_of_model in zip(results, measured):
      for k, entry in enumerate(result["latency"]):
        entry["x_baseline"] = float(np.median([
            mine["latency"][k]["p50_ms"] / base["latency"][k]["p50_ms"]
            for mine, base in zip(rounds_of_model, measured[b])
        ]))
  return results


def _format_number(x: float, decimals: int) -> str:
  # Tiny test models would otherwise read 0.00; keep two significant digits.
  if 0 < abs(x) < 0.5 * 10**-decimals:
    return f"{x:.2g}"
  return f"{x:.{decimals}f}"


def _format_count(n: int) -> str:
  if n >= 10**6:
    return f"{n / 1e6:.2f}M"
  if n >= 10**3:
    return f"{n / 1e3:.1f}k"
  return str(n)


def to_markdown(results: Sequence[dict[str, Any]], baseline: bool) -> str:
  """Renders profile() results as a markdown table, one row per model.

  Args:
    results: from profile().
    baseline: whether to add the p50 / p50(baseline) columns.

  Returns:
    The table, lines joined by newlines, no trailing newline.
  """
  threads = [entry["threads"] for entry in results[0]["latency"]]
  header = ["model", "size MB", "params", "GFLOPs/frame", "peak MB"]
  for n in threads:
    header += [f"p50 ms @{n}t", f"p90 ms @{n}t", f"FPS @{n}t"]
    if baseline:
      header.append(f"×base @{n}t")
  rows = []
  for result in results:
    row = [
        result["model"],
        _format_number(result["size_mb"], 2),
        _format_count(result["params"]),
        _format_number(result["flops"] / 1e9, 3),
        _format_number(result["peak_mb"], 1),
    ]
    for entry in result["latency"]:
      row += [
          _format_number(entry["p50_ms"], 2),
          _format_number(entry["p90_ms"], 2),
          f"{entry['fps']:.1f}",
      ]
      if baseline:
        row.append(_format_number(entry["x_baseline"], 2))
    rows.append(row)
  # Numbers right-aligned, the model name left-aligned.
  separator = [":---"] + ["---:"] * (len(header) - 1)
  return "\n".join(
      "| " + " | ".join(cells) + " |" for cells in [header, separator, *rows]
  )


def _cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def machine_info() -> dict[str, Any]:
  """What reproducing the numbers needs to know about this machine."""
  info = {
      "platform": platform.platform(),
      "processor": platform.processor(),
      "cpu_model": _cpu_model(),
      "cpu_count": os.cpu_count(),
      "python": platform.python_version(),
      "tensorflow": tf.__version__,
      "numpy": np.__version__,
      "date_utc": (
          datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="seconds"
          )
      ),
  }
  if hasattr(os, "sched_getaffinity"):
    info["usable_cpus"] = len(os.sched_getaffinity(0))
  if hasattr(os, "getloadavg"):
    # A busy machine slows every model; the load tells readers to distrust.
    info["load_avg_1m"] = os.getloadavg()[0]
  return info


def _caption(info: dict[str, Any], warmup: int, runs: int,
             rounds: int = 1) -> str:
  over = f", medians over {rounds} rounds" if rounds > 1 else ""
  return (
      f"tf.lite.Interpreter (XNNPACK), TensorFlow {info['tensorflow']},"
      f" {info['cpu_model'] or info['platform']}, {info['cpu_count']} CPUs,"
      f" load {info.get('load_avg_1m', float('nan')):.1f}; p50/p90 of"
      f" {runs} invoke() after {warmup} warm-up{over}; peak MB = resident"
      " memory growth in a fresh process."
  )


def _define_flags():
  # Defined only when run as a program, so that the library can be imported
  # beside other commands (tests import several in one process).
  flags.DEFINE_list(
      "threads",
      ["1", "2", "4"],
      "Comma-separated interpreter thread counts to measure.",
  )
  flags.DEFINE_integer("warmup", 10, "Untimed invokes before timing.")
  flags.DEFINE_integer("runs", 100, "Timed invokes per thread count.")
  flags.DEFINE_integer(
      "rounds",
      1,
      "Measure the whole sequence of models this many times; report"
      " medians (ratios: the median of each round's ratio).",
  )
  flags.DEFINE_string(
      "baseline",
      None,
      "One of the listed models; adds p50(model) / p50(baseline) columns.",
  )
  flags.DEFINE_string(
      "json_out", None, "Optional path for the results as JSON."
  )
  flags.DEFINE_string(
      "markdown_out", None, "Optional path for the markdown table."
  )


def main(argv: Sequence[str]) -> None:
  paths = list(argv[1:])
  if not paths:
    raise app.UsageError("Give one or more .tflite files.")
  try:
    threads = [int(n) for n in FLAGS.threads]
  except ValueError as e:
    raise app.UsageError(f"--threads must be integers: {FLAGS.threads}") from e
  # Every file is checked before the first (slow) measurement.
  try:
    check_arguments(paths, threads, FLAGS.warmup, FLAGS.runs, FLAGS.baseline,
                    FLAGS.rounds)
  except ModelFileError:
    raise  # a file fault, not a usage one (cli.run names it)
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  for out in filter(None, (FLAGS.json_out, FLAGS.markdown_out)):
    cli.check_writable(out)  # before the measurements
  results = profile(
      paths, threads, FLAGS.warmup, FLAGS.runs, baseline=FLAGS.baseline,
      rounds=FLAGS.rounds,
  )
  info = machine_info()
  table = to_markdown(results, baseline=FLAGS.baseline is not None)
  caption = _caption(info, FLAGS.warmup, FLAGS.runs, FLAGS.rounds)
  print(f"{table}\n\n{caption}")
  if FLAGS.markdown_out:
    cli.write_text(FLAGS.markdown_out, f"{table}\n\n{caption}\n")
  if FLAGS.json_out:
    report = {
        "machine": info,
        "settings": {
            "threads": threads,
            "warmup": FLAGS.warmup,
            "runs": FLAGS.runs,
            "rounds": FLAGS.rounds,
            "baseline": FLAGS.baseline,
        },
        "models": results,
    }
    cli.write_json(FLAGS.json_out, report, indent=2)
  logging.info("Profiled %d models.", len(paths))


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
