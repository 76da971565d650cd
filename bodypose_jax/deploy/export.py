r"""Exports a workdir's streaming step to TFLite, verified against JAX.

  python -m bodypose_jax.deploy.export --workdir=workdirs/rgb_gru_syn

writes, into <workdir>/export/:
  pose_{float32,float16,int8}.tflite   signatures `init`, `step`, `track`
  pose_{...}.json                      sidecar: what an app needs to know
  verification.json                    TFLite vs JAX over eval-split rollouts

The step (streaming.py) and the tracker (tracking.make_track) go through
jax2tf and TFLiteConverter with builtin ops only; a graph that would need
TensorFlow select ops fails the export. An app crops each frame to an ROI,
runs `step` on the crop and `track` on its outputs, which gives the keypoints
in frame pixels, the next ROI and the state moved onto it; a whole-frame
view gets a second pass on the ROI found (the double take; the sidecar's
`app_loop` spells the loop out). The int8 model's step is fully quantised
from a representative set of training frames paired with the states a JAX
rollout meets on them; its `track` stays float32, as ROI coordinates need.
Each variant is verified twice: its step on oracle crops beside the JAX
step, and its tracked loop beside the JAX tracked loop on whole frames. A
float32 model whose rollouts diverge from JAX beyond the tolerance flags is
not written.

For latency work on an architecture nobody has trained yet:

  python -m bodypose_jax.deploy.export --config=configs/rgb_gru.py --out_dir=/tmp/e

exports the config's model with fresh weights, checked on noise frames.
"""

import json
import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags
import jax
from jax.experimental import jax2tf
import numpy as np
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils

from bodypose_jax.data import input_pipeline
from bodypose_jax.data import roi
from bodypose_jax.deploy import streaming
from bodypose_jax.deploy import tflite_model
from bodypose_jax.deploy import tracking
from bodypose_jax.evaluators import metrics
from bodypose_jax.model import skeleton
from bodypose_jax.runtime import cli
from bodypose_jax import train
from bodypose_jax import workdir as workdir_lib

VARIANTS = ("float32", "float16", "int8")
# (depthwise, pointwise, dense) convolutions that lower to TFLite's
# DEPTHWISE_CONV_2D and CONV_2D.
FORMULATION = ("grouped", "conv", "conv")

FLAGS = flags.FLAGS


# ---------------------------------------------------------------- convert --
def _tf_module(step, frame_shape, fmt: streaming.StateFormat, track=None,
               moves_state: bool = False) -> tf.Module:
  """The step, the zero-state init and the tracker as tf.functions with
  named tensors."""
  dtype = tf.as_dtype(fmt.dtype)
  names = [f"state_{n}" for n in fmt.names]
  state_spec = [tf.TensorSpec(s, dtype, name=n)
                for s, n in zip(fmt.shapes, names)]
  module = tf.Module()
  module.step = tf.function(
      jax2tf.convert(step, with_gradient=False),
      input_signature=[tf.TensorSpec(frame_shape, tf.float32, name="frame")]
      + state_spec,
      autograph=False,
  )
  module.init = tf.function(
      lambda: {n: tf.zeros(s, dtype) for n, s in zip(names, fmt.shapes)},
      input_signature=[],
      autograph=False,
  )
  if track is not None:
    j = skeleton.NUM_JOINTS
    module.track = tf.function(
        jax2tf.convert(track, with_gradient=False),
        input_signature=[
            tf.TensorSpec([1, j, 2], tf.float32, name="keypoints"),
            tf.TensorSpec([1, j], tf.float32, name="confidences"),
            tf.TensorSpec([1, 3], tf.float32, name="roi"),
            tf.TensorSpec([2], tf.float32, name="frame_hw"),
        ] + (state_spec if moves_state else []),
        autograph=False,
    )
  return module


def _convert(module, fn, variant: str, representative=None) -> bytes:
  """One tf.function of `module` -> TFLite with builtin ops only."""
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [fn.get_concrete_function()], module
  )
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if variant == "float16":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  elif variant == "int8" and representative is not None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  return converter.convert()


def _with_signature_key(model_bytes: bytes, key: str) -> bytes:
  model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
  if len(model.signatureDefs or ()) != 1:
    # The converter goes through a SavedModel in the temporary folder; cut
    # short (a full disk), it yields a model without the signature.
    raise OSError(
        f"The TFLite converter returned {len(model.signatureDefs or ())} "
        f"signatures for '{key}', not 1: the SavedModel it writes to "
        f"{tempfile.gettempdir()} was probably cut short (is that disk "
        "full?).")
  (signature,) = model.signatureDefs
  signature.signatureKey = key
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _same_operator_code(a, b) -> bool:
  return (a.builtinCode, a.deprecatedBuiltinCode, a.customCode, a.version) == (
      b.builtinCode, b.deprecatedBuiltinCode, b.customCode, b.version)


def _with_signature(model_bytes: bytes, donor_bytes: bytes, key: str) -> bytes:
  """Adds the single subgraph of `donor_bytes` to the model as signature
  `key`.

  Signatures are converted apart and merged here: TFLite's int8 calibrator
  cannot load a model holding a signature without inputs (`init`), and the
  tracker (`track`) stays float32 in every variant, because ROI coordinates
  of up to thousands of pixels would lose the tracker's precision in int8.
  The donor's buffers are appended, and its operators' codes are mapped
  onto the model's table (appended where the model has none equal).
  """
  model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
  donor = flatbuffer_utils.convert_bytearray_to_object(bytearray(donor_bytes))
  (subgraph,) = donor.subgraphs  # no control flow: no subgraph references
  for tensor in subgraph.tensors:
    tensor.buffer += len(model.buffers)
  model.buffers.extend(donor.buffers)
  codes = []
  for code in donor.operatorCodes:
    index = next((i for i, c in enumerate(model.operatorCodes)
                  if _same_operator_code(c, code)), None)
    if index is None:
      index = len(model.operatorCodes)
      model.operatorCodes.append(code)
    codes.append(index)
  for operator in subgraph.operators or []:
    operator.opcodeIndex = codes[operator.opcodeIndex]
  model.subgraphs.append(subgraph)
  (signature,) = donor.signatureDefs
  signature.signatureKey = key
  signature.subgraphIndex = len(model.subgraphs) - 1
  model.signatureDefs.append(signature)
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def convert(step, frame_shape, fmt, variant, representative=None, track=None,
            moves_state: bool = False) -> bytes:
  """The streaming step as a TFLite model with signatures `step`, `init`
  (when the model has a state) and `track` (when given).

  Args:
    step: from `streaming.make_step` with state format `fmt`.
    frame_shape: [1, H, W, C].
    fmt: the state format (int8 state for the int8 variant).
    variant: 'float32', 'float16' or 'int8' (of `step`; `init` and `track`
      are float32 computations in every variant).
    representative: for int8, a callable yielding {'frame', 'state_*'} dicts.
    track: from `tracking.make_track` with state format `fmt`.
    moves_state: whether `track` takes and returns the state
      (`tracking.moves_state`).
  """
  if variant not in VARIANTS:
    raise ValueError(
        f"Unknown variant {variant!r}; expected one of {VARIANTS}."
    )
  if variant == "int8" and representative is None:
    raise ValueError("The int8 variant needs a representative dataset.")
  module = _tf_module(step, frame_shape, fmt, track, moves_state)
  model = _with_signature_key(
      _convert(module, module.step, variant, representative), "step"
  )
  # The single-frame baseline has no state to initialise.
  if fmt.names:
    model = _with_signature(model, _convert(module, module.init, "float32"),
                            "init")
  if track is not None:
    model = _with_signature(model, _convert(module, module.track, "float32"),
                            "track")
  return model


def convert_trained(trained, fmt, variant, representative=None) -> bytes:
  """`convert` of a trained model's step and tracker in state format `fmt`."""
  config = trained.config
  modality, channels = input_pipeline.modality(config)
  step = streaming.make_step(
      trained.model, trained.variables, modality, config.input, fmt
  )
  track = tracking.make_track(config, trained.model.cell_stride, fmt)
  return convert(step, (1, *config.input.input_size, channels), fmt, variant,
                 representative, track, tracking.moves_state(config, fmt))


# ------------------------------------------------------------------- data --
def _streams(config, builder, split, num_frames, count):
  """Videos of `num_frames` frames, samples back to back, twice: whole, and
  cropped to oracle ROIs.

  The whole frames are for the tracked loop, which crops them itself. The
  crops take each frame's oracle ROI (`tracking.oracle_rois`: around the
  previous frame's ground truth; the whole frame for whole-frame models), so
  that the step alone sees what it sees in a tracked stream.
  Synthetic samples are short, so a stream chains whole samples without
  resetting the state, as a camera would see one performer after another.

  Yields:
    dicts of frames [N, h, w, C] (sensor units, input size), joints (input
    pixels), tracking_state, and video: the whole frames [N, H, W, C] with
    their joints in frame pixels.
  """
  input_hw = tuple(config.input.input_size)
  nearest = input_pipeline.modality(config)[0] == "depth"
  parts, length = [], 0
  ds = input_pipeline.sequence_dataset(config, builder, split)
  for seq in input_pipeline.as_numpy(ds):
    rois = tracking.oracle_rois(seq["joints"], seq["tracking_state"],
                                seq["frames"].shape[1:3], config)
    parts.append({
        "frames": tracking.crop_video(seq["frames"], rois, input_hw, nearest),
        "joints": roi.to_input(seq["joints"], rois, input_hw),
        "tracking_state": seq["tracking_state"],
        "video_frames": seq["frames"],
        "video_joints": seq["joints"],
    })
    length += len(seq["frames"])
    if length >= num_frames:
      # One length for every stream: the JAX rollouts compile once.
      cat = lambda k: np.concatenate([p[k] for p in parts])[:num_frames]
      yield {
          "frames": cat("frames"),
          "joints": cat("joints"),
          "tracking_state": cat("tracking_state"),
          "video": {"frames": cat("video_frames"),
                    "joints": cat("video_joints"),
                    "tracking_state": cat("tracking_state")},
      }
      count -= 1
      if not count:
        return
      parts, length = [], 0
  raise ValueError(
      f"Split {split!r} ran out after {count} missing streams of "
      f"{num_frames} frames."
  )


def jax_rollout(step, fmt):
  """fn(frames [N, H, W, C]) -> the step's outputs from the zero state.

  One jitted function for every video: same-length videos share a compile.
  """
  run = jax.jit(lambda f: streaming.rollout(step, fmt, f, fmt.zeros()))
  return lambda frames: jax.device_get(run(frames[:, None]))


def jax_tracked_rollout(trained):
  """fn(frames [N, H, W, C] whole frames) -> the JAX tracked loop's outputs
  (`tracking.rollout`, float32 state) from the zero state and the whole
  frame, as an app starts a stream, with the double take on whole-frame
  views when `tracking.refines(config)`."""
  config = trained.config
  modality, _ = input_pipeline.modality(config)
  input_hw = tuple(config.input.input_size)
  fmt = streaming.state_format(trained.model, input_hw)
  step = tracking.make_tracked_step(
      trained.model, trained.variables, modality, config, fmt
  )
  refine = tracking.make_refine(config, trained.model.cell_stride, fmt)

  def run(frames):
    first = roi.whole_frame(frames.shape[1:3], input_hw, jax.numpy)
    return tracking.rollout(step, fmt, frames, first, fmt.zeros(), input_hw,
                            modality == "depth", refine=refine)

  run = jax.jit(run)
  return lambda frames: jax.device_get(run(frames))


def representative_set(rollout, fmt, frames):
  """(frame, state) pairs met in a JAX float rollout over frames [N, H, W, C].

  Args:
    rollout: `jax_rollout` of the float step.
    fmt: its state format.
    frames: [N, H, W, C].

  Returns:
    frames [N, 1, H, W, C] and, per frame, the float state entering it.
  """
  outs = rollout(frames)
  after = [outs[f"state_{n}"] for n in fmt.names]  # [N, 1, ...] each
  before = [
      np.concatenate([z[None], a[:-1]]) for z, a in zip(fmt.zeros(), after)
  ]
  return frames[:, None], [
      tuple(b[t] for b in before) for t in range(len(frames))
  ]


# ----------------------------------------------------------------- verify --
def _pck(pred, stream, thresholds):
  sums = metrics.pose_metric_sums(
      pred, stream["joints"], stream["tracking_state"], thresholds
  )
  return metrics.finalize(jax.device_get(sums))


def verify(path, reference, streams, thresholds) -> dict:
  """Runs the TFLite model's `step` beside the JAX rollouts of the same
  oracle crops.

  The crops are the same for both, so differences are the step's numerics
  alone, and state drift shows.

  Args:
    path: the .tflite (its sidecar beside it).
    reference: per stream, the JAX float32 rollout's outputs.
    streams: the videos (frames, joints, tracking_state).
    thresholds: PCK thresholds.

  Returns:
    |keypoint difference| (pixels) and |state difference| (state units, int8
    states dequantised) over every frame; the mean state difference over the
    first and the last 10 frames of the rollouts, where drift would show as
    growth; and the PCK of both models against the ground truth.
  """
  model = tflite_model.StreamingModel(path)
  kp_diff, state_mean, state_max, first, last, preds = [], [], [], [], [], []
  for stream, ref in zip(streams, reference):
    model.reset()
    means = []
    for t, frame in enumerate(stream["frames"]):
      out = model(frame)
      preds.append(out["keypoints"])
      kp_diff.append(np.abs(out["keypoints"] - ref["keypoints"][t, 0]))
      diff = np.concatenate(
          [np.zeros(1)]
          + [
              np.abs(v[0] - ref[k][t, 0]).ravel()
              for k, v in model.float_state().items()
          ]
      )
      means.append(diff.mean())
      state_max.append(diff.max())
    state_mean.extend(means)
    first.extend(means[:10])
    last.extend(means[-10:])
  kp = np.stack(kp_diff)
  truth = {
      k: np.concatenate([s[k] for s in streams])
      for k in ("joints", "tracking_state")
  }
  jax_pred = np.concatenate([r["keypoints"][:, 0] for r in reference])
  return {
      "frames": len(preds),
      "keypoint_diff_px_max": float(kp.max()),
      "keypoint_diff_px_mean": float(kp.mean()),
      "state_diff_max": float(np.max(state_max)),
      "state_diff_mean": float(np.mean(state_mean)),
      "state_diff_mean_first10": float(np.mean(first)),
      "state_diff_mean_last10": float(np.mean(last)),
      "pck_tflite": _pck(np.stack(preds), truth, thresholds),
      "pck_jax": _pck(jax_pred, truth, thresholds),
  }


# Two tracked loops whose ROIs agree within this (frame pixels) crop the
# same view: `roi_differs_share` and `comparable_decisions` both use it.
_SAME_VIEW_PX = 1.0


def comparable_decisions(roi_diff, confidence, jax_confidence, threshold,
                         tie):
  """Frames whose lost decision the two closed tracked loops must share.

  Each loop crops where its own keypoints led it, so once their ROIs part
  (by more than `_SAME_VIEW_PX`) they judge different views, and on a frame
  without a person (the noise `random_inputs` streams) they part within a
  few frames from float noise alone. A decision is held equal only where
  both loops cropped the same ROI and their mean confidences are not both
  within `tie` of the threshold (float noise may put them either side).

  Args:
    roi_diff: [N] the largest |ROI difference| per frame, frame pixels.
    confidence, jax_confidence: [N] each loop's mean joint confidence.
    threshold: the tracker's `lost_threshold`.
    tie: how near the threshold a mean confidence counts as a tie.

  Returns:
    [N] bool.
  """
  near = lambda c: np.abs(c - threshold) <= tie
  return (roi_diff <= _SAME_VIEW_PX) & ~(
      near(confidence) & near(jax_confidence))


def verify_tracked(path, reference, videos, thresholds, lost_threshold,
                   tie=1e-4) -> dict:
  """Runs the TFLite tracked loop (`tracking.HostTracker`: crop, `step`,
  `track`) beside the JAX tracked loop over the same whole-frame videos,
  both from the whole frame and the zero state.

  Each loop follows its own keypoints, so a difference in one frame's ROI
  changes the next crop: this is what an app would see, drift and all. The
  lost decisions are compared where the two loops saw the same view
  (`comparable_decisions`).

  Args:
    path: the .tflite (its sidecar beside it).
    reference: per video, `jax_tracked_rollout`'s outputs.
    videos: whole frames [N, H, W, C], joints [N, J, 2] in frame pixels,
      tracking_state.
    thresholds: PCK thresholds.
    lost_threshold: the tracker's `tracking.lost_threshold`.
    tie: see `comparable_decisions`.

  Returns:
    |keypoint difference| in frame pixels; the largest |ROI difference|
    (cx, cy, height; frame pixels) and the share of frames whose ROI
    differs by more than 1 frame pixel; the share of comparable decisions
    (`comparable_decisions`) that differ, and how many there were; the
    share of frames judged lost by each; and the PCK of both loops.
  """
  tracker = tracking.HostTracker(tflite_model.StreamingModel(path))
  preds, rois, lost, confidence = [], [], [], []
  for video in videos:
    tracker.reset()
    outs = [tracker(frame) for frame in video["frames"]]
    preds.append(np.stack([o["keypoints"] for o in outs]))
    rois.append(np.stack([o["roi"] for o in outs]))
    lost.append(np.array([o["lost"] for o in outs]))
    confidence.append(np.array([np.mean(o["confidences"]) for o in outs]))
  preds, rois, lost, confidence = map(
      np.concatenate, (preds, rois, lost, confidence))
  cat = lambda k: np.concatenate([r[k][:, 0] for r in reference])
  jax_pred, jax_rois, jax_lost = cat("keypoints"), cat("roi"), cat("lost")
  kp = np.abs(preds - jax_pred)
  roi_diff = np.abs(rois - jax_rois).max(axis=-1)
  compared = comparable_decisions(roi_diff, confidence,
                                  cat("confidences").mean(-1), lost_threshold,
                                  tie)
  if not compared.any():
    raise ValueError(f"{path}: no lost decision to compare with JAX's: the "
                     "loops parted or tied on every frame.")
  truth = {
      k: np.concatenate([v[k] for v in videos])
      for k in ("joints", "tracking_state")
  }
  return {
      "frames": len(preds),
      "keypoint_diff_frame_px_max": float(kp.max()),
      "keypoint_diff_frame_px_mean": float(kp.mean()),
      "roi_diff_px_max": float(roi_diff.max()),
      "roi_differs_share": float(np.mean(roi_diff > _SAME_VIEW_PX)),
      "lost_differs_share": float(np.mean((lost != jax_lost)[compared])),
      "lost_decisions_compared": int(compared.sum()),
      "lost_share_tflite": float(np.mean(lost)),
      "lost_share_jax": float(np.mean(jax_lost)),
      "pck_tflite": _pck(preds, truth, thresholds),
      "pck_jax": _pck(jax_pred, truth, thresholds),
  }


# ---------------------------------------------------------------- sidecar --
def _tracking_sidecar(trained, fmt) -> dict:
  """The tracker inside the `track` signature, for the record: an app runs
  `track` and needs none of these numbers."""
  config = trained.config
  return {
      "follows_person": tracking.tracks(config),
      "rule": {k: config.tracking[k] for k in (
          "margin", "min_height_fraction", "lost_threshold",
          "min_joint_confidence", "smoothing")},
      "warp_state": bool(config.model.warp_state),
      "moves_state": tracking.moves_state(config, fmt),
      "cell_stride": trained.model.cell_stride,
      # The app's loop follows this one (app_loop's double take).
      "refine_whole_frame": tracking.refines(config),
      # The host's filter on the reported keypoints (one_euro.py); the app
      # runs it outside the model, on `track`'s keypoints.
      "one_euro": dict(config.tracking.one_euro),
  }


def _crop_text(h, w) -> str:
  """How an app makes the step's input from a camera frame and an ROI."""
  return (
      f"the ROI (cx, cy, height) of the frame, width = height * {w}/{h}, "
      f"resampled to {h}x{w}, frame pixel centres at integers: input pixel "
      f"(u, v) (column, row) reads the frame at x = cx + (u - "
      f"{(w - 1) / 2:g}) * height / {h}, y = cy + (v - {(h - 1) / 2:g}) * "
      f"height / {h}. Colour: bilinear, sum over frame pixels (i, j) of "
      "max(0, 1 - |x - j|) * max(0, 1 - |y - i|) * frame[i, j], pixels "
      "outside the frame 0 (OpenCV's warpAffine with INTER_LINEAR and "
      "BORDER_CONSTANT 0 up to its fixed-point weights; "
      "bodypose_jax.data.roi.affine gives the matrix). Depth: nearest, "
      "frame[floor(y + 0.5), floor(x + 0.5)], 0 where that is outside the "
      "frame. The first frame's ROI is the whole frame: cx = (frame width - "
      "1) / 2, cy = (frame height - 1) / 2, height = max(frame height, "
      f"frame width * {h}/{w}); every next one is `track`'s next_roi"
  )


def _app_loop(fmt, moves_state: bool, refine: bool) -> list[str]:
  """The app's per-frame loop, in order."""
  state = "state_*"
  track_state = f", {state})" if moves_state else ")"
  loop = [
      f"start of a stream: {state} = init()" if fmt.names
      else "start of a stream: no state (this model keeps none)",
      "start of a stream: roi = the whole frame (formula in input.crop); "
      "after that, roi comes only from track",
      "every frame: crop = the frame cropped to roi (input.crop)",
      (f"incoming = {state}; " if refine and fmt.names else "")
      + f"out = step(frame=crop{', ' + state if fmt.names else ''})"
      + (f"; {state} = out's {state}" if fmt.names else ""),
      "t = track(keypoints=out.keypoints, confidences=out.confidences, "
      "roi=roi, frame_hw=[frame height, frame width]" + track_state
      + (f"; {state} = t's {state} (on next_roi's grid)"
         if moves_state else ""),
  ]
  if refine:
    # The double take (tracking.py): the whole frame finds the person, a
    # crop of the same frame around them places the joints.
    moved = ""
    if moves_state:
      moved = (
          f"{state} = track(keypoints=out.keypoints, confidences="
          "out.confidences, roi=roi, frame_hw=[frame height, frame width], "
          f"incoming)'s {state} (the incoming state on t.next_roi's grid); ")
    elif fmt.names:
      moved = f"{state} = incoming; "
    loop.append(
        "double take, when roi was the whole frame (the stream's first "
        "frame, or a frame after t.lost) and not t.lost: " + moved
        + "roi = t.next_roi; crop = the same frame cropped to roi; then "
        "step and track again as above (out and t are the second pass's)")
  return loop + [
      "the pose: t.keypoints (frame pixels), out.confidences",
      "roi = t.next_roi (the whole frame again when t.lost)",
  ]


def sidecar(trained, variant, frame_shape, fmt, modality) -> dict:
  """What an app needs to run the model, as JSON-ready data."""
  cfg = trained.config.input
  if modality == "rgb":
    units = "RGB order, 0..255 (uint8 values as float)"
    norm = f"inside the model: (x / 255 - {cfg.rgb_mean}) / {cfg.rgb_std}"
  else:
    units = "depth in millimetres (the uint16 PNG value as float), 0 = none"
    norm = (
        f"inside the model: (x / 1000 - {cfg.depth_mean_m}) / "
        f"{cfg.depth_std_m}"
    )
  _, h, w, _ = frame_shape
  stride = trained.model.head_stride
  grid = (-(-h // stride), -(-w // stride))
  j = skeleton.NUM_JOINTS
  moves = tracking.moves_state(trained.config, fmt)
  return {
      "format": "bodypose_jax streaming pose model, version 2",
      "variant": variant,
      "trained": {
          "step": trained.step,  # None: untrained, for latency work
          "dataset": trained.config.dataset.builder_config,
          "cell": trained.config.model.cell,
      },
      "input": {
          "name": "frame",
          "shape": list(frame_shape),
          "dtype": "float32",
          "modality": modality,
          "units": units,
          "normalisation": norm,
          "crop": _crop_text(h, w),
      },
      "state": [
          {"name": f"state_{n}", "shape": list(s), "dtype": fmt.dtype.__name__}
          for n, s in zip(fmt.names, fmt.shapes)
      ],
      "tracking": _tracking_sidecar(trained, fmt),
      "app_loop": _app_loop(fmt, moves, tracking.refines(trained.config)),
      "state_int8_scales": (
          None if fmt.int8_scales is None else list(fmt.int8_scales)
      ),
      "signatures": {
          "init": (
              "() -> the zero state; call at the start of every video"
              if fmt.names
              else "absent: this model keeps no state"
          ),
          "step": (
              "(frame, state) -> outputs on the crop and the next state; "
              "feed the next state on unchanged"
          ),
          "track": (
              "(keypoints, confidences, roi, frame_hw"
              + (", state" if moves else "")
              + ") -> keypoints in frame pixels, next_roi, lost"
              + (", the state on next_roi's grid" if moves else "")
              + "; float32 in every variant"
              + (", the int8 state decoded and encoded with "
                 "state_int8_scales inside" if moves and fmt.int8_scales
                 else "")
          ),
      },
      "outputs": {
          "keypoints": {
              "shape": [1, j, 2],
              "meaning": "(x, y) in input pixels, pixel centres at integers",
          },
          "confidences": {
              "shape": [1, j],
              "meaning": "probability mass of each joint's peak heatmap cell",
          },
          "track.keypoints": {
              "shape": [1, j, 2],
              "meaning": "(x, y) in frame pixels, pixel centres at integers",
          },
          "track.next_roi": {
              "shape": [1, 3],
              "meaning": "(cx, cy, height) in frame pixels: crop the next "
                         "frame to it",
          },
          "track.lost": {
              "shape": [1],
              "meaning": (
                  "bool: the mean confidence fell below the tracker's "
                  "lost_threshold; next_roi is then the whole frame"
              ),
          },
          "heatmaps": {
              "shape": [1, *grid, j],
              "stride": stride,
              "meaning": (
                  "per-joint softmax over the grid; cell (r, c) is centred "
                  f"at input pixel (c*{stride} + {(stride - 1) / 2}, "
                  f"r*{stride} + {(stride - 1) / 2})"
              ),
          },
      },
      "joints": list(skeleton.JOINT_NAMES),
      "bones": [list(b) for b in skeleton.BONES],
      "mirror": (
          "NTU RGB+D's Kinect streams are mirror images: a joint named left "
          "lies on the image's left for a person facing the camera. The "
          "model keeps that convention; frames from an unmirrored camera "
          "give left/right swapped labels."
      ),
  }


def write_model(path: str, model_bytes: bytes, meta: dict) -> str:
  """Writes the .tflite and its .json sidecar; returns `path`."""
  # Both written before either is renamed into place, the sidecar first: a
  # failed write leaves neither, and a model never appears without it.
  with cli.atomic_output(path) as model_tmp, cli.atomic_output(
      tflite_model.sidecar_path(path)) as sidecar_tmp:
    with open(sidecar_tmp, "w") as f:
      json.dump(meta, f, indent=2)
    with open(model_tmp, "wb") as f:
      f.write(model_bytes)
  return path


def _remove_model(path: str):
  os.remove(path)
  os.remove(tflite_model.sidecar_path(path))


# ----------------------------------------------------------------- inputs --
def dataset_inputs(config, calibration_frames, verify_frames, verify_rollouts):
  """Verification videos from the eval split; calibration frames from train.

  Returns:
    (streams, calibration frames [N, H, W, C]).
  """
  builder = input_pipeline.get_builder(config)
  ds = config.dataset
  streams = list(
      _streams(config, builder, ds.eval_split, verify_frames, verify_rollouts)
  )
  calibration = next(
      _streams(config, builder, ds.train_split, calibration_frames, 1)
  )["frames"][:calibration_frames]
  return streams, calibration


def random_inputs(config, calibration_frames, verify_frames, verify_rollouts):
  """Noise frames without ground truth, for exporting an untrained model.

  The whole frames of the tracked loop are twice the input's height and
  three times its width: another aspect, so the first crop letterboxes.

  Returns:
    (streams, calibration frames), as `dataset_inputs`.
  """
  modality, channels = input_pipeline.modality(config)
  low, high = (0.0, 255.0) if modality == "rgb" else (500.0, 4500.0)
  rng = np.random.default_rng(config.seed)
  j = skeleton.NUM_JOINTS
  h, w = config.input.input_size

  def frames(n, frame_hw=(h, w)):
    shape = (n, *frame_hw, channels)
    return rng.uniform(low, high, shape).astype(np.float32)

  def no_truth():
    return {
        "joints": np.zeros((verify_frames, j, 2), np.float32),
        "tracking_state": np.zeros((verify_frames, j), np.int32),
    }

  streams = [
      {
          "frames": frames(verify_frames),
          **no_truth(),
          "video": {"frames": frames(verify_frames, (2 * h, 3 * w)),
                    **no_truth()},
      }
      for _ in range(verify_rollouts)
  ]
  return streams, frames(calibration_frames)


def restore_for_tflite(workdir, step=None, formulation=FORMULATION):
  """A workdir's checkpoint as the TFLite graph computes it: float32, with
  the convolution formulation (depthwise, pointwise, dense) that converts
  to TFLite's own ops."""
  return workdir_lib.restore(
      workdir,
      step,
      depthwise_impl=formulation[0],
      pointwise_impl=formulation[1],
      dense_impl=formulation[2],
      compute_dtype="float32",
  )


def untrained(config, formulation=FORMULATION):
  """The architecture of `config` with freshly initialised weights.

  For latency and conversion work only: its predictions mean nothing.
  """
  config = config.copy_and_resolve_references()
  with config.unlocked():
    (
        config.model.depthwise_impl,
        config.model.pointwise_impl,
        config.model.dense_impl,
    ) = formulation
    config.model.compute_dtype = "float32"
  model = train.create_model(config)
  _, channels = input_pipeline.modality(config)
  # One jitted program: run eagerly, init compiles each operation alone.
  variables = jax.jit(model.init)(
      jax.random.key(config.seed),
      np.zeros((1, 1, *config.input.input_size, channels), np.float32),
  )
  return workdir_lib.Trained(config, model, jax.device_get(variables), None)


# ----------------------------------------------------------------- export --
def export(
    trained,
    out_dir,
    variants,
    streams,
    calibration,
    state_margin=1.25,
    tolerance_px=0.05,
    tolerance_state=1e-3,
    tolerance_lost=0.0,
) -> dict:
  """Converts, verifies and writes each variant.

  Args:
    trained: the model (workdir.restore or `untrained`).
    out_dir: where pose_<variant>.tflite/.json and verification.json go.
    variants: names from VARIANTS.
    streams: verification videos (`dataset_inputs` or `random_inputs`).
    calibration: int8 representative frames [N, H, W, C].
    state_margin: int8 state range over the largest |state| in calibration.
    tolerance_px: largest mean keypoint difference a float32 model may have.
    tolerance_state: largest state difference a float32 model may have.
    tolerance_lost: largest share of comparable frames (same view, no tie:
      `comparable_decisions`) whose lost decision a float32 model's tracked
      loop may take otherwise than JAX's.

  Returns:
    The verification report, per variant.
  """
  config = trained.config
  # Before the rollouts and conversions, not after them.
  cli.check_writable(os.path.join(out_dir, "verification.json"))
  modality, channels = input_pipeline.modality(config)
  frame_shape = (1, *config.input.input_size, channels)
  fmt_float = streaming.state_format(trained.model, config.input.input_size)
  float_step = streaming.make_step(
      trained.model, trained.variables, modality, config.input, fmt_float
  )
  float_rollout = jax_rollout(float_step, fmt_float)
  reference = [float_rollout(s["frames"]) for s in streams]
  tracked_rollout = jax_tracked_rollout(trained)
  videos = [s["video"] for s in streams]
  tracked_reference = [tracked_rollout(v["frames"]) for v in videos]
  report = {"step": trained.step}
  thresholds = tuple(config.pck_thresholds)
  for variant in variants:
    t0 = time.perf_counter()
    fmt, representative = fmt_float, None
    if variant == "int8":
      frames, states = representative_set(float_rollout, fmt_float, calibration)
      fmt = streaming.state_format(
          trained.model,
          config.input.input_size,
          streaming.int8_scales_for(states, state_margin),
      )

      def representative():
        for frame, state in zip(frames, states):
          encoded = jax.device_get(fmt.encode(state))
          yield {
              "frame": frame,
              **{f"state_{n}": s for n, s in zip(fmt.names, encoded)},
          }

    model_bytes = convert_trained(trained, fmt, variant, representative)
    path = os.path.join(out_dir, f"pose_{variant}.tflite")
    meta = sidecar(trained, variant, frame_shape, fmt, modality)
    # Verified under a temporary name: a rejected model never takes the
    # place of a good one from an earlier export.
    unverified = write_model(path + ".unverified", model_bytes, meta)
    result = verify(unverified, reference, streams, thresholds)
    result["tracked"] = verify_tracked(
        unverified, tracked_reference, videos, thresholds,
        config.tracking.lost_threshold,
    )
    result["size_bytes"] = len(model_bytes)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    report[variant] = result
    logging.info("%s: %s", variant, json.dumps(result))
    _remove_model(unverified)
    if variant == "float32" and (
        result["keypoint_diff_px_mean"] > tolerance_px
        or result["state_diff_max"] > tolerance_state
        or result["tracked"]["lost_differs_share"] > tolerance_lost
    ):
      raise ValueError(
          f"float32 TFLite diverges from JAX: mean keypoint difference "
          f"{result['keypoint_diff_px_mean']:.4f} px (tolerance "
          f"{tolerance_px}), max state difference "
          f"{result['state_diff_max']:.2e} (tolerance {tolerance_state}), "
          "share of comparable frames whose tracker's lost decision differs "
          f"{result['tracked']['lost_differs_share']:.3f} (tolerance "
          f"{tolerance_lost}). {path} was not written."
      )
    write_model(path, model_bytes, {**meta, "verification": result})
    logging.info("Wrote %s (%.2f MB).", path, len(model_bytes) / 1e6)
  cli.write_json(os.path.join(out_dir, "verification.json"), report, indent=2)
  return report


# ------------------------------------------------------------------- main --


def _define_flags():
  # Defined only when run as a program, so that the library can be imported
  # beside other commands (tests import several in one process).
  flags.DEFINE_string("workdir", None, "Training workdir to export.")
  config_flags.DEFINE_config_file(
      "config",
      None,
      "Instead of --workdir: export this config's architecture with untrained "
      "weights, checked on noise frames (for latency work only).",
  )
  flags.DEFINE_string(
      "out_dir", None, "Output folder; default <workdir>/export."
  )
  flags.DEFINE_list("variants", list(VARIANTS), f"Any of {VARIANTS}.")
  flags.DEFINE_integer("step", None, "Checkpoint step; default the latest.")
  flags.DEFINE_string(
      "depthwise_impl",
      FORMULATION[0],
      "Depthwise formulation to export: 'grouped' becomes TFLite's "
      "DEPTHWISE_CONV_2D (the shifted form is for XLA:CPU training).",
  )
  flags.DEFINE_string(
      "pointwise_impl", FORMULATION[1], "1x1 formulation: conv|matmul."
  )
  flags.DEFINE_string(
      "dense_impl",
      FORMULATION[2],
      "k x k formulation: conv (CONV_2D) | im2col.",
  )
  flags.DEFINE_integer(
      "calibration_frames", 256, "int8 representative frames (train split)."
  )
  flags.DEFINE_float(
      "state_margin", 1.25, "int8 state range: this times the largest |state|."
  )
  flags.DEFINE_integer(
      "verify_frames", 120, "Frames per verification rollout (>= 100)."
  )
  flags.DEFINE_integer("verify_rollouts", 2, "Verification rollouts.")
  flags.DEFINE_float(
      "float32_tolerance_px",
      0.05,
      "Largest mean |keypoint difference| (px) a float32 export may have.",
  )
  flags.DEFINE_float(
      "float32_tolerance_state",
      1e-3,
      "Largest |state difference| a float32 export may have.",
  )
  flags.DEFINE_float(
      "float32_tolerance_lost",
      0.0,
      "Largest share of comparable frames (same view, confidence not at "
      "the threshold) whose lost decision a float32 export's tracked loop "
      "may take otherwise than JAX's.",
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if (FLAGS.workdir is None) == (FLAGS.config is None):
    raise app.UsageError("Give exactly one of --workdir and --config.")
  unknown = set(FLAGS.variants) - set(VARIANTS)
  if unknown:
    raise app.UsageError(f"Unknown variants {sorted(unknown)}; use {VARIANTS}.")
  if FLAGS.verify_frames < 100:
    logging.warning(
        "verify_frames=%d: state drift shows over long rollouts; the "
        "export's check is meant for >= 100 frames.",
        FLAGS.verify_frames,
    )
  tf.config.set_visible_devices([], "GPU")
  formulation = (FLAGS.depthwise_impl, FLAGS.pointwise_impl, FLAGS.dense_impl)
  sizes = (FLAGS.calibration_frames, FLAGS.verify_frames, FLAGS.verify_rollouts)
  out_dir = FLAGS.out_dir or (
      os.path.join(FLAGS.workdir, "export") if FLAGS.workdir else None)
  if not out_dir:
    raise app.UsageError("--config needs --out_dir.")
  if FLAGS.workdir:
    workdir_lib.load_config(FLAGS.workdir)  # a missing workdir fails first
  cli.check_writable(os.path.join(out_dir, "verification.json"))
  if FLAGS.workdir:
    trained = restore_for_tflite(FLAGS.workdir, FLAGS.step, formulation)
    logging.info("Restored step %d of %s.", trained.step, FLAGS.workdir)
    streams, calibration = dataset_inputs(trained.config, *sizes)
  else:
    trained = untrained(FLAGS.config, formulation)
    logging.warning("Exporting untrained weights: for latency work only.")
    streams, calibration = random_inputs(trained.config, *sizes)
  export(
      trained,
      out_dir,
      FLAGS.variants,
      streams,
      calibration,
      FLAGS.state_margin,
      FLAGS.float32_tolerance_px,
      FLAGS.float32_tolerance_state,
      FLAGS.float32_tolerance_lost,
  )


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
