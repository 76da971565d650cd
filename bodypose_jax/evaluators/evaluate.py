r"""Evaluates a trained streaming model on whole videos of a dataset split.

  python -m bodypose_jax.evaluators.evaluate --workdir=workdirs/rgb_gru_syn
  python -m bodypose_jax.evaluators.evaluate --workdir=W --split=xview_test \
      --tflite=W/export/pose_int8.tflite --max_videos=50
  python -m bodypose_jax.evaluators.evaluate --workdir=W --one_euro --one_euro_beta=10
  python -m bodypose_jax.evaluators.evaluate --workdir=W --tune_one_euro \
      --split=xsub_train --max_videos=40 --out=/tmp/tune
  # Held-out real performers, labelled by the teacher (tfds_ntu/teacher_rgb):
  python -m bodypose_jax.evaluators.evaluate --workdir=W --builder_config=teacher_rgb

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

With `--one_euro` (or `config.tracking.one_euro.enabled`) the metrics are
those of the keypoints after the One-Euro filter (one_euro.py; the
--one_euro_* flags override the config's settings), beside the unfiltered
headline numbers under 'unfiltered', in <default folder>_one_euro. The
filter is causal and the tracker never sees it, so filtering each finished
video gives what the streaming loop reports. `--tune_one_euro` instead runs
the model once over the split and grid-searches min_cutoff x beta
(`tune_one_euro`), writing one_euro_tuning.json (default folder
<workdir>/one_euro_tuning_<split>).
`--builder_config` evaluates on another build of the same modality than the
workdir trained on, e.g. teacher-labelled real video (`teacher_rgb`, split
default `config.dataset.mix_eval_split`, 'test': its held-out performers),
so that a synthetic-only and a mixed model compare on the same real people.
A two-person action is scored against the performer the
tracker followed (`scored_truth`: the one its keypoints were on for the
most joint-frames), since a one-person tracker that finds the whole frame's
other performer has no way to know which one the dataset lists first;
metrics.json also gives every video scored against the first performer
('first_performer_only') and how many it followed the second.
Joints the teacher did not give (tracking state 0) are not scored, and do
not shape oracle ROIs; frames whose torso cannot be measured are not scored
(the rule: `metrics.torso_lengths`). Teacher-labelled videos of any size are
scored in their own pixels.
"""

import os
import time

from absl import app
from absl import flags
from absl import logging
import jax
from matplotlib.backends import backend_agg
from matplotlib import figure
import numpy as np

from bodypose_jax.data import input_pipeline
from bodypose_jax.data import roi
from bodypose_jax.deploy import one_euro as one_euro_lib
from bodypose_jax.deploy import streaming
from bodypose_jax.deploy import tflite_model
from bodypose_jax.deploy import tracking
from bodypose_jax.evaluators import video_metrics
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import cli
from bodypose_jax import workdir as workdir_lib

FLAGS = flags.FLAGS

# Frames per jitted call of the JAX step: one compilation serves videos of
# any length (the last chunk is padded), where a scan over whole videos
# would recompile for every new length.
_CHUNK = 32
_LOG_EVERY = 10
# NTU RGB+D's Kinect v2 records at 30 fps; the synthetic sets stand in for
# it (their 24 frames play a whole action, faster than people do).
DATASET_FPS = 30.0
# The tuning grid (Hz; Hz per person size per second). MediaPipe's pose
# landmarks use min_cutoff 0.1, beta 40.
TUNE_MIN_CUTOFFS = (0.03, 0.1, 0.3, 1.0, 3.0)
TUNE_BETAS = (0.0, 3.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0, 100.0)
# Tuning's criterion: the lowest acceleration error among the settings that
# keep PCK@0.2 (all joints) within this of the unfiltered model's.
TUNE_MAX_PCK_DROP = 0.005


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
      return (outs["keypoints"][:, 0], outs["confidences"][:, 0],
              outs["lost"][:, 0], outs["next_roi"][-1, 0],
              tuple(outs[k][-1] for k in names))

    self._run = jax.jit(run)

  def __call__(self, video: dict) -> dict:
    """For `video`'s frames [N, H, W, C] (sensor units), from the zero state
    and a whole-frame start: keypoints [N, J, 2] in frame pixels,
    confidences [N, J] and lost [N], whether tracking was judged lost after
    each frame."""
    frames = video["frames"]
    n = len(frames)
    state = self._fmt.zeros()
    current = roi.whole_frame(frames.shape[1:3], self._input_hw).astype(
        np.float32)
    oracle = None
    if self._rois == "oracle" and tracking.tracks(self._config):
      oracle = tracking.oracle_rois(video["joints"], video["tracking_state"],
                                    frames.shape[1:3], self._config)
    keypoints, confidences, lost = [], [], []
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
      kp, conf, lost_, last_roi, state = self._run(part, current, state,
                                                   rois, whole)
      keypoints.append(np.asarray(kp)[: self._chunk - pad])
      confidences.append(np.asarray(conf)[: self._chunk - pad])
      lost.append(np.asarray(lost_)[: self._chunk - pad])
      current, whole = np.asarray(last_roi), lost[-1][-1]
    return {"keypoints": np.concatenate(keypoints),
            "confidences": np.concatenate(confidences),
            "lost": np.concatenate(lost)}


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

  def __call__(self, video: dict) -> dict:
    """From a whole-frame start: keypoints [N, J, 2] in frame pixels (the
    tracker's raw ones), confidences [N, J] and lost [N], whether tracking
    was judged lost after each frame."""
    self._tracker.reset()
    outs = [self._tracker(f) for f in video["frames"]]
    return {"keypoints": np.stack([o["raw_keypoints"] for o in outs]),
            "confidences": np.stack([np.asarray(o["confidences"])
                                     for o in outs]),
            "lost": np.array([o["lost"] for o in outs])}


# ------------------------------------------------------------------ plots --
def _save(fig: figure.Figure, path: str):
  # An explicit Agg canvas: no pyplot, so no process-wide backend to set.
  backend_agg.FigureCanvasAgg(fig)
  fig.tight_layout()
  with cli.atomic_output(path) as tmp:
    fig.savefig(tmp, dpi=100)


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
                    rois: str = "tracked", filtered: bool = False,
                    builder_config: str | None = None) -> str:
  return os.path.join(
      workdir,
      "eval_"
      + (f"{builder_config}_" if builder_config else "")
      + split
      + ("_oracle" if rois == "oracle" else "")
      + ("_tflite" if tflite else "")
      + ("_one_euro" if filtered else ""),
  )


def _predictor(workdir, split, tflite, max_videos, step, rois,
               builder_config=None, data_dir=None):
  """(config, split, predict, model record, step, dataset, the builder
  config evaluated on when not the workdir's, else None) of an evaluation:
  the checks and the loading `evaluate` and `tune_one_euro` share. Each
  video of the dataset carries its 'scale' to original pixels."""
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
  return (config, split, predict, model, model_step, ds,
          config.dataset.builder_config if other else None)


def scored_truth(video: dict, pred) -> tuple:
  """(joints [N, J, 2] in original pixels, tracking_state [N, J], index)
  that `pred` [N, J, 2] (stored-frame pixels) is scored against: the
  performer it followed (`video_metrics.followed_actor`; index 1 for a
  two-person action's second performer, else 0)."""
  actors = [(video["joints"], video["tracking_state"])]
  if video["second_tracking_state"].any():
    actors.append((video["second_joints"], video["second_tracking_state"]))
  index = video_metrics.followed_actor(pred, actors)
  joints, state = actors[index]
  return joints * video["scale"], state, index


def _scored_videos(predict, ds):
  """Runs the model over each video of `ds`, logging progress.

  Yields:
    (video, the model's output, the truth it is scored against
    (`scored_truth`: joints in original pixels, tracking state), index of
    the performer it followed).
  """
  t0, num_frames = time.perf_counter(), 0
  for i, video in enumerate(input_pipeline.as_numpy(ds)):
    out = predict(video)
    *truth, followed = scored_truth(video, out["keypoints"])
    yield video, out, tuple(truth), followed
    num_frames += len(out["keypoints"])
    if (i + 1) % _LOG_EVERY == 0:
      logging.info("%d videos, %d frames, %.1f frames/s.", i + 1, num_frames,
                   num_frames / (time.perf_counter() - t0))


def _thresholds(config):
  # The summary line quotes PCK@0.2 whatever thresholds training logged.
  return sorted({*config.pck_thresholds, *video_metrics.DEFAULT_THRESHOLDS})


def headline(result: dict) -> dict:
  """PCK@0.2 of every subset, pixel and acceleration error of `result`
  (`video_metrics.finalize`'s or an evaluation's)."""
  out = {f"pck@0.2 {name}": result[name].get("pck@0.2")
         for name in video_metrics.SUBSETS}
  out["pixel_error"] = result["all"]["pixel_error"]
  out["accel_error_px"] = result["jitter"]["accel_error_px"]
  return out


def evaluate(
    workdir: str,
    split: str | None = None,
    tflite: str | None = None,
    max_videos: int | None = None,
    out_dir: str | None = None,
    step: int | None = None,
    rois: str = "tracked",
    one_euro: dict | None = None,
    fps: float = DATASET_FPS,
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
    one_euro: settings over the workdir config's `tracking.one_euro`
      (enabled, min_cutoff, beta, d_cutoff; None values ignored): when
      enabled, the metrics are those of the filtered keypoints.
    fps: the videos' frame rate, for the filter.
    builder_config: evaluate on this tfds_ntu builder config (same
      modality) instead of the one the workdir trained on, e.g.
      'teacher_rgb'.
    data_dir: where that build is; default the workdir's data_dir.

  Returns:
    The contents of metrics.json.
  """
  config, split, predict, model, model_step, ds, other = _predictor(
      workdir, split, tflite, max_videos, step, rois, builder_config,
      data_dir)
  params = one_euro_lib.resolve(config.tracking.one_euro, one_euro)
  out_dir = out_dir or default_out_dir(workdir, split, tflite, rois,
                                       params is not None, other)
  cli.check_writable(os.path.join(out_dir, "metrics.json"))
  thresholds = _thresholds(config)
  acc = video_metrics.VideoMetrics(thresholds=thresholds)
  raw_acc = video_metrics.VideoMetrics(thresholds=thresholds)
  first_acc = video_metrics.VideoMetrics(thresholds=thresholds)
  t0 = time.perf_counter()
  num_frames, lost_frames, two_person, followed_second = 0, 0, 0, 0
  # Errors in original sensor pixels (1920x1080 colour, 512x424 depth).
  for video, out, truth, followed in _scored_videos(predict, ds):
    pred, lost, scale = out["keypoints"], out["lost"], video["scale"]
    two_person += int(video["second_tracking_state"].any())
    followed_second += followed
    first_acc.add(pred * scale, video["joints"] * scale,
                  video["tracking_state"])
    if params is not None:
      raw_acc.add(pred * scale, *truth)
      pred = one_euro_lib.filter_video(
          pred, out["confidences"], lost, fps, params,
          config.tracking.min_joint_confidence)
    acc.add(pred * scale, *truth)
    lost_frames += int(lost.sum())
    num_frames += len(pred)
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
      # Each lost frame sends the next one back to a whole-frame search:
      # tracking losses per minute of video at the dataset's frame rate.
      "redetections_per_minute": round(
          lost_frames / max(num_frames / fps / 60, 1e-9), 3),
      # Two-person actions are scored against the performer the tracker
      # followed (`scored_truth`); 'first_performer_only' scores every
      # video against the dataset's first performer (unfiltered).
      "two_person_videos": two_person,
      "followed_second_performer": followed_second,
      "first_performer_only": headline(first_acc.result()),
      **acc.result(),
      "seconds": round(time.perf_counter() - t0, 1),
  }
  if params is not None:
    result["one_euro"] = {**params._asdict(), "fps": fps}
    result["unfiltered"] = headline(raw_acc.result())

  cli.write_json(os.path.join(out_dir, "metrics.json"), result, indent=2)
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
  filtered = ""
  if "one_euro" in result:
    f = result["one_euro"]
    filtered = (f"One-Euro (min_cutoff {f['min_cutoff']:g}, beta "
                f"{f['beta']:g}, d_cutoff {f['d_cutoff']:g}) ")
  return (
      f"{result['model']['kind']} step {result['step']} on "
      f"{result.get('dataset', '')} {result['split']} "
      f"({result['rois']} ROIs): {filtered}"
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
      + ("" if not result.get("two_person_videos") else
         f"; followed the second performer in "
         f"{result['followed_second_performer']} of "
         f"{result['two_person_videos']} two-person videos (first "
         f"performer only: PCK@0.2 "
         f"{fmt(result['first_performer_only']['pck@0.2 all'], '.3f')})")
      + ("" if "unfiltered" not in result else
         f"; unfiltered PCK@0.2 "
         f"{fmt(result['unfiltered']['pck@0.2 all'], '.3f')}, accel error "
         f"{fmt(result['unfiltered']['accel_error_px'], '.2f')} px")
  )


# ----------------------------------------------------------------- tuning --
def tune_one_euro(
    workdir: str,
    split: str = "xsub_train",
    max_videos: int | None = None,
    out_dir: str | None = None,
    step: int | None = None,
    rois: str = "tracked",
    tflite: str | None = None,
    min_cutoffs=TUNE_MIN_CUTOFFS,
    betas=TUNE_BETAS,
    d_cutoff: float | None = None,
    fps: float = DATASET_FPS,
    max_pck_drop: float = TUNE_MAX_PCK_DROP,
) -> dict:
  """Grid-searches the One-Euro filter's min_cutoff x beta on a split.

  The model runs once over the videos; every setting filters the same raw
  keypoints (`one_euro.filter_video`, all settings at once).

  The criterion: among the settings whose PCK@0.2 over all joints is at
  most `max_pck_drop` below the unfiltered model's, the one with the lowest
  acceleration error (ties: the higher PCK@0.2). The filter is there to
  steady the keypoints, so jitter is what it is chosen on; accuracy is a
  bound it must keep, not a quantity to trade against jitter at a rate a
  weighted sum would have to invent (pixels of acceleration per point of
  PCK). Tune on a training split: the test split then reports the choice.

  Args:
    workdir, split, max_videos, step, rois, tflite: as `evaluate`.
    out_dir: where one_euro_tuning.json goes; default
      <workdir>/one_euro_tuning_<split>.
    min_cutoffs, betas: the grid.
    d_cutoff: the speed's cutoff for every setting; None: the config's.
    fps: the videos' frame rate.
    max_pck_drop: the criterion's bound.

  Returns:
    The contents of one_euro_tuning.json: 'unfiltered' and per setting
    ('rows') the `headline` metrics, 'best' the chosen row, and the
    criterion.
  """
  config, split, predict, model, model_step, ds, _ = _predictor(
      workdir, split, tflite, max_videos, step, rois)
  out_dir = out_dir or os.path.join(workdir, f"one_euro_tuning_{split}")
  cli.check_writable(os.path.join(out_dir, "one_euro_tuning.json"))
  if d_cutoff is None:
    d_cutoff = config.tracking.one_euro.d_cutoff
  settings = [(float(c), float(b)) for c in min_cutoffs for b in betas]
  grid = one_euro_lib.Params(
      np.array([c for c, _ in settings], np.float32)[:, None],
      np.array([b for _, b in settings], np.float32)[:, None],
      float(d_cutoff))
  thresholds = _thresholds(config)
  raw_acc = video_metrics.VideoMetrics(thresholds=thresholds)
  accs = [video_metrics.VideoMetrics(thresholds=thresholds)
          for _ in settings]
  t0 = time.perf_counter()
  for video, out, truth, _ in _scored_videos(predict, ds):
    pred, scale = out["keypoints"], video["scale"]
    raw_acc.add(pred * scale, *truth)
    many = one_euro_lib.filter_video(
        np.repeat(pred[:, None], len(settings), axis=1), out["confidences"],
        out["lost"], fps, grid, config.tracking.min_joint_confidence)
    for g, acc in enumerate(accs):
      acc.add(many[:, g] * scale, *truth)
  if raw_acc.sums is None:
    raise ValueError(f"Split {split!r} of {workdir} has no video.")
  unfiltered = headline(raw_acc.result())
  rows = [{"min_cutoff": c, "beta": b, **headline(acc.result())}
          for (c, b), acc in zip(settings, accs)]
  floor = unfiltered["pck@0.2 all"] - max_pck_drop
  kept = [r for r in rows if r["pck@0.2 all"] >= floor]
  best = min(kept, key=lambda r: (r["accel_error_px"], -r["pck@0.2 all"]),
             default=None)
  result = {
      "model": model,
      "step": model_step,
      "split": split,
      "rois": rois if tracking.tracks(config) else "whole_frame",
      "num_videos": raw_acc.result()["num_videos"],
      "max_videos": max_videos,
      "pixels": "original sensor pixels",
      "fps": fps,
      "d_cutoff": float(d_cutoff),
      "criterion": (
          "lowest accel_error_px among the settings with pck@0.2 all >= "
          f"unfiltered - {max_pck_drop:g}; ties: higher pck@0.2 all"),
      "unfiltered": unfiltered,
      "rows": rows,
      "best": best,
      "seconds": round(time.perf_counter() - t0, 1),
  }
  cli.write_json(os.path.join(out_dir, "one_euro_tuning.json"), result,
                 indent=2)
  logging.info("Wrote %s.", out_dir)
  return result


def tuning_table(result: dict) -> str:
  """The tuning's rows as a Markdown table, the unfiltered model first and
  the chosen setting marked."""
  fmt = lambda v, spec: "-" if v is None else format(v, spec)
  lines = [
      "| min_cutoff | beta | PCK@0.2 all | visible | occluded | error px "
      "| accel error px |",
      "|---|---|---|---|---|---|---|",
  ]
  for row in [{"min_cutoff": None, "beta": None, **result["unfiltered"]},
              *result["rows"]]:
    mark = " **best**" if row == result["best"] else ""
    name = ("unfiltered", "") if row["min_cutoff"] is None else (
        f"{row['min_cutoff']:g}", f"{row['beta']:g}{mark}")
    lines.append(
        f"| {name[0]} | {name[1]} | {fmt(row['pck@0.2 all'], '.4f')} "
        f"| {fmt(row['pck@0.2 visible'], '.4f')} "
        f"| {fmt(row['pck@0.2 occluded'], '.4f')} "
        f"| {fmt(row['pixel_error'], '.2f')} "
        f"| {fmt(row['accel_error_px'], '.2f')} |")
  best = result["best"]
  lines.append(
      f"\nCriterion: {result['criterion']}. " + (
          "No setting meets it." if best is None else
          f"Best: --one_euro_min_cutoff={best['min_cutoff']:g} "
          f"--one_euro_beta={best['beta']:g} "
          f"--one_euro_d_cutoff={result['d_cutoff']:g}"))
  return "\n".join(lines)


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
  one_euro_lib.define_flags("the workdir config's")
  flags.DEFINE_float("fps", DATASET_FPS, "The videos' frame rate.", 1e-3)
  flags.DEFINE_bool(
      "tune_one_euro", False,
      "Grid-search the filter's min_cutoff x beta on --split (default "
      "xsub_train) instead of evaluating; prints the table and the best.")
  flags.DEFINE_list("tune_min_cutoffs", [f"{c:g}" for c in TUNE_MIN_CUTOFFS],
                    "The tuning grid's min_cutoff values.")
  flags.DEFINE_list("tune_betas", [f"{b:g}" for b in TUNE_BETAS],
                    "The tuning grid's beta values.")
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
  if FLAGS.tune_one_euro:
    tuned = tune_one_euro(
        FLAGS.workdir, FLAGS.split or "xsub_train", FLAGS.max_videos,
        FLAGS.out, FLAGS.step, FLAGS.rois, FLAGS.tflite,
        [float(c) for c in FLAGS.tune_min_cutoffs],
        [float(b) for b in FLAGS.tune_betas], FLAGS.one_euro_d_cutoff,
        FLAGS.fps)
    print(tuning_table(tuned))
    return
  result = evaluate(
      FLAGS.workdir,
      FLAGS.split,
      FLAGS.tflite,
      FLAGS.max_videos,
      FLAGS.out,
      FLAGS.step,
      FLAGS.rois,
      one_euro=one_euro_lib.flag_overrides(),
      fps=FLAGS.fps,
      builder_config=FLAGS.builder_config,
      data_dir=FLAGS.data_dir,
  )
  print(summary(result))


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
