r"""The temporal study: does a recurrent cell pay for itself?

  python -m bodypose_jax.temporal_study --out_dir=workdirs/temporal_study

trains the single-frame baseline (`cell=none`), ConvGRU and ConvLSTM on RGB
and on depth, with equal budgets, on the cross-subject and cross-view splits
of the synthetic set, for several seeds. It then evaluates every run as a
stream (`evaluate.py`: whole videos, state carried), exports each
architecture's float32 step to TFLite and times it on one thread. It writes:

  <out_dir>/runs/<modality>_<cell>_<protocol>_s<seed>/   workdirs
  <out_dir>/study.json              every run's metrics, and the summary
  <out_dir>/study.md                the summary table (mean ± std over seeds)
  <out_dir>/latency_accuracy.png    latency per frame against PCK@0.2

Training, evaluation and export resume: what a finished stage wrote is kept
(latency is measured again), so the same command continues an interrupted
study. `--num_train_steps` sets the budget (default: the config variant's);
`--set=input.clip_length=16,batch_size=2` changes any other config field for
every run (give such a study its own `--out_dir`). It runs on whatever JAX
finds, CPU by default, GPU or TPU when present.
"""

import ast
from collections.abc import Mapping, Sequence
import itertools
import json
import os

from absl import app
from absl import flags
from absl import logging
import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from bodypose_jax import evaluate as evaluate_lib
from bodypose_jax import export as export_lib
from bodypose_jax import hardware
from bodypose_jax import profile_tflite
from bodypose_jax import train
from configs import default as default_config

FLAGS = flags.FLAGS

CELLS = ("none", "gru", "lstm")
MODALITIES = ("rgb", "depth")
# Protocol -> (train split, eval split).
PROTOCOLS = {
    "xsub": ("xsub_train", "xsub_test"),
    "xview": ("xview_train", "xview_test"),
}
# The summary's columns: (name, path into an evaluation's metrics.json).
METRICS = (
    ("pck@0.2", ("all", "pck@0.2")),
    ("pck@0.2 visible", ("visible", "pck@0.2")),
    ("pck@0.2 occluded", ("occluded", "pck@0.2")),
    ("auc", ("all", "pck_auc")),
    ("error px", ("all", "pixel_error")),
    ("accel error px", ("jitter", "accel_error_px")),
    ("recovery frames", ("recovery", "median_frames")),
)


def parse_overrides(items: Sequence[str]) -> dict:
  """`["input.clip_length=16", "dataset.cache=False"]` -> {path: value}.

  Values are Python literals (numbers, tuples, booleans, quoted strings);
  anything else is taken as a bare string.
  """
  overrides = {}
  for item in items:
    path, sep, text = item.partition("=")
    if not sep or not path:
      raise ValueError(f"Override {item!r} is not of the form field=value.")
    try:
      overrides[path.strip()] = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      overrides[path.strip()] = text
  return overrides


def run_config(
    modality,
    cell,
    protocol,
    seed,
    variant,
    steps,
    data_dir,
    overrides: Mapping[str, object] = (),
):
  """The locked config of one run of the study.

  Raises:
    AttributeError, TypeError: for an override naming an unknown field, or of a
      value the field cannot hold.
  """
  config = default_config.get_config()
  config.model.cell = cell
  config = default_config.apply_variant(config, variant, modality)
  config.seed = seed
  for path, value in dict(overrides).items():
    # The config is locked: a misspelt field fails instead of being added.
    parent, _, field = path.rpartition(".")
    target = config
    for key in filter(None, parent.split(".")):
      target = target[key]
    setattr(target, field, value)
  config.dataset.train_split, config.dataset.eval_split = PROTOCOLS[protocol]
  if steps:
    config.num_train_steps = steps
    config.eval_every_steps = min(config.eval_every_steps, steps)
    config.checkpoint_every_steps = min(config.checkpoint_every_steps, steps)
  if data_dir:
    config.dataset.data_dir = data_dir
  return config


def run_name(modality, cell, protocol, seed):
  return f"{modality}_{cell}_{protocol}_s{seed}"


def _json(path):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def finished_metrics(config, workdir):
  """The run's stream evaluation if it was trained to its budget, else None."""
  done = _json(os.path.join(workdir, "stream_eval", "metrics.json"))
  if done and done["step"] == config.num_train_steps:
    return done
  return None


def train_and_evaluate_run(config, workdir):
  """Trains (or resumes) one run, then streams it over its eval split.

  Returns:
    The evaluation's metrics (`evaluate.evaluate`), reused when an earlier
    call evaluated the same final step.
  """
  done = finished_metrics(config, workdir)
  if done:
    # Finished earlier: restoring it only to re-run its clip evaluation
    # would change nothing.
    return done
  train.train_and_evaluate(config, workdir)
  return evaluate_lib.evaluate(
      workdir, out_dir=os.path.join(workdir, "stream_eval")
  )


def latency(workdir, runs):
  """Exports a run's float32 step and times it on one interpreter thread.

  Returns:
    {"params", "flops", "p50_ms"} of the TFLite model.
  """
  out_dir = os.path.join(workdir, "export")
  path = os.path.join(out_dir, "pose_float32.tflite")
  if not os.path.exists(path):
    trained = export_lib.restore(workdir)
    # Latency does not depend on the frames: noise verifies the conversion
    # without reading the dataset.
    streams, calibration = export_lib.random_inputs(trained.config, 1, 16, 1)
    export_lib.export(trained, out_dir, ["float32"], streams, calibration)
  (result,) = profile_tflite.profile([path], threads=(1,), runs=runs)
  return {
      "params": result["params"],
      "flops": result["flops"],
      "p50_ms": result["latency"][0]["p50_ms"],
  }


def _get(metrics, path):
  for key in path:
    metrics = metrics.get(key) if metrics else None
  return metrics


def summarize(runs: Sequence[dict], latencies: dict) -> list[dict]:
  """Mean and std over seeds of each (modality, cell, protocol).

  Args:
    runs: {"modality", "cell", "protocol", "seed", "metrics"} per run.
    latencies: {(modality, cell): `latency` result}.

  Returns:
    Rows {"modality", "cell", "protocol", "seeds", <metric>: [mean, std],
    "params", "p50_ms"}, in the order the runs came.
  """
  groups = {}
  for run in runs:
    key = (run["modality"], run["cell"], run["protocol"])
    groups.setdefault(key, []).append(run)
  rows = []
  for (modality, cell, protocol), group in groups.items():
    row = {
        "modality": modality,
        "cell": cell,
        "protocol": protocol,
        "seeds": len(group),
    }
    for name, path in METRICS:
      values = [_get(r["metrics"], path) for r in group]
      values = [v for v in values if v is not None]
      row[name] = (
          [float(np.mean(values)), float(np.std(values))] if values else None
      )
    row.update(latencies[(modality, cell)])
    rows.append(row)
  return rows


def to_markdown(rows: Sequence[dict]) -> str:
  """The summary as a markdown table, mean ± std over seeds."""
  names = [name for name, _ in METRICS]
  header = ["modality", "cell", "protocol", "seeds", *names]
  header += ["TFLite ms/frame", "params"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [row["modality"], row["cell"], row["protocol"], str(row["seeds"])]
    for name in names:
      value = row[name]
      cells.append(
          "–"
          if value is None
          else f"{value[0]:.3f} ± {value[1]:.3f}"
          if row["seeds"] > 1
          else f"{value[0]:.3f}"
      )
    cells += [f"{row['p50_ms']:.2f}", f"{row['params'] / 1e3:.0f}k"]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def plot_latency_accuracy(rows: Sequence[dict], path: str):
  """PCK@0.2 (all and occluded joints) against TFLite latency per frame."""
  fig, ax = plt.subplots(figsize=(7.2, 6.0))
  markers = {"rgb": "o", "depth": "s"}
  colours = {"none": "tab:grey", "gru": "tab:blue", "lstm": "tab:orange"}
  for row in rows:
    for metric, fill in (("pck@0.2", True), ("pck@0.2 occluded", False)):
      if row[metric] is None:
        continue
      mean, std = row[metric]
      colour = colours.get(row["cell"], "black")
      ax.errorbar(
          row["p50_ms"],
          mean,
          yerr=std,
          marker=markers.get(row["modality"], "^"),
          color=colour,
          markerfacecolor=colour if fill else "white",
          linestyle="none",
          capsize=3,
          label=f"{row['modality']} {row['cell']} {row['protocol']}"
          + ("" if fill else " (occluded)"),
      )
  ax.set_xlabel("TFLite float32 latency per frame, 1 thread (ms)")
  ax.set_ylabel("PCK@0.2 (filled: all joints, hollow: occluded)")
  ax.grid(alpha=0.3)
  # Below the axes: inside, it hides points.
  ax.legend(
      fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14)
  )
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def study(
    out_dir: str,
    modalities: Sequence[str] = MODALITIES,
    cells: Sequence[str] = CELLS,
    protocols: Sequence[str] = tuple(PROTOCOLS),
    seeds: Sequence[int] = (0, 1),
    variant: str = "synthetic",
    num_train_steps: int | None = None,
    data_dir: str | None = None,
    latency_runs: int = 100,
    overrides: Mapping[str, object] = (),
    report_only: bool = False,
) -> dict:
  """Runs (or resumes) the whole study and writes its reports.

  `overrides` ({"input.clip_length": 16}) apply to every run; study.json
  records them. With `report_only`, nothing is trained: the reports cover
  the runs already finished, and the others are left out (logged).

  Returns:
    The contents of study.json: {"runs": [...], "summary": [...]}.
  """
  for name, given, known in (
      ("modalities", modalities, MODALITIES),
      ("cells", cells, CELLS),
      ("protocols", protocols, tuple(PROTOCOLS)),
  ):
    unknown = set(given) - set(known)
    if unknown:
      raise ValueError(f"Unknown {name} {sorted(unknown)}; use {known}.")
  combos = list(itertools.product(modalities, cells, protocols, seeds))
  runs, latencies = [], {}
  for i, (modality, cell, protocol, seed) in enumerate(combos, 1):
    name = run_name(modality, cell, protocol, seed)
    logging.info("Study run %d/%d: %s", i, len(combos), name)
    workdir = os.path.join(out_dir, "runs", name)
    config = run_config(
        modality,
        cell,
        protocol,
        seed,
        variant,
        num_train_steps,
        data_dir,
        overrides,
    )
    if report_only:
      metrics = finished_metrics(config, workdir)
      if metrics is None:
        logging.warning("Not finished, left out of the report: %s", name)
        continue
    else:
      metrics = train_and_evaluate_run(config, workdir)
    runs.append(
        {
            "name": name,
            "modality": modality,
            "cell": cell,
            "protocol": protocol,
            "seed": seed,
            "steps": config.num_train_steps,
            "metrics": metrics,
        }
    )
    if (modality, cell) not in latencies:
      latencies[(modality, cell)] = latency(workdir, latency_runs)
  if not runs:
    raise ValueError(f"{out_dir}: no finished run to report.")
  result = {
      "overrides": dict(overrides),
      "runs": runs,
      "summary": summarize(runs, latencies),
  }
  with open(os.path.join(out_dir, "study.json"), "w") as f:
    json.dump(result, f, indent=2)
  with open(os.path.join(out_dir, "study.md"), "w") as f:
    f.write(to_markdown(result["summary"]))
  plot_latency_accuracy(
      result["summary"], os.path.join(out_dir, "latency_accuracy.png")
  )
  logging.info("Wrote %s:\n%s", out_dir, to_markdown(result["summary"]))
  return result


def _define_flags():
  # Defined only when run as a program, so that tests can import the module
  # beside other commands.
  flags.DEFINE_string("out_dir", None, "Study folder.", required=True)
  flags.DEFINE_list("modalities", list(MODALITIES), f"Of {MODALITIES}.")
  flags.DEFINE_list("cells", list(CELLS), f"Of {CELLS}.")
  flags.DEFINE_list("protocols", list(PROTOCOLS), f"Of {tuple(PROTOCOLS)}.")
  flags.DEFINE_list("seeds", ["0", "1"], "Training seeds.")
  flags.DEFINE_string(
      "variant", "synthetic", "Config variant: synthetic, smoke or none."
  )
  flags.DEFINE_integer(
      "num_train_steps", None, "Budget per run; default the variant's."
  )
  flags.DEFINE_string("data_dir", None, "TFDS data_dir; default TFDS's.")
  flags.DEFINE_integer("latency_runs", 100, "Timed TFLite invokes per model.")
  flags.DEFINE_bool(
      "report_only", False, "Train nothing: report the finished runs."
  )
  flags.DEFINE_list(
      "set",
      [],
      "Config fields for every run: field=value, e.g. "
      "input.clip_length=16,batch_size=2.",
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  overrides = parse_overrides(FLAGS.set)
  # The trainer's host set-up (main.py's), once for the whole process.
  logging.info(
      hardware.configure_host(
          overrides.get(
              "reuse_host_memory", default_config.get_config().reuse_host_memory
          )
      )
  )
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  # tf.data and TFLite run on the CPU; leave any accelerator to JAX.
  tf.config.set_visible_devices([], "GPU")
  study(
      FLAGS.out_dir,
      FLAGS.modalities,
      FLAGS.cells,
      FLAGS.protocols,
      [int(s) for s in FLAGS.seeds],
      None if FLAGS.variant == "none" else FLAGS.variant,
      FLAGS.num_train_steps,
      FLAGS.data_dir,
      FLAGS.latency_runs,
      overrides,
      FLAGS.report_only,
  )


if __name__ == "__main__":
  _define_flags()
  app.run(main)
