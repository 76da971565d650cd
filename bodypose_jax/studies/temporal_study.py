r"""The temporal study: does a recurrent cell pay for itself?

  python -m bodypose_jax.studies.temporal_study --out_dir=workdirs/temporal_study
  python -m bodypose_jax.studies.temporal_study --out_dir=workdirs/temporal_study \
      --modalities=rgb --real_eval=teacher_rgb      # + real footage rows

trains the single-frame baseline (`cell=none`), ConvGRU and ConvLSTM on RGB
and on depth, with equal budgets, on the cross-subject and cross-view splits
of the synthetic set, for several seeds. It then evaluates every run as a
stream (`evaluate.py`: whole videos, tracked from a whole-frame start, state
carried), and again with a One-Euro filter on the keypoints whose settings
are tuned on the run's training split (`evaluate.tune_one_euro`), so that
each cell is compared with the single-frame model + filter that users of
MediaPipe and MoveNet get. With `--real_eval=teacher_rgb` every run of that
build's modality is also streamed, bare and with the same filter settings,
over the held-out performers of teacher-labelled real video. It exports each architecture's float32 step to
TFLite and times it on one thread. It writes:

  <out_dir>/runs/<modality>_<cell>_<protocol>_s<seed>/   workdirs
  <out_dir>/study.json              every run's metrics, and the summary
  <out_dir>/study.md                the summary table (mean ± std over seeds)
                                    and the One-Euro settings chosen
  <out_dir>/latency_accuracy.png    PCK@0.2, occluded PCK@0.2 and jitter
                                    against latency per frame
  <out_dir>/training_curves.png     held-out clip PCK@0.2 against step

Training, evaluation, tuning and export resume: what a finished stage wrote
is kept (latency is measured again), so the same command continues an
interrupted study. `--num_train_steps` sets the budget (default: the config
variant's); `--set=input.clip_length=16,batch_size=4` changes any other
config field for every run (give such a study its own `--out_dir`). It runs
on whatever JAX finds, CPU by default, GPU or TPU when present.
"""

import ast
import importlib.util
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
import ml_collections
import numpy as np

from bodypose_jax.data import input_pipeline
from bodypose_jax.deploy import export as export_lib
from bodypose_jax.evaluators import evaluate as evaluate_lib
from bodypose_jax.runtime import cli
from bodypose_jax.runtime import hardware
from bodypose_jax.tools import profile_tflite
from bodypose_jax import train

FLAGS = flags.FLAGS

CELLS = ("none", "gru", "lstm")
MODALITIES = ("rgb", "depth")
# Protocol -> (train split, eval split).
PROTOCOLS = {
    "xsub": ("xsub_train", "xsub_test"),
    "xview": ("xview_train", "xview_test"),
}
# The keypoints scored: the model's own, or after the One-Euro filter.
FILTERS = ("none", "one_euro")
# The summary's columns: (name, path into an evaluation's metrics.json).
METRICS = (
    ("pck@0.2", ("all", "pck@0.2")),
    ("pck@0.2 visible", ("visible", "pck@0.2")),
    ("pck@0.2 occluded", ("occluded", "pck@0.2")),
    ("auc", ("all", "pck_auc")),
    ("error px", ("all", "pixel_error")),
    ("accel error px", ("jitter", "accel_error_px")),
    # The median is 0 frames in every cell of the tracked study: the mean
    # (a never-recovered event counts its horizon) tells them apart.
    ("recovery frames (mean)", ("recovery", "mean_frames")),
    ("re-detections/min", ("redetections_per_minute",)),
)
# The held-out metric the trainer logs at every evaluation, for the curves.
CURVE_TAG = "eval/pck@0.2"


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


def experiment_config(config_dir: str, modality: str, variant):
  """`<config_dir>/<modality>_gru.py`'s locked config for `variant`: the
  file the documented commands name, loaded as `--config=` loads it."""
  path = os.path.join(config_dir, f"{modality}_gru.py")
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"{path}: no such config file (--config_dir names the folder of the "
        "experiment configs, `configs` from the repository root).")
  spec = importlib.util.spec_from_file_location(f"{modality}_gru", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant)


def run_config(
    modality,
    cell,
    protocol,
    seed,
    variant,
    steps,
    data_dir,
    overrides: Mapping[str, object] = (),
    config_dir: str = "configs",
):
  """The locked config of one run of the study: `<modality>_gru.py` of
  `config_dir` with its cell, seed, protocol, budget and overrides.

  Raises:
    AttributeError, TypeError: for an override naming an unknown field, or of a
      value the field cannot hold.
  """
  config = experiment_config(config_dir, modality, variant)
  config.model.cell = cell
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


def _stream_dir(config, workdir, filtered=False):
  # The folder `evaluate` (and main's streamed evaluation) writes by
  # default, so that an evaluation main already made is not redone.
  return evaluate_lib.default_out_dir(
      workdir, config.dataset.eval_split, None, "tracked", filtered)


def _evaluated(workdir, step, out_dir, one_euro=None, report_only=False,
               **kwargs):
  """`evaluate.evaluate` into `out_dir`, or what it wrote there before for
  the same final step (and the same One-Euro settings); with `report_only`,
  only the latter (else None)."""
  done = _json(os.path.join(out_dir, "metrics.json"))
  if done and done["step"] == step and (one_euro is None or all(
      done["one_euro"][k] == v for k, v in one_euro.items() if k != "enabled")):
    return done
  if report_only:
    return None
  return evaluate_lib.evaluate(workdir, one_euro=one_euro, out_dir=out_dir,
                               **kwargs)


def _tuned_settings(metrics):
  """The One-Euro settings a filtered evaluation ran with, as `evaluate`'s
  `one_euro` argument."""
  return {"enabled": True, **{k: metrics["one_euro"][k]
                              for k in ("min_cutoff", "beta", "d_cutoff")}}


def finished_metrics(config, workdir):
  """The run's stream evaluation if it was trained to its budget, else None."""
  done = _json(os.path.join(_stream_dir(config, workdir), "metrics.json"))
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
  return evaluate_lib.evaluate(workdir, out_dir=_stream_dir(config, workdir))


def one_euro_run(config, workdir, tune_videos):
  """Tunes the One-Euro filter on the run's training split, then streams the
  eval split with the chosen settings (each stage reused when done for the
  final step).

  Returns:
    The filtered evaluation's metrics (its 'one_euro' holds the settings,
    its 'unfiltered' the model's own), or None when no setting kept PCK@0.2
    within `evaluate.TUNE_MAX_PCK_DROP` of the unfiltered model's.
  """
  step = config.num_train_steps
  split = config.dataset.train_split
  tuning_dir = os.path.join(workdir, f"one_euro_tuning_{split}")
  tuned = _json(os.path.join(tuning_dir, "one_euro_tuning.json"))
  if not (tuned and tuned["step"] == step
          and tuned.get("max_videos") == tune_videos):
    tuned = evaluate_lib.tune_one_euro(
        workdir, split=split, max_videos=tune_videos, out_dir=tuning_dir)
  best = tuned["best"]
  if best is None:
    logging.warning("%s: no One-Euro setting kept PCK@0.2 on %s.", workdir,
                    split)
    return None
  settings = {"enabled": True, "min_cutoff": best["min_cutoff"],
              "beta": best["beta"], "d_cutoff": tuned["d_cutoff"]}
  return _evaluated(workdir, step, _stream_dir(config, workdir, filtered=True),
                    settings)


def build_modality(builder_config: str) -> str:
  """'rgb' or 'depth': what a tfds_ntu build config's frames are."""
  probe = ml_collections.ConfigDict(
      {"dataset": {"builder_config": builder_config}})
  return input_pipeline.modality(probe)[0]


def real_footage_run(config, workdir, real_eval, filtered, report_only=False):
  """Streams the run, tracked, over `real_eval`'s held-out split (its config's
  `dataset.mix_eval_split`, e.g. teacher_rgb's `test` performers): the
  model's own keypoints, and, given the run's `filtered` synthetic
  evaluation, the same One-Euro settings (tuned on synthetic training
  video; the real set is too small to tune on and score apart).

  Returns:
    {"none": metrics[, "one_euro": metrics]}, each reused when done for the
    final step; with `report_only`, only those.
  """
  step = config.num_train_steps
  split = config.dataset.mix_eval_split

  def out_dir(is_filtered):
    return evaluate_lib.default_out_dir(workdir, split, None, "tracked",
                                        is_filtered, real_eval)

  result = {"none": _evaluated(workdir, step, out_dir(False), None,
                               report_only, split=split,
                               builder_config=real_eval)}
  if filtered:
    result["one_euro"] = _evaluated(
        workdir, step, out_dir(True), _tuned_settings(filtered), report_only,
        split=split, builder_config=real_eval)
  return {f: m for f, m in result.items() if m is not None}


def eval_curve(workdir, tag=CURVE_TAG) -> list[list[float]]:
  """[[step, value], ...] of a scalar the trainer logged in `workdir`'s
  event files (every evaluation's `eval/pck@0.2` by default), by step."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  points = {}
  for path in sorted(tf.io.gfile.glob(os.path.join(workdir, "events.out.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          points[int(event.step)] = float(tf.make_ndarray(value.tensor))
  return [[step, points[step]] for step in sorted(points)]


def latency(workdir, runs):
  """Exports a run's float32 step and times it on one interpreter thread.

  Returns:
    {"params", "flops", "p50_ms"} of the TFLite model.
  """
  out_dir = os.path.join(workdir, "export")
  path = os.path.join(out_dir, "pose_float32.tflite")
  if not os.path.exists(path):
    trained = export_lib.restore_for_tflite(workdir)
    # A trained run is verified on its own eval videos: on noise frames the
    # two tracked loops find no person, so their crops part and the check
    # compares little.
    streams, calibration = export_lib.dataset_inputs(trained.config, 1, 16, 1)
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
  """Mean and std over seeds of each (modality, cell, filter, protocol).

  Args:
    runs: {"modality", "cell", "filter", "protocol", "scored_on", "seed",
      "metrics"} per run, filter and evaluation set.
    latencies: {(modality, cell): `latency` result}.

  Returns:
    Rows {"modality", "cell", "filter", "protocol", "scored_on", "seeds",
    <metric>: [mean, std], "params", "p50_ms"}, in the order the runs came.
  """
  fields = ("modality", "cell", "filter", "protocol", "scored_on")
  groups = {}
  for run in runs:
    groups.setdefault(tuple(run[f] for f in fields), []).append(run)
  rows = []
  for key, group in groups.items():
    row = {**dict(zip(fields, key)), "seeds": len(group)}
    modality, cell = key[:2]
    for name, path in METRICS:
      values = [_get(r["metrics"], path) for r in group]
      values = [v for v in values if v is not None]
      row[name] = (
          [float(np.mean(values)), float(np.std(values))] if values else None
      )
    # The filter runs on the host beside the interpreter: its cost per
    # frame (25 joints, a few multiply-adds each) is not what is timed.
    row.update(latencies[(modality, cell)])
    rows.append(row)
  return rows


def _label(row) -> str:
  return row["cell"] + (" + One-Euro" if row["filter"] == "one_euro" else "")


def to_markdown(rows: Sequence[dict], runs: Sequence[dict] = ()) -> str:
  """The summary as a markdown table, mean ± std over seeds, then the
  One-Euro settings each filtered run chose on its training split."""
  names = [name for name, _ in METRICS]
  header = ["modality", "model", "protocol", "scored on", "seeds", *names]
  header += ["TFLite ms/frame", "params"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [row["modality"], _label(row), row["protocol"], row["scored_on"],
             str(row["seeds"])]
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
  # A run scored on several datasets carries the same settings in each.
  tuned = {r["name"]: r for r in runs if r["filter"] == "one_euro"}
  if tuned:
    lines.append("")
    lines.append("One-Euro settings (min_cutoff Hz, beta, d_cutoff Hz), "
                 "tuned on each run's training split:")
    for run in tuned.values():
      f = run["metrics"]["one_euro"]
      lines.append(f"- {run['name']}: {f['min_cutoff']:g}, {f['beta']:g}, "
                   f"{f['d_cutoff']:g}")
  return "\n".join(lines) + "\n"


def _synthetic(row) -> bool:
  # Scored on the split of the set it trained on, not on `real_eval`.
  return "/" not in row["scored_on"]


_COLOURS = {"none": "tab:grey", "gru": "tab:blue", "lstm": "tab:orange"}
_MARKERS = {"rgb": "o", "depth": "s"}


def plot_latency_accuracy(rows: Sequence[dict], path: str):
  """PCK@0.2, occluded PCK@0.2 and acceleration error (jitter) against
  TFLite latency per frame; filtered models hollow, real footage
  diamonds."""
  panels = (("pck@0.2", "PCK@0.2, all joints"),
            ("pck@0.2 occluded", "PCK@0.2, occluded joints"),
            ("accel error px", "acceleration error (px), lower is steadier"))
  fig, axes = plt.subplots(1, 3, figsize=(13.5, 5.0))
  for ax, (metric, title) in zip(axes, panels):
    for row in rows:
      if row[metric] is None:
        continue
      mean, std = row[metric]
      colour = _COLOURS.get(row["cell"], "black")
      ax.errorbar(
          row["p50_ms"],
          mean,
          yerr=std,
          marker=(_MARKERS.get(row["modality"], "^") if _synthetic(row)
                  else "D"),
          color=colour,
          markerfacecolor="white" if row["filter"] == "one_euro" else colour,
          linestyle="none",
          capsize=3,
          label=f"{row['modality']} {_label(row)} {row['protocol']}"
          + ("" if _synthetic(row) else f" on {row['scored_on']}"),
      )
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("TFLite float32 ms per frame, 1 thread")
    ax.grid(alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  # Below the axes: inside, it hides points.
  fig.legend(handles, labels, fontsize=7, ncol=4, loc="lower center")
  fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(labels) // 4), 1, 1))
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot_training_curves(runs: Sequence[dict], path: str):
  """Held-out clip PCK@0.2 against training step, mean over seeds, one line
  per (modality, cell, protocol): whether the budget let each model stop
  improving."""
  groups = {}
  for run in runs:
    if run["filter"] == "none" and _synthetic(run) and run.get("curve"):
      key = (run["modality"], run["cell"], run["protocol"])
      groups.setdefault(key, []).append(dict(run["curve"]))
  fig, ax = plt.subplots(figsize=(7.2, 4.8))
  for (modality, cell, protocol), curves in groups.items():
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    mean = [np.mean([c[s] for c in curves]) for s in steps]
    ax.plot(steps, mean, marker=_MARKERS.get(modality, "^"),
            color=_COLOURS.get(cell, "black"),
            linestyle="-" if protocol == "xsub" else "--",
            label=f"{modality} {cell} {protocol} ({len(curves)} seeds)")
  ax.set_xlabel("training step")
  ax.set_ylabel(f"held-out {CURVE_TAG} (clips)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
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
    filters: Sequence[str] = FILTERS,
    tune_videos: int | None = 180,
    config_dir: str = "configs",
    real_eval: str | None = None,
) -> dict:
  """Runs (or resumes) the whole study and writes its reports.

  `overrides` ({"input.clip_length": 16}) apply to every run; study.json
  records them. With `report_only`, nothing is trained or evaluated: the
  reports cover the runs already finished, and the others are left out
  (logged). `filters` ("none", "one_euro") says which keypoints are scored;
  the filter's settings are tuned on the first `tune_videos` videos (None:
  all) of each run's training split. `real_eval` (a tfds_ntu build config,
  e.g. "teacher_rgb") adds rows for the runs of its modality, scored on its
  held-out split (`real_footage_run`).

  Returns:
    The contents of study.json: {"runs": [...], "summary": [...]}, one run
    entry per run and filter.
  """
  for name, given, known in (
      ("modalities", modalities, MODALITIES),
      ("cells", cells, CELLS),
      ("protocols", protocols, tuple(PROTOCOLS)),
      ("filters", filters, FILTERS),
  ):
    unknown = set(given) - set(known)
    if unknown:
      raise ValueError(f"Unknown {name} {sorted(unknown)}; use {known}.")
  real_modality = build_modality(real_eval) if real_eval else None
  if real_eval and real_modality not in modalities:
    raise ValueError(f"real_eval {real_eval!r} stores {real_modality} "
                     f"frames; the study trains {list(modalities)}.")
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
        config_dir,
    )
    metrics = finished_metrics(config, workdir)
    if report_only and metrics is None:
      logging.warning("Not finished, left out of the report: %s", name)
      continue
    metrics = metrics or train_and_evaluate_run(config, workdir)
    by_filter = {"none": metrics}
    if "one_euro" in filters:
      filtered = _json(os.path.join(
          _stream_dir(config, workdir, filtered=True), "metrics.json"))
      if not report_only:
        filtered = one_euro_run(config, workdir, tune_videos)
      if filtered and filtered["step"] == config.num_train_steps:
        by_filter["one_euro"] = filtered
    scored = {config.dataset.eval_split: by_filter}
    if modality == real_modality:
      scored[f"{real_eval}/{config.dataset.mix_eval_split}"] = (
          real_footage_run(config, workdir, real_eval,
                           by_filter.get("one_euro"), report_only))
    record = {"name": name, "modality": modality, "cell": cell,
              "protocol": protocol, "seed": seed,
              "steps": config.num_train_steps}
    curve = eval_curve(workdir)
    for scored_on, metrics_by_filter in scored.items():
      for filter_ in filters:
        if filter_ in metrics_by_filter:
          runs.append({**record, "filter": filter_, "scored_on": scored_on,
                       "metrics": metrics_by_filter[filter_],
                       "curve": curve})
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
  table = to_markdown(result["summary"], runs)
  with open(os.path.join(out_dir, "study.md"), "w") as f:
    f.write(table)
  plot_latency_accuracy(
      result["summary"], os.path.join(out_dir, "latency_accuracy.png")
  )
  plot_training_curves(runs, os.path.join(out_dir, "training_curves.png"))
  logging.info("Wrote %s:\n%s", out_dir, table)
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
  flags.DEFINE_string(
      "config_dir", "configs",
      "The experiment configs' folder: each run starts from its "
      "<modality>_gru.py.")
  flags.DEFINE_integer("latency_runs", 100, "Timed TFLite invokes per model.")
  flags.DEFINE_bool(
      "report_only", False, "Train nothing: report the finished runs."
  )
  flags.DEFINE_list("filters", list(FILTERS),
                    f"Keypoints scored, of {FILTERS}: the model's own, and "
                    "after a One-Euro filter tuned on the training split.")
  flags.DEFINE_integer(
      "tune_videos", 180,
      "Training-split videos the One-Euro settings are tuned on; 0: all.")
  flags.DEFINE_string(
      "real_eval", None,
      "A tfds_ntu build config of real footage (e.g. teacher_rgb): the runs "
      "of its modality are also scored on its held-out split.")
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
              "reuse_host_memory",
              experiment_config(FLAGS.config_dir, "rgb", None).reuse_host_memory,
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
      FLAGS.filters,
      FLAGS.tune_videos or None,
      FLAGS.config_dir,
      FLAGS.real_eval,
  )


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
