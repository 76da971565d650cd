"""TFLite export: conversion, the interpreter against JAX, the export command."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python import convert_phase

from bodypose_jax.data import roi
from bodypose_jax.deploy import export
from bodypose_jax.deploy import streaming
from bodypose_jax.deploy import tflite_model
from bodypose_jax.deploy import tracking
from bodypose_jax.model import skeleton
from bodypose_jax import workdir
from configs import default
from real_samples import REPO


def _frames(trained, n, seed=0):
  h, w = trained.config.input.input_size
  c = 3 if trained.config.dataset.builder_config.endswith("rgb") else 1
  high = 255.0 if c == 3 else 4000.0
  return (
      np.random.default_rng(seed)
      .uniform(0, high, (n, h, w, c))
      .astype(np.float32)
  )


@pytest.mark.parametrize(
    "modality,cell", [("rgb", "gru"), ("depth", "lstm"), ("rgb", "none")]
)
def test_tflite_step_matches_jax_over_a_rollout(tiny_export, modality, cell):
  path, trained = tiny_export(modality, cell)
  model = tflite_model.StreamingModel(path)
  fmt = streaming.state_format(trained.model, trained.config.input.input_size)
  assert model.state_names == tuple(f"state_{n}" for n in fmt.names)
  for value in model.state.values():  # `init` gives zeros
    np.testing.assert_array_equal(value, 0)
  step = streaming.make_step(
      trained.model, trained.variables, modality, trained.config.input, fmt
  )
  frames = _frames(trained, 6)
  ref = jax.device_get(
      streaming.rollout(step, fmt, frames[:, None], fmt.zeros())
  )
  for t, frame in enumerate(frames):
    out = model(frame)
    for key in ("keypoints", "confidences", "heatmaps", *model.state_names):
      np.testing.assert_allclose(out[key], ref[key][t, 0], atol=2e-4)


def test_signatures_and_sidecar(tiny_export):
  path, trained = tiny_export("rgb", "gru")
  interpreter = tf.lite.Interpreter(model_path=path)
  signatures = interpreter.get_signature_list()
  assert signatures["init"] == {"inputs": [], "outputs": ["state_h"]}
  assert sorted(signatures["step"]["inputs"]) == ["frame", "state_h"]
  assert sorted(signatures["step"]["outputs"]) == [
      "confidences",
      "heatmaps",
      "keypoints",
      "state_h",
  ]
  assert sorted(signatures["track"]["inputs"]) == [
      "confidences", "frame_hw", "keypoints", "roi", "state_h"]
  assert sorted(signatures["track"]["outputs"]) == [
      "keypoints", "lost", "next_roi", "state_h"]
  with open(tflite_model.sidecar_path(path)) as f:
    meta = json.load(f)
  assert meta["input"]["shape"] == [1, *trained.config.input.input_size, 3]
  assert len(meta["joints"]) == 25 and meta["bones"][0] == [0, 1]
  assert "mirror" in meta and "crop" in meta["input"]
  assert meta["tracking"]["moves_state"] and "track(" in meta["app_loop"][4]
  assert meta["tracking"]["refine_whole_frame"]
  assert meta["app_loop"][5].startswith("double take")
  # The heatmap grid is the model's own: its stride, and the shape it gives.
  stride = trained.model.head_stride
  assert stride == trained.config.model.head_stride
  h, w = trained.config.input.input_size
  heatmaps = meta["outputs"]["heatmaps"]
  assert heatmaps["stride"] == stride
  assert heatmaps["shape"] == [1, -(-h // stride), -(-w // stride), 25]
  model = tflite_model.StreamingModel(path)
  assert model.heatmap_stride == stride
  out = model(np.zeros(meta["input"]["shape"], np.float32))
  assert list(out["heatmaps"].shape) == heatmaps["shape"][1:]


def test_sidecar_without_a_stride_means_stride_8(tiny_export, tmp_path):
  """Sidecars written before the field existed came from stride-8 heads."""
  path, _ = tiny_export("rgb", "gru")
  with open(tflite_model.sidecar_path(path)) as f:
    meta = json.load(f)
  del meta["outputs"]["heatmaps"]["stride"]
  old = str(tmp_path / "old.tflite")
  with open(path, "rb") as f:
    export.write_model(old, f.read(), meta)
  assert tflite_model.StreamingModel(old).heatmap_stride == 8


def test_sidecar_without_refine_means_no_double_take(tiny_export, tmp_path):
  """Sidecars written before the double take describe a loop without it."""
  path, _ = tiny_export("rgb", "gru")
  with open(tflite_model.sidecar_path(path)) as f:
    meta = json.load(f)
  assert tracking.HostTracker(tflite_model.StreamingModel(path)).refine
  del meta["tracking"]["refine_whole_frame"]
  old = str(tmp_path / "old.tflite")
  with open(path, "rb") as f:
    export.write_model(old, f.read(), meta)
  assert not tracking.HostTracker(tflite_model.StreamingModel(old)).refine


def test_config_of_a_run_from_before_head_stride_loads_stride_8(tmp_path):
  saved = json.loads(default.get_config().to_json())
  del saved["model"]["head_stride"]
  with open(tmp_path / "config.json", "w") as f:
    json.dump(saved, f)
  assert workdir.load_config(str(tmp_path)).model.head_stride == 8
  saved["model"]["head_stride"] = 4
  with open(tmp_path / "config.json", "w") as f:
    json.dump(saved, f)
  assert workdir.load_config(str(tmp_path)).model.head_stride == 4


def test_conversion_refuses_ops_outside_builtins():
  # An eigendecomposition has no TFLite builtin: it stays a StableHLO call
  # (XlaCallModule), which the converter names and refuses. Were custom ops
  # allowed, it would slip through and this would not raise.
  fmt = streaming.StateFormat(names=(), shapes=())
  step = lambda frame: {"w": jax.numpy.linalg.eigh(frame[0, :4, :4, 0])[0]}
  with pytest.raises(convert_phase.ConverterError,
                     match="is neither a custom op nor a flex op"):
    export.convert(step, (1, 8, 8, 1), fmt, "float32")


def test_int8_state_round_trips_exactly():
  # Feeding the output state back in must not requantise it.
  fmt = streaming.StateFormat(("h",), ((1, 2, 3, 4),), int8_scales=(0.01,))
  q = np.arange(-12, 12, dtype=np.int8).reshape(1, 2, 3, 4) * 10
  (again,) = fmt.encode(fmt.decode((q,)))
  np.testing.assert_array_equal(np.asarray(again), q)
  x = np.linspace(-1.2, 1.2, 24, dtype=np.float32).reshape(1, 2, 3, 4)
  (back,) = fmt.decode(fmt.encode((x,)))
  np.testing.assert_allclose(back, np.clip(x, -1.27, 1.27), atol=0.005 + 1e-6)


@pytest.mark.slow
def test_export_command_writes_verified_variants(smoke_workdir):
  out = os.path.join(smoke_workdir, "export")
  subprocess.run(
      [
          sys.executable,
          "-m",
          "bodypose_jax.deploy.export",
          f"--workdir={smoke_workdir}",
          "--variants=float32,int8",
          "--verify_frames=24",
          "--verify_rollouts=1",
          "--calibration_frames=24",
      ],
      cwd=REPO,
      check=True,
      capture_output=True,
  )
  with open(os.path.join(out, "verification.json")) as f:
    report = json.load(f)
  f32, i8 = report["float32"], report["int8"]
  assert f32["frames"] >= 24
  assert f32["keypoint_diff_px_mean"] < 1e-3 and f32["state_diff_max"] < 1e-3
  assert f32["pck_tflite"] == pytest.approx(f32["pck_jax"], abs=1e-6)
  with open(os.path.join(out, "pose_int8.json")) as f:
    meta = json.load(f)
  assert meta["state"][0]["dtype"] == "int8"
  assert meta["verification"]["frames"] == i8["frames"]
  model = tflite_model.StreamingModel(os.path.join(out, "pose_int8.tflite"))
  assert model.state["state_h"].dtype == np.int8
  assert not [n for n in os.listdir(out) if "unverified" in n]


def test_lost_decisions_are_held_equal_where_both_loops_saw_one_view():
  """Closed loops part: a frame whose ROIs differ, or whose mean confidence
  sits on the threshold, may be judged otherwise without divergence; any
  other frame may not (a study export on noise frames failed on such)."""
  roi_diff = np.array([0.0, 0.5, 1.0, 0.2, 3.0, 40.0])
  jax_conf = np.array([0.5, 0.0205, 0.3, 0.019999, 0.01, 0.5])
  conf = jax_conf + np.array([0, 0, 0, 2e-6, 0, 0])
  got = export.comparable_decisions(roi_diff, conf, jax_conf, 0.02, 1e-4)
  np.testing.assert_array_equal(got, [True, True, True, False, False, False])
  # A tie needs both loops' confidences at the threshold: one there and
  # the other far from it is divergence, and is compared.
  got = export.comparable_decisions(roi_diff[:1], np.array([0.02]),
                                    np.array([0.5]), 0.02, 1e-4)
  np.testing.assert_array_equal(got, [True])


@pytest.mark.slow
def test_float32_beyond_tolerance_is_not_written(smoke_workdir, tmp_path):
  good = tmp_path / "pose_float32.tflite"
  good.write_bytes(b"an earlier export")
  trained = workdir.restore(smoke_workdir)
  streams, calibration = export.dataset_inputs(trained.config, 12, 12, 1)
  with pytest.raises(ValueError, match="diverges"):
    export.export(
        trained,
        str(tmp_path),
        ["float32"],
        streams,
        calibration,
        tolerance_px=-1.0,
    )
  assert good.read_bytes() == b"an earlier export"
  assert sorted(os.listdir(tmp_path)) == ["pose_float32.tflite"]


def test_int8_convlstm_carries_two_int8_states(tmp_path):
  # The LSTM's cell state is unbounded: its scale comes from the rollouts.
  config = default.get_config()
  config.model.cell = "lstm"
  trained = export.untrained(default.apply_variant(config, "smoke", "depth"))
  streams, calibration = export.random_inputs(trained.config, 8, 12, 1)
  report = export.export(trained, str(tmp_path), ["int8"], streams, calibration)
  assert report["int8"]["frames"] == 12
  model = tflite_model.StreamingModel(str(tmp_path / "pose_int8.tflite"))
  assert model.state_names == ("state_c", "state_h")
  assert all(v.dtype == np.int8 for v in model.state.values())
  scales = model.sidecar["state_int8_scales"]
  assert len(scales) == 2 and all(s > 0 for s in scales)
  model(streams[0]["frames"][0])
  assert all(v.dtype == np.int8 for v in model.state.values())


# ------------------------------------------------------------- tracking --
def _untrained(mode="roi", lost_threshold=None, cell="gru", refine=True):
  """An untrained :smoke rgb model, its crop mode and tracker set."""
  config = default.get_config()
  config.model.cell = cell
  config = default.apply_variant(config, "smoke", "rgb")
  config.input.crop.mode = mode
  config.tracking.refine_whole_frame = refine
  if lost_threshold is not None:
    config.tracking.lost_threshold = lost_threshold
  return export.untrained(config)


def _counted_tracked_rollout(trained, frames, refine: bool, state,
                             first_whole=True):
  """`tracking.rollout` of `trained`'s tracked step from the whole frame:
  (its outputs, how many times the step ran)."""
  config, input_hw = trained.config, tuple(trained.config.input.input_size)
  fmt = streaming.state_format(trained.model, input_hw)
  step = tracking.make_tracked_step(trained.model, trained.variables, "rgb",
                                    config, fmt)
  calls = []

  def counted(*args, **kwargs):
    # A callback runs where the step runs: in the branch of a cond taken.
    jax.debug.callback(lambda: calls.append(1))
    return step(*args, **kwargs)

  move = tracking.make_move_state(config, trained.model.cell_stride, fmt)
  whole = roi.whole_frame(frames.shape[1:3], input_hw).astype(np.float32)
  outs = jax.device_get(tracking.rollout(
      counted, fmt, jnp.asarray(frames), whole, state, input_hw, False,
      refine=move if refine else None, first_whole=first_whole))
  jax.effects_barrier()
  return outs, len(calls)


def test_double_take_is_the_two_passes_on_whole_frame_views_only():
  # Lost threshold 0: never lost, so only the first frame is seen whole.
  trained = _untrained(lost_threshold=0.0)
  config, input_hw = trained.config, tuple(trained.config.input.input_size)
  fmt = streaming.state_format(trained.model, input_hw)
  frames = np.random.default_rng(2).uniform(
      0, 255, (4, 2 * input_hw[0], 3 * input_hw[1], 3)).astype(np.float32)
  # A state that came in from earlier frames, to see it moved.
  incoming = (np.random.default_rng(3).normal(
      0, 1, fmt.shapes[0]).astype(np.float32),)
  outs, calls = _counted_tracked_rollout(trained, frames, True, incoming)
  assert calls == len(frames) + 1
  _, calls = _counted_tracked_rollout(trained, frames, True, incoming,
                                      first_whole=False)
  assert calls == len(frames)
  off, calls = _counted_tracked_rollout(trained, frames, False, incoming)
  assert calls == len(frames)

  # By hand: the first frame's two passes, then one pass a frame.
  # Jitted: compiled once instead of every operation run eagerly per call.
  step = jax.jit(tracking.make_tracked_step(trained.model, trained.variables,
                                            "rgb", config, fmt))
  move = jax.jit(tracking.make_move_state(config, trained.model.cell_stride,
                                          fmt))
  frame_hw = np.array(frames.shape[1:3], np.float32)
  names = tuple(f"state_{n}" for n in fmt.names)

  def take(frame, roi_, state):
    crop = roi.crop(frame, roi_[0], input_hw, False)[None]
    return step(crop, roi_, frame_hw, *state)

  def single_passes(current, state, frames):
    want = []
    for frame in frames:
      out = take(frame, current, state)
      want.append({**out, "roi": current})
      current, state = out["next_roi"], tuple(out[k] for k in names)
    return want

  whole = roi.whole_frame(frames.shape[1:3], input_hw)[None].astype(
      np.float32)
  first = take(frames[0], whole, incoming)
  found = first["next_roi"]
  second = take(frames[0], found, move(incoming, whole, found))
  want = [{**second, "roi": found}] + single_passes(
      second["next_roi"], tuple(second[k] for k in names), frames[1:])
  for key in ("keypoints", "confidences", "roi", "next_roi", "lost", *names):
    np.testing.assert_allclose(
        outs[key], np.stack([w[key] for w in want]), rtol=1e-5, atol=1e-4,
        err_msg=key)
  # The frame reports the second pass, not the first.
  assert np.abs(outs["keypoints"][0] - first["keypoints"]).max() > 1.0
  # Off: today's loop, one pass a frame from the whole frame.
  want = single_passes(whole, incoming, frames)
  for key in ("keypoints", "roi", "next_roi", *names):
    np.testing.assert_allclose(
        off[key], np.stack([w[key] for w in want]), rtol=1e-5, atol=1e-4,
        err_msg=key)


def test_a_lost_first_pass_is_kept():
  # Lost threshold above any mean confidence: every frame is lost, and so
  # seen whole, and the second pass never runs.
  trained = _untrained(lost_threshold=1.01)
  input_hw = tuple(trained.config.input.input_size)
  fmt = streaming.state_format(trained.model, input_hw)
  frames = np.random.default_rng(2).uniform(
      0, 255, (3, 2 * input_hw[0], 3 * input_hw[1], 3)).astype(np.float32)
  on, calls = _counted_tracked_rollout(trained, frames, True, fmt.zeros())
  assert calls == len(frames) and on["lost"].all()
  off, _ = _counted_tracked_rollout(trained, frames, False, fmt.zeros())
  for key in on:
    np.testing.assert_array_equal(on[key], off[key], err_msg=key)


def _int8_format(trained):
  """An int8 state format with a fixed scale, and a representative set."""
  input_hw = trained.config.input.input_size
  fmt = streaming.state_format(trained.model, input_hw, int8_scales=(0.02,))

  def representative():
    for frame in _frames(trained, 4):
      yield {"frame": frame[None], **dict(zip(
          (f"state_{n}" for n in fmt.names), fmt.zeros()))}

  return fmt, representative


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_track_signature_is_the_jax_rule(tmp_path, variant):
  trained = _untrained()
  config, input_hw = trained.config, trained.config.input.input_size
  fmt, representative = (
      _int8_format(trained) if variant == "int8" else
      (streaming.state_format(trained.model, input_hw), None))
  path = str(tmp_path / "pose.tflite")
  frame_shape = (1, *input_hw, 3)
  export.write_model(
      path, export.convert_trained(trained, fmt, variant, representative),
      export.sidecar(trained, variant, frame_shape, fmt, "rgb"))
  interpreter = tf.lite.Interpreter(model_path=path)
  track = interpreter.get_signature_runner("track")
  rng = np.random.default_rng(0)
  j = skeleton.NUM_JOINTS
  frame_hw = np.array([480.0, 640.0], np.float32)
  current = np.array([[301.3, 207.8, 150.0]], np.float32)
  keypoints = rng.uniform(0, input_hw[1], (1, j, 2)).astype(np.float32)
  state = rng.normal(0, 1, fmt.shapes[0]).astype(np.float32)
  if variant == "int8":
    state = np.asarray(fmt.encode((state,))[0])
  for confidence in (0.5, 0.001):  # followed, then lost
    confidences = rng.uniform(0, 2 * confidence, (1, j)).astype(np.float32)
    got = track(keypoints=keypoints, confidences=confidences, roi=current,
                frame_hw=frame_hw, state_h=state)
    points = roi.to_frame(keypoints, current, input_hw)
    want_roi, want_lost = roi.next_roi(
        jnp.asarray(points), jnp.asarray(confidences), jnp.asarray(current),
        tuple(frame_hw), input_hw, config.tracking, jnp)
    (warped,) = fmt.decode((state,))
    warped = roi.warp_grid(jnp.asarray(warped), jnp.asarray(current),
                           want_roi, input_hw, trained.model.cell_stride, jnp)
    (want_state,) = fmt.encode((warped,))
    np.testing.assert_allclose(got["keypoints"], points, rtol=1e-6)
    np.testing.assert_allclose(got["next_roi"], want_roi, rtol=1e-6)
    np.testing.assert_array_equal(got["lost"], [confidence < 0.01])
    assert got["state_h"].dtype == fmt.dtype
    # int8: at most one step apart, where float rounding meets a half step.
    np.testing.assert_allclose(got["state_h"].astype(np.float32),
                               np.asarray(want_state, np.float32),
                               atol=1.0 if variant == "int8" else 1e-5)
  np.testing.assert_allclose(
      got["next_roi"][0], roi.whole_frame(tuple(frame_hw), input_hw))


@pytest.mark.parametrize(
    "mode,refine", [("roi", True), ("roi", False), ("frame", True)])
def test_host_tracker_on_tflite_is_the_jax_tracked_rollout(tmp_path, mode,
                                                           refine):
  # Lost threshold 0: the untrained model's pose is followed, so the ROI
  # and the state move every frame.
  trained = _untrained(mode, lost_threshold=0.0, refine=refine)
  config, input_hw = trained.config, tuple(trained.config.input.input_size)
  fmt = streaming.state_format(trained.model, input_hw)
  path = str(tmp_path / "pose.tflite")
  export.write_model(
      path, export.convert_trained(trained, fmt, "float32"),
      export.sidecar(trained, "float32", (1, *input_hw, 3), fmt, "rgb"))
  model = tflite_model.StreamingModel(path)
  assert model.track_state_names == (("state_h",) if mode == "roi" else ())
  tracker = tracking.HostTracker(model)
  # A whole-frame model sees every frame whole, and never refines.
  assert tracker.refine == (refine and mode == "roi")
  frames = np.random.default_rng(1).uniform(
      0, 255, (6, 2 * input_hw[0], 3 * input_hw[1], 3)).astype(np.float32)
  outs = [tracker(frame) for frame in frames]
  ref = jax.device_get(export.jax_tracked_rollout(trained)(frames))
  rois = np.stack([o["roi"] for o in outs])
  np.testing.assert_allclose(rois, ref["roi"][:, 0], atol=1e-2)
  np.testing.assert_allclose(np.stack([o["keypoints"] for o in outs]),
                             ref["keypoints"][:, 0], atol=1e-2)
  np.testing.assert_array_equal([o["lost"] for o in outs], ref["lost"][:, 0])
  whole = roi.whole_frame(frames.shape[1:3], input_hw)
  moved = np.abs(rois - whole).max(axis=-1) > 1.0
  # The double take reports the first frame on the ROI it found there.
  assert moved[0] == tracker.refine
  assert moved[1:].all() if mode == "roi" else not moved.any()


def test_a_model_without_track_says_so(tmp_path):
  trained = _untrained()
  input_hw = trained.config.input.input_size
  fmt = streaming.state_format(trained.model, input_hw)
  step = streaming.make_step(trained.model, trained.variables, "rgb",
                             trained.config.input, fmt)
  path = str(tmp_path / "old.tflite")
  export.write_model(
      path, export.convert(step, (1, *input_hw, 3), fmt, "float32"),
      export.sidecar(trained, "float32", (1, *input_hw, 3), fmt, "rgb"))
  tracker = tracking.HostTracker(tflite_model.StreamingModel(path))
  with pytest.raises(ValueError, match="no `track` signature.*again"):
    tracker(np.zeros((*input_hw, 3), np.float32))
