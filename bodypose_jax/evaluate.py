r"""Evaluates a trained streaming model on whole videos of a dataset split.

  python -m bodypose_jax.evaluate --workdir=workdirs/rgb_gru_syn
  python -m bodypose_jax.evaluate --workdir=W --split=xview_test \
      --tflite=W/export/pose_int8.tflite --max_videos=50
  # Held-out real performers, labelled by the teacher (tfds_ntu/teacher_rgb):
  python -m bodypose_jax.evaluate --workdir=W --builder_config=teacher_rgb

runs the workdir's checkpoint (the JAX streaming step) or an exported TFLite
model frame by frame over every video of the split, the state reset at the
start of each video and carried through it, as an app would run it. Writes,
into --out (default
<workdir>/eval_[<builder_config>_]<split>[_oracle][_tflite]):

  metrics.json            PCK (all / visible / occluded joints), the PCK
                          curve and its AUC, per-joint PCK, pixel error,
                          jitter, recovery after occlusion (video_metrics.py)
  pck_curve.png           PCK against the threshold, per subset
  per_joint_pck.png       PCK@0.2 of every joint
  occlusion_recovery.png  error around the frame a joint reappears

`--builder_config` evaluates on another build of the same modality than the
workdir trained on, e.g. teacher-labelled real video (`teacher_rgb`, split
default `config.dataset.mix_eval_split`, 'test': its held-out performers),
so that a synthetic-only and a mixed model compare on the same real people.
Joints the teacher did not give (tracking state 0) are not scored, and do
not shape oracle ROIs; frames whose torso cannot be measured are not scored
(the rule: `metrics.torso_lengths`). Teacher-labelled videos of any size are
scored in their own pixels.
"""

import json
import os
import time

from absl import app
from absl import flags
from absl import logging
import jax
from matplotlib.backends import backend_agg
from matplotlib import figure
import numpy as np

from bodypose_jax import input_pipeline
from bodypose_jax import roi
from bodypose_jax import skeleton
from bodypose_jax import streaming
from bodypose_jax import tflite_model
from bodypose_jax import tracking
from bodypose_jax import video_metrics
from bodypose_jax import workdir as workdir_lib

FLAGS = flags.FLAGS

# Frames per jitted call of the JAX step: one compilation serves videos of
# any length (the last chunk is padded), where a scan over whole videos
# would recompile for every new length.
_CHUNK = 32
_LOG_EVERY = 10


# ------------------------------------------------------------- predictors --
class JaxPredictor:
  """The checkpoint's tracked streaming step over whole videos.

  `rois='tracked'` follows the person from a whole-frame start, as an app
  does (with the double take on whole-frame views when
  `tracking.refines(config)`); `'oracle'` crops every frame with the ROI
  that bounds the previous frame's ground truth (a perfect tracker), and
  never refines. Models that see the whole frame (`crop.mode='frame'`) take
  the whole frame either way.
  """

  def __init__(self, trained: workdir_lib.Trained, rois: str = "tracked",
               chunk: int = _CHUNK):
    config = trained.config
    modality, _ = input_pipeline.modality(config)
    if rois not in ("tracked", "oracle"):
      raise ValueError(f"rois={rois!r}: 'tracked' or 'oracle'")
    self._config, self._rois = config, rois
    self._input_hw = tuple(config.input.input_size)
    self._fmt = streaming.state_format(trained.model, self._input_hw)
    step = tracking.make_tracked_step(
        trained.model, trained.variables, modality, config, self._fmt
    )
    refine = tracking.make_refine(config, trained.model.cell_stride,
                                  self._fmt)
    names = tuple(f"state_{n}" for n in self._fmt.names)
    self._chunk = chunk
    nearest = modality == "depth"

    def run(frames, first_roi, state, rois, first_whole):
      outs = tracking.rollout(step, self._fmt, frames, first_roi, state,
                              self._input_hw, nearest, rois, refine,
                              first_whole)
      return (outs["keypoints"][:, 0], outs["lost"][:, 0],
              outs["next_roi"][-1, 0], tuple(outs[k][-1] for k in names))

    self._run = jax.jit(run)

  def __call__(self, video: dict) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints [N, J, 2] in frame pixels for `video`'s frames [N, H, W, C]
    (sensor units), from the zero state and a whole-frame start, and [N]
    whether tracking was judged lost after each frame."""
    frames = video["frames"]
    n = len(frames)
    state = self._fmt.zeros()
    current = roi.whole_frame(frames.shape[1:3], self._input_hw).astype(
        np.float32)
    oracle = None
    if self._rois == "oracle" and tracking.tracks(self._config):
      oracle = tracking.oracle_rois(video["joints"], video["tracking_state"],
                                    frames.shape[1:3], self._config)
    keypoints, lost = [], []
    whole = True  # the next chunk starts from a whole-frame view
    for start in range(0, n, self._chunk):
      part = frames[start : start + self._chunk]
      pad = self._chunk - len(part)
      # Padding frames come after the real ones: they cannot change the
      # outputs before them, and the state they leave is dropped.
      part = np.concatenate(
          [part, np.zeros((pad, *part.shape[1:]), part.dtype)]
      )
      rois = None
      if oracle is not None:  # this chunk's ROIs and the next frame's
        rois = oracle[start : start + self._chunk + 1]
        rois = np.concatenate(
            [rois, np.repeat(rois[-1:], self._chunk + 1 - len(rois), 0)]
        )
      kp, lost_, last_roi, state = self._run(part, current, state, rois,
                                             whole)
      keypoints.append(np.asarray(kp)[: self._chunk - pad])
      lost.append(np.asarray(lost_)[: self._chunk - pad])
      current, whole = np.asarray(last_roi), lost[-1][-1]
    return np.concatenate(keypoints), np.concatenate(lost)


class TflitePredictor:
  """An exported model, tracked frame by frame as an app runs it
  (`tracking.HostTracker`)."""

  def __init__(self, path: str, config):
    model = tflite_model.StreamingModel(path)
    modality, channels = input_pipeline.modality(config)
    expected = [1, *config.input.input_size, channels]
    got = list(model.sidecar["input"]["shape"])
    if got != expected:
      raise ValueError(
          f"{path} takes frames of shape {got}, but the workdir's dataset "
          f"gives {expected} ({modality}); export the model from this "
          "workdir or evaluate it with the workdir it was trained in."
      )
    self.step = model.sidecar.get("trained", {}).get("step")
    self._tracker = tracking.HostTracker(model)

  def __call__(self, video: dict) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints [N, J, 2] in frame pixels, from a whole-frame start, and
    [N] whether tracking was judged lost after each frame."""
    self._tracker.reset()
    outs = [self._tracker(f) for f in video["frames"]]
    return (np.stack([o["keypoints"] for o in outs]),
            np.array([o["lost"] for o in outs]))


# ------------------------------------------------------------------ plots --
def _save(fig: figure.Figure, path: str):
  # An explicit Agg canvas: no pyplot, so no process-wide backend to set.
  backend_agg.FigureCanvasAgg(fig)
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def _nan(values):
  return np.array([np.nan if v is None else v for v in values], np.float64)


def plot_pck_curve(metrics: dict, path: str):
  fig = figure.Figure(figsize=(6, 4.5))
  ax = fig.add_subplot()
  grid = metrics["pck_curve_thresholds"]
  for name in video_metrics.SUBSETS:
    res = metrics[name]
    if res["count"]:
      auc = res["pck_auc"]
      ax.plot(grid, res["pck_curve"], label=f"{name} (AUC {auc:.3f})")
  ax.set_xlabel("threshold (fraction of torso length)")
  ax.set_ylabel("PCK")
  ax.set_xlim(grid[0], grid[-1])
  ax.set_ylim(0, 1.02)
  ax.grid(alpha=0.3)
  ax.legend(loc="lower right")
  ax.set_title("PCK curve")
  _save(fig, path)


def plot_per_joint_pck(metrics: dict, path: str):
  key = f"per_joint_pck@{video_metrics.PCK_JOINT_THRESHOLD:g}"
  fig = figure.Figure(figsize=(12, 4.5))
  ax = fig.add_subplot()
  x = np.arange(skeleton.NUM_JOINTS)
  width = 0.27
  for i, name in enumerate(video_metrics.SUBSETS):
    values = _nan(metrics[name][key][j] for j in skeleton.JOINT_NAMES)
    ax.bar(x + (i - 1) * width, np.nan_to_num(values), width, label=name)
  ax.set_xticks(x, skeleton.JOINT_NAMES, rotation=60, ha="right")
  ax.set_ylabel(f"PCK@{video_metrics.PCK_JOINT_THRESHOLD:g}")
  ax.set_ylim(0, 1.02)
  ax.grid(axis="y", alpha=0.3)
  ax.legend()
  ax.set_title("Per-joint PCK")
  _save(fig, path)


def plot_occlusion_recovery(metrics: dict, path: str):
  around, rec = metrics["around_occlusion_end"], metrics["recovery"]
  fig = figure.Figure(figsize=(6, 4.5))
  ax = fig.add_subplot()
  ax.plot(around["offsets"], _nan(around["mean_normalised_error"]), "o-")
  ax.axvline(0, color="gray", linestyle="--", label="joint visible again")
  ax.axhline(
      rec["threshold"], color="red", linestyle=":", label="recovered below"
  )
  ax.set_xlabel("frames from the end of the occlusion")
  ax.set_ylabel("mean error (fraction of torso length)")
  ax.grid(alpha=0.3)
  ax.legend()
  median = rec["median_frames"]
  ends = rec["events"] + rec["censored"]
  ax.set_title(
      f"{ends} occlusions of >= {rec['min_occluded']} frames "
      f"({rec['censored']} cut off by the video's end)\n"
      f"median recovery {'-' if median is None else f'{median:g}'} frames",
      fontsize=10,
  )
  _save(fig, path)


# --------------------------------------------------------------- evaluate --
def default_out_dir(workdir: str, split: str, tflite: str | None,
                    rois: str = "tracked",
                    builder_config: str | None = None) -> str:
  return os.path.join(
      workdir,
      "eval_"
      + (f"{builder_config}_" if builder_config else "")
      + split
      + ("_oracle" if rois == "oracle" else "")
      + ("_tflite" if tflite else ""),
  )


def evaluate(
    workdir: str,
    split: str | None = None,
    tflite: str | None = None,
    max_videos: int | None = None,
    out_dir: str | None = None,
    step: int | None = None,
    rois: str = "tracked",
    builder_config: str | None = None,
    data_dir: str | None = None,
) -> dict:
  """Evaluates a workdir's checkpoint or an exported model on whole videos.

  Args:
    workdir: the training workdir (its config says the dataset).
    split: any split of that dataset; default its eval split (with another
      `builder_config`: `config.dataset.mix_eval_split`).
    tflite: an exported .tflite (sidecar beside it) to run instead of the
      checkpoint.
    max_videos: evaluate only the first videos of the split.
    out_dir: where metrics.json and the plots go; default
      <workdir>/eval_<split>[_tflite].
    step: the checkpoint to restore (JAX only); default the latest.
    rois: 'tracked' (the model follows the person from a whole-frame start)
      or 'oracle' (each frame cropped around the previous frame's ground
      truth; JAX only).
    builder_config: evaluate on this tfds_ntu builder config (same
      modality) instead of the one the workdir trained on, e.g.
      'teacher_rgb'.
    data_dir: where that build is; default the workdir's data_dir.

  Returns:
    The contents of metrics.json.
  """
  config = workdir_lib.load_config(workdir)
  other = builder_config not in (None, "", config.dataset.builder_config)
  if other or data_dir:
    config = _on_dataset(config, builder_config, data_dir)
  split = split or (config.dataset.mix_eval_split if other
                    else config.dataset.eval_split)
  builder = input_pipeline.get_builder(config)
  # Before the model: a typo or an empty split fails fast.
  input_pipeline.check_split(builder, split)
  if tflite and rois != "tracked":
    raise ValueError("An exported model is evaluated with rois='tracked'.")
  if tflite:
    predict = TflitePredictor(tflite, config)
    model = {"kind": "tflite", "path": os.path.abspath(tflite)}
    model_step = predict.step
  else:
    # float32 as the float export computes: 'auto' would pick bfloat16 on
    # accelerators and the numbers would depend on where they were taken.
    trained = workdir_lib.restore(workdir, step, compute_dtype="float32")
    predict = JaxPredictor(trained, rois)
    model = {"kind": "jax", "path": os.path.abspath(workdir)}
    model_step = trained.step
  ds = input_pipeline.sequence_dataset(config, builder, split)
  if max_videos:
    ds = ds.take(max_videos)

  # The summary line quotes PCK@0.2 whatever thresholds training logged.
  thresholds = sorted(
      {*config.pck_thresholds, *video_metrics.DEFAULT_THRESHOLDS}
  )
  acc = video_metrics.VideoMetrics(thresholds=thresholds)
  t0 = time.perf_counter()
  num_frames, lost_frames = 0, 0
  # Errors in original sensor pixels (1920x1080 colour, 512x424 depth).
  for i, video in enumerate(input_pipeline.as_numpy(ds)):
    scale = video["scale"]
    pred, lost = predict(video)
    acc.add(pred * scale, video["joints"] * scale, video["tracking_state"])
    lost_frames += int(lost.sum())
    num_frames += len(pred)
    if (i + 1) % _LOG_EVERY == 0:
      logging.info(
          "%d videos, %d frames, %.1f frames/s.",
          i + 1,
          num_frames,
          num_frames / (time.perf_counter() - t0),
      )
  if acc.sums is None:
    raise ValueError(f"Split {split!r} of {workdir} has no video.")
  result = {
      "model": model,
      "step": model_step,
      "split": split,
      "dataset": f"{config.dataset.name}/{config.dataset.builder_config}",
      "rois": rois if tracking.tracks(config) else "whole_frame",
      "pixels": "original sensor pixels",
      # Frames after which the tracker went back to the whole frame.
      "lost_fraction": round(lost_frames / max(num_frames, 1), 4),
      **acc.result(),
      "seconds": round(time.perf_counter() - t0, 1),
  }

  out_dir = out_dir or default_out_dir(
      workdir, split, tflite, rois,
      config.dataset.builder_config if other else None)
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, "metrics.json"), "w") as f:
    json.dump(result, f, indent=2)
  plot_pck_curve(result, os.path.join(out_dir, "pck_curve.png"))
  plot_per_joint_pck(result, os.path.join(out_dir, "per_joint_pck.png"))
  plot_occlusion_recovery(
      result, os.path.join(out_dir, "occlusion_recovery.png")
  )
  logging.info("%s", summary(result))
  logging.info("Wrote %s.", out_dir)
  return result


def _on_dataset(config, builder_config, data_dir):
  """The run's config pointed at another build of the same modality."""
  modality, _ = input_pipeline.modality(config)
  config = config.copy_and_resolve_references()
  with config.unlocked():
    if builder_config:
      config.dataset.builder_config = builder_config
    if data_dir:
      config.dataset.data_dir = data_dir
  other, _ = input_pipeline.modality(config)
  if other != modality:
    raise ValueError(
        f"{builder_config!r} stores {other} frames; the workdir's model "
        f"reads {modality}."
    )
  config.lock()
  return config


def summary(result: dict) -> str:
  """One line: the headline numbers of an evaluation."""
  fmt = lambda v, spec: "-" if v is None else format(v, spec)
  every, vis, occ = (result[s] for s in video_metrics.SUBSETS)
  rec, jit = result["recovery"], result["jitter"]
  return (
      f"{result['model']['kind']} step {result['step']} on "
      f"{result.get('dataset', '')} {result['split']} "
      f"({result['rois']} ROIs): "
      f"{result['num_videos']} videos, {result['num_frames']} frames; "
      f"PCK@0.2 {fmt(every.get('pck@0.2'), '.3f')} "
      f"(visible {fmt(vis.get('pck@0.2'), '.3f')}, "
      f"occluded {fmt(occ.get('pck@0.2'), '.3f')}), "
      f"AUC {fmt(every['pck_auc'], '.3f')}, "
      f"error {fmt(every['pixel_error'], '.2f')} px, "
      f"accel error {fmt(jit['accel_error_px'], '.2f')} px, "
      f"recovery median {fmt(rec['median_frames'], 'g')} frames "
      f"({rec['events']} occlusions, {rec['never_recovered']} never); "
      f"lost after {100 * result.get('lost_fraction', 0):.1f}% of frames"
  )


# ------------------------------------------------------------------- main --
def _define_flags():
  # Defined only when run as a program, so that the library can be imported
  # beside other commands (tests import several in one process).
  flags.DEFINE_string("workdir", None, "Training workdir.", required=True)
  flags.DEFINE_string(
      "split", None, "Dataset split; default the workdir's eval split."
  )
  flags.DEFINE_string(
      "tflite", None, "Evaluate this exported model instead of the checkpoint."
  )
  flags.DEFINE_integer("max_videos", None, "Evaluate the first N videos only.")
  flags.DEFINE_string(
      "out", None, "Output folder; default "
      "<workdir>/eval_[<builder_config>_]<split>[_oracle][_tflite]."
  )
  flags.DEFINE_integer("step", None, "Checkpoint step; default the latest.")
  flags.DEFINE_enum(
      "rois", "tracked", ["tracked", "oracle"],
      "tracked: follow the person from a whole-frame start, as an app does; "
      "oracle: crop each frame around the previous frame's ground truth.",
  )
  flags.DEFINE_string(
      "builder_config", None,
      "Evaluate on this tfds_ntu builder config (same modality) instead of "
      "the workdir's, e.g. teacher_rgb: teacher-labelled real video, split "
      "default 'test' (held-out performers).",
  )
  flags.DEFINE_string(
      "data_dir", None, "Where that build is; default the workdir's.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  # tf.data and the TFLite interpreter run on the CPU; leave the GPU to JAX.
  tf.config.set_visible_devices([], "GPU")
  result = evaluate(
      FLAGS.workdir,
      FLAGS.split,
      FLAGS.tflite,
      FLAGS.max_videos,
      FLAGS.out,
      FLAGS.step,
      FLAGS.rois,
      FLAGS.builder_config,
      FLAGS.data_dir,
  )
  print(summary(result))


if __name__ == "__main__":
  _define_flags()
  app.run(main)
