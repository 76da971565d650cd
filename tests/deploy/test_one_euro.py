"""The One-Euro filter: steady when still, quick when moving, scale-free."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import commands
import depth_pngs
from bodypose_jax.deploy import one_euro
from configs import default

FPS = 30.0
J = 3
# A person 400 px across: the joints' box is 400 x 400.
BODY = np.array([[0.0, 0.0], [400.0, 400.0], [200.0, 200.0]], np.float32)
MEDIAPIPE = one_euro.Params(min_cutoff=0.1, beta=40.0, d_cutoff=1.0)


def _run(track, params=MEDIAPIPE, lost=None, fps=FPS):
  """track: [N, J, 2]; full confidence."""
  n = len(track)
  lost = np.zeros(n, bool) if lost is None else lost
  return one_euro.filter_video(track, np.ones((n, J)), lost, fps, params)


def test_constant_signal_passes_unchanged():
  track = np.repeat(BODY[None] + 50.0, 40, axis=0)
  np.testing.assert_allclose(_run(track), track, atol=1e-4)


def test_first_frame_passes_and_a_step_converges():
  track = np.repeat(BODY[None], 90, axis=0)
  track[30:] += [[60.0, -20.0]]
  out = _run(track)
  np.testing.assert_array_equal(out[0], track[0])
  # The jump itself is fast: beta lets most of it through at once...
  assert np.all(np.abs(out[30] - track[29]) > 0.5 * np.abs(track[30] -
                                                            track[29]))
  # ...and the rest converges within two seconds.
  np.testing.assert_allclose(out[-1], track[-1], atol=1.0)


@pytest.mark.parametrize("params, sd, factor", [
    # Without beta the cutoff stays at min_cutoff whatever the noise.
    (one_euro.Params(0.1, 0.0, 1.0), 4.0, 8.0),
    # MediaPipe's beta reads noise as motion as it grows: against sub-pixel
    # jitter of a 400 px person (0.1% of its size) it still smooths 3x.
    (MEDIAPIPE, 0.5, 3.0),
])
def test_noise_on_a_still_point_is_reduced(params, sd, factor):
  rng = np.random.default_rng(0)
  track = BODY[None] + rng.normal(0.0, sd, (300, J, 2)).astype(np.float32)
  out = _run(track, params)
  raw_sd = np.std(track[100:] - BODY, axis=0).mean()
  out_sd = np.std(out[100:] - BODY, axis=0).mean()
  assert out_sd < raw_sd / factor, (raw_sd, out_sd)
  accel = lambda x: np.abs(x[2:] - 2 * x[1:-1] + x[:-2]).mean()
  assert accel(out[100:]) < accel(track[100:]) / factor


def test_a_fast_ramp_lags_less_with_beta():
  # One body size per second: 400 px/s, 13.3 px a frame.
  t = np.arange(60, dtype=np.float32)[:, None, None]
  track = BODY[None] + t * [[400.0 / FPS, 0.0]]
  still = one_euro.Params(min_cutoff=0.1, beta=0.0, d_cutoff=1.0)
  lag = lambda p: np.abs(_run(track, p) - track)[40:, :, 0].max()
  # Without beta the filter trails by seconds of motion; MediaPipe's beta
  # keeps the lag under 5% of a body size (20 px, 1.5 frames).
  assert lag(still) > 200.0
  assert lag(MEDIAPIPE) < 20.0


def test_twice_the_scale_gives_twice_the_output():
  rng = np.random.default_rng(1)
  t = np.arange(50, dtype=np.float32)[:, None, None]
  track = (BODY[None] + 3.0 * t * np.sin(t / 7.0)
           + rng.normal(0, 3.0, (50, J, 2))).astype(np.float32)
  np.testing.assert_allclose(_run(2.0 * track), 2.0 * _run(track),
                             rtol=1e-4, atol=1e-3)
  # Without the object scale the two would differ: beta acts on pixels.
  assert one_euro.object_scale(2.0 * track[0]) == pytest.approx(
      2.0 * one_euro.object_scale(track[0]))


def test_lost_tracking_restarts_the_filter():
  track = np.repeat(BODY[None], 40, axis=0)
  track[20:] += 300.0  # the tracker re-found the person elsewhere
  lost = np.zeros(40, bool)
  lost[19] = True  # judged lost after frame 19: frame 20 is a fresh start
  out = _run(track, one_euro.Params(0.1, 0.0, 1.0), lost)
  np.testing.assert_array_equal(out[20], track[20])
  np.testing.assert_allclose(out[20:], track[20:], atol=1e-4)
  # Without the restart the low cutoff drags the old place along.
  dragged = _run(track, one_euro.Params(0.1, 0.0, 1.0))
  assert np.abs(dragged[20] - track[20]).max() > 100.0


def test_object_scale_ignores_unconfident_joints():
  points = np.array([[0.0, 0.0], [100.0, 300.0], [5000.0, 5000.0]])
  assert one_euro.object_scale(points, np.array([True, True, False])) == 200.0
  # None confident: all count. Collapsed joints: at least MIN_SCALE.
  assert one_euro.object_scale(points, np.zeros(3, bool)) == 5000.0
  assert one_euro.object_scale(np.zeros((3, 2))) == one_euro.MIN_SCALE


def test_grid_of_settings_matches_one_at_a_time():
  rng = np.random.default_rng(2)
  track = (BODY[None] + rng.normal(0, 5.0, (30, J, 2))).astype(np.float32)
  cutoffs, betas = np.array([0.1, 1.0]), np.array([0.0, 40.0])
  grid = one_euro.Params(cutoffs[:, None], betas[:, None], 1.0)
  many = one_euro.filter_video(
      np.repeat(track[:, None], 2, axis=1), np.ones((30, J)),
      np.zeros(30, bool), FPS, grid)
  for g in range(2):
    np.testing.assert_allclose(
        many[:, g], _run(track, one_euro.Params(cutoffs[g], betas[g], 1.0)),
        rtol=1e-5, atol=1e-4)


def test_jax_scan_matches_numpy():
  rng = np.random.default_rng(3)
  track = (BODY[None] + rng.normal(0, 5.0, (20, J, 2))).astype(np.float32)
  lost = np.zeros(20, bool)
  lost[9] = True
  restart = one_euro.restarts(lost)
  scales = one_euro.object_scale(track)

  def body(state, xs):
    points, scale, fresh = xs
    out, state = one_euro.step(state, points, scale, 1.0 / FPS, MEDIAPIPE,
                               fresh, jnp)
    return state, out

  _, out = jax.lax.scan(body, one_euro.init((), J, jnp),
                        (jnp.asarray(track), jnp.asarray(scales),
                         jnp.asarray(restart)))
  np.testing.assert_allclose(np.asarray(out), _run(track, lost=lost),
                             rtol=1e-5, atol=1e-3)


# ------------------------------------------------------------- the tracker --
class _ScriptedModel:
  """A stand-in for tflite_model.StreamingModel: each frame's keypoints
  and lost flag come from a script, so the host loop's filtering can be
  checked exactly."""

  input_hw = (64, 48)
  track_state_names = ()

  def __init__(self, keypoints, lost):
    self.sidecar = {"input": {"modality": "rgb"},
                    "tracking": {"refine_whole_frame": False,
                                 "rule": {"min_joint_confidence": 0.5}}}
    self._keypoints, self._lost = keypoints, lost
    self.state, self.rois = {}, []
    self._t = 0

  def reset(self):
    self._t = 0

  def __call__(self, crop):
    conf = np.ones(J, np.float32)
    conf[-1] = 0.1  # the last joint is unsure: out of the object scale
    return {"keypoints": np.zeros((J, 2)), "confidences": conf,
            "heatmaps": np.zeros((4, 3, J))}

  def track(self, keypoints, confidences, roi_, frame_hw):
    self.rois.append(np.array(roi_))
    t, self._t = self._t, self._t + 1
    # The next ROI is wherever the raw keypoints are: the filter must not
    # reach it.
    return {"keypoints": self._keypoints[t],
            "next_roi": np.array([*self._keypoints[t][0], 100.0], np.float32),
            "lost": self._lost[t]}


def test_host_tracker_filters_what_it_reports_not_what_it_follows():
  from bodypose_jax.deploy import tracking  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(4)
  n = 12
  track = (BODY[None] + rng.normal(0, 6.0, (n, J, 2))).astype(np.float32)
  track[:, -1] += 1000.0  # the unsure joint, far away
  lost = np.zeros(n, bool)
  lost[5] = True
  frames = np.zeros((n, 480, 640, 3), np.float32)
  plain = tracking.HostTracker(_ScriptedModel(track, lost))
  raw = [plain(f) for f in frames]
  model = _ScriptedModel(track, lost)
  filtered = tracking.HostTracker(model, MEDIAPIPE, fps=FPS)
  outs = [filtered(f) for f in frames]
  np.testing.assert_array_equal(np.stack([o["raw_keypoints"] for o in outs]),
                                track)
  expected = one_euro.filter_video(
      track, np.stack([o["confidences"] for o in outs]), lost, FPS,
      MEDIAPIPE, 0.5)
  got = np.stack([o["keypoints"] for o in outs])
  np.testing.assert_allclose(got, expected, atol=1e-5)
  assert np.abs(got - track).max() > 1.0  # it did filter
  # Restarts: the first frame and the one after the lost frame pass.
  np.testing.assert_array_equal(got[[0, 6]], track[[0, 6]])
  # The ROIs are the unfiltered tracker's.
  np.testing.assert_array_equal(np.stack([o["roi"] for o in outs]),
                                np.stack([o["roi"] for o in raw]))
  # Timestamps: the same frames at twice the interval are filtered as at
  # half the frame rate.
  model = _ScriptedModel(track, lost)
  timed = tracking.HostTracker(model, MEDIAPIPE, fps=FPS)
  got = np.stack([timed(f, timestamp=2.0 * i / FPS)["keypoints"]
                  for i, f in enumerate(frames)])
  np.testing.assert_allclose(
      got, one_euro.filter_video(track, np.stack(
          [o["confidences"] for o in outs]), lost, FPS / 2, MEDIAPIPE, 0.5),
      atol=1e-5)
  # A new video starts afresh.
  timed.reset()
  model.reset()
  np.testing.assert_array_equal(timed(frames[0])["keypoints"], track[0])


def test_resolve_settings():
  assert one_euro.resolve(None) is None  # off by default
  on = one_euro.resolve({"enabled": True})
  assert on == one_euro.Params(0.1, 40.0, 1.0)  # MediaPipe's pose settings
  assert one_euro.resolve({"enabled": True}, {"beta": 3.0, "d_cutoff": None}
                          ) == one_euro.Params(0.1, 3.0, 1.0)
  assert one_euro.resolve({"enabled": True}, {"enabled": False}) is None
  with pytest.raises(ValueError, match="betta"):
    one_euro.resolve({}, {"betta": 1.0})
  # A sidecar without settings gets the config's defaults: Params' must be
  # them.
  assert dict(default.get_config().tracking.one_euro) == {
      "enabled": False, **one_euro.Params()._asdict()}


# ------------------------------------------------------ the demo, evaluate --
def test_demo_draws_and_writes_filtered_keypoints(tiny_export, tmp_path):
  from bodypose_jax.deploy import demo  # pylint: disable=g-import-not-at-top

  model, trained = tiny_export("depth", "gru")
  with open(model.replace(".tflite", ".json")) as f:
    assert json.load(f)["tracking"]["one_euro"] == dict(
        trained.config.tracking.one_euro)
  folder = depth_pngs.write_depth_pngs(tmp_path / "depth", count=6)
  path = str(tmp_path / "pose.npz")
  settings = {"enabled": True, "min_cutoff": 0.1, "beta": 0.0}
  demo.run(model, folder, str(tmp_path / "d.gif"), display_width=64,
           keypoints_path=path, one_euro=settings)
  data = dict(np.load(path))
  params = one_euro.Params(0.1, 0.0, trained.config.tracking.one_euro.d_cutoff)
  np.testing.assert_allclose(data["one_euro"], list(params))
  expected = one_euro.filter_video(
      data["raw_keypoints"], data["confidences"], data["lost"],
      demo.DEPTH_FPS, params, trained.config.tracking.min_joint_confidence)
  np.testing.assert_allclose(data["keypoints"], expected, atol=1e-4)


@pytest.mark.slow
def test_the_demos_one_euro_flags_reach_the_filter(tiny_export, tmp_path):
  model, _ = tiny_export("depth", "gru")
  folder = depth_pngs.write_depth_pngs(tmp_path / "depth", count=6)
  out = tmp_path / "pose.json"
  commands.run_module(
      "bodypose_jax.deploy.demo", f"--model={model}", f"--input={folder}",
      f"--output={tmp_path / 'cli.gif'}", "--display_width=64",
      f"--keypoints={out}", "--one_euro", "--one_euro_beta=3",
      timeout=300)
  with open(out) as f:
    written = json.load(f)
  assert written["one_euro"] == {"min_cutoff": 0.1, "beta": 3.0,
                                 "d_cutoff": 1.0}
  assert np.shape(written["raw_keypoints"]) == np.shape(written["keypoints"])


@pytest.mark.slow
def test_evaluate_reports_filtered_metrics_and_tunes(smoke_workdir, tmp_path):
  from bodypose_jax.evaluators import evaluate  # pylint: disable=g-import-not-at-top

  plain = evaluate.evaluate(smoke_workdir, max_videos=2,
                            out_dir=str(tmp_path / "plain"))
  assert "one_euro" not in plain and "unfiltered" not in plain
  filtered = evaluate.evaluate(
      smoke_workdir, max_videos=2, out_dir=str(tmp_path / "filtered"),
      one_euro={"enabled": True, "beta": 5.0})
  assert filtered["one_euro"] == {"min_cutoff": 0.1, "beta": 5.0,
                                  "d_cutoff": 1.0, "fps": evaluate.DATASET_FPS}
  # The unfiltered numbers beside the filtered ones are the plain run's.
  assert filtered["unfiltered"] == evaluate.headline(plain)
  assert filtered["all"]["count"] == plain["all"]["count"]
  assert "One-Euro" in evaluate.summary(filtered)
  assert evaluate.default_out_dir("w", "s", None, "tracked", True) == (
      os.path.join("w", "eval_s_one_euro"))

  tuned = evaluate.tune_one_euro(
      smoke_workdir, "xsub_train", max_videos=2, out_dir=str(tmp_path / "t"),
      min_cutoffs=(0.1,), betas=(0.0, 40.0))
  assert [(r["min_cutoff"], r["beta"]) for r in tuned["rows"]] == [
      (0.1, 0.0), (0.1, 40.0)]
  with open(tmp_path / "t" / "one_euro_tuning.json") as f:
    assert json.load(f)["rows"] == tuned["rows"]
  table = evaluate.tuning_table(tuned)
  assert "| unfiltered |" in table and "Criterion" in table
  if tuned["best"] is not None:
    assert "**best**" in table

  # The command line.
  proc = commands.run_module(
      "bodypose_jax.evaluators.evaluate", f"--workdir={smoke_workdir}",
      "--max_videos=1", "--one_euro", "--one_euro_min_cutoff=0.3",
      f"--out={tmp_path / 'cli'}")
  assert "One-Euro (min_cutoff 0.3, beta 40" in proc.stdout
