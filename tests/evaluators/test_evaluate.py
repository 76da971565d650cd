"""Video metrics on hand-made cases, and the evaluation command end to end."""

import json
import os
import shutil

import numpy as np
import pytest

import commands
import metric_checks
import smoke_run
from bodypose_jax.evaluators import evaluate
from bodypose_jax.evaluators import video_metrics as vm
from bodypose_jax.model import skeleton

J = skeleton.NUM_JOINTS
WRIST = skeleton.JOINT_INDEX["wrist_left"]


def _video(n, seed=0):
  """Ground truth with a 100 px torso in every frame, all joints tracked.

  Whole-pixel coordinates keep offsets exact: 15 px off is 0.15 torso to the
  last bit, so a hit at the threshold 0.15 is no rounding accident.
  """
  rng = np.random.default_rng(seed)
  gt = rng.integers(0, 200, (n, J, 2)).astype(np.float64)
  a, b = skeleton.TORSO
  gt[:, a] = (50.0, 150.0)
  gt[:, b] = (50.0, 50.0)
  return gt, np.full((n, J), 2, np.int32)


def _result(pred, gt, state, **kwargs):
  acc = vm.VideoMetrics(**kwargs)
  acc.add(pred, gt, state)
  return acc.result()


# ------------------------------------------------------------ hand-made --
def test_perfect_prediction():
  gt, state = _video(40)
  state[10:15, WRIST] = 1  # an occlusion, so that recovery is measured
  res = _result(gt.copy(), gt, state)
  for name in vm.SUBSETS:
    assert res[name]["pck@0.1"] == 1.0 and res[name]["pck_auc"] == 1.0
    assert res[name]["pixel_error"] == 0.0
    assert res[name]["pck_curve"] == [1.0] * len(vm.PCK_GRID)
  assert res["jitter"]["accel_error_px"] == 0.0
  rec = res["recovery"]
  assert rec["events"] == 1 and rec["mean_frames"] == 0.0
  assert rec["median_frames"] == 0.0 and rec["never_recovered"] == 0
  assert all(v == 1.0 for v in res["all"]["per_joint_pck@0.2"].values())


def test_constant_offset_of_015_torso():
  gt, state = _video(5)
  res = _result(gt + (15.0, 0.0), gt, state, thresholds=(0.1, 0.2))
  assert res["all"]["pck@0.1"] == 0.0 and res["all"]["pck@0.2"] == 1.0
  assert res["all"]["pixel_error"] == pytest.approx(15.0)
  assert res["all"]["normalised_error"] == pytest.approx(0.15)
  # Curve: 0 at thresholds 0 .. 0.14, 1 from 0.15 to 0.5. Trapezoids: half a
  # step from 0.14 to 0.15, then 35 full steps of 0.01; over a range of 0.5.
  assert res["all"]["pck_auc"] == pytest.approx((0.005 + 0.35) / 0.5)
  assert res["all"]["pck_auc"] == pytest.approx(0.71)
  assert res["occluded"]["count"] == 0 and res["occluded"]["pck_auc"] is None
  assert res["jitter"]["accel_error_px"] == 0.0  # an offset does not shake


@pytest.mark.parametrize("lag", [0, 1, 4])
def test_prediction_lagging_after_an_occlusion(lag):
  gt, state = _video(40)
  state[10:15, WRIST] = 1  # occluded for 5 frames; visible again at 15
  gt[15:, WRIST] = gt[0, WRIST] + (60.0, 0.0)  # reappears 0.6 torso away
  gt[:15, WRIST] = gt[0, WRIST]
  pred = gt.copy()
  pred[lag:, WRIST] = gt[: len(gt) - lag, WRIST]  # pred[t] = gt[t - lag]
  assert vm.occlusion_ends(state) == [(WRIST, 15)]
  res = _result(pred, gt, state)
  rec = res["recovery"]
  assert rec["events"] == 1 and rec["mean_frames"] == lag
  assert rec["median_frames"] == lag
  around = res["around_occlusion_end"]
  assert around["offsets"] == list(range(-10, 21))
  err = dict(zip(around["offsets"], around["mean_normalised_error"]))
  assert all(err[o] == pytest.approx(0.6) for o in range(lag))
  assert err[lag] == 0.0 and err[-1] == 0.0 and err[20] == 0.0


def test_recovery_never_censored_and_short_runs():
  gt, state = _video(60)
  pred = gt.copy()
  state[5:7, 0] = 1  # two frames: too short to count
  state[5:10, 3] = 1
  pred[10:, 3] += 50.0  # never found again within 30 frames
  state[40:45, 4] = 1
  pred[45:, 4] += 50.0  # wrong until the video ends, 15 frames later
  state[20:25, 5] = 1
  state[25, 5] = 0  # followed by no ground truth: not an occlusion end
  assert vm.occlusion_ends(state) == [(3, 10), (4, 45)]
  rec = _result(pred, gt, state)["recovery"]
  assert rec["events"] == 1 and rec["never_recovered"] == 1
  assert rec["mean_frames"] == 30 and rec["censored"] == 1


def test_jitter_of_an_alternating_offset():
  gt, state = _video(10)
  gt[:] = gt[0] + np.arange(10)[:, None, None] * 3.0  # constant velocity
  pred = gt.copy()
  pred[:, WRIST, 0] += 2.0 * (-1.0) ** np.arange(10)
  # (+a) - 2(-a) + (+a) = 4a at every interior frame, for one joint of J.
  res = _result(pred, gt, state)["jitter"]
  assert res["count"] == 8 * J
  assert res["accel_error_px"] == pytest.approx(4 * 2.0 / J)
  assert res["pred_accel_px"] == pytest.approx(4 * 2.0 / J)
  assert res["gt_accel_px"] == pytest.approx(0.0, abs=1e-9)
  state[4, WRIST] = 0  # drops the three triples that include frame 4
  assert _result(pred, gt, state)["jitter"]["count"] == 8 * J - 3


def test_visible_occluded_split_counts():
  gt, state = _video(6)
  state[:, :5] = 1  # 5 occluded joints per frame
  state[:, 5:8] = 0  # 3 without ground truth
  # Frame 2 has no torso: no spine at the shoulders, and no left hip for
  # the hips-to-shoulders fallback (metrics.torso_lengths): left out.
  state[2, skeleton.TORSO[1]] = 0
  state[2, skeleton.JOINT_INDEX["hip_left"]] = 0
  gt[3, skeleton.TORSO[1]] = gt[3, skeleton.TORSO[0]] + 0.5  # < 1 px torso
  pred = gt.copy()
  pred[:, 0] += 30.0  # an occluded joint (0.3 torso) missed everywhere
  res = _result(pred, gt, state)
  frames = 4
  assert res["occluded"]["count"] == 5 * frames
  assert res["visible"]["count"] == (J - 8) * frames
  assert res["all"]["count"] == (J - 3) * frames
  assert res["occluded"]["pck@0.2"] == pytest.approx(4 / 5)
  assert res["visible"]["pck@0.2"] == 1.0
  assert res["all"]["pck@0.2"] == pytest.approx(1 - 1 / (J - 3))
  joints = res["occluded"]["per_joint_pck@0.2"]
  assert joints["spine_base"] == 0.0 and joints["spine_mid"] == 1.0
  assert res["visible"]["per_joint_pck@0.2"]["spine_base"] is None


def test_accumulation_weights_joints_not_videos():
  gt1, st1 = _video(30, seed=1)
  gt2, st2 = _video(7, seed=2)
  st1[3:9, WRIST] = 1
  st2[1:2, :4] = 1
  rng = np.random.default_rng(3)
  p1 = gt1 + rng.normal(0, 15, gt1.shape)
  p2 = gt2 + rng.normal(0, 40, gt2.shape)
  acc = vm.VideoMetrics()
  acc.add(p1, gt1, st1)
  acc.add(p2, gt2, st2)
  two = acc.result()
  one = _result(
      np.concatenate([p1, p2]),
      np.concatenate([gt1, gt2]),
      np.concatenate([st1, st2]),
  )
  assert two["num_videos"] == 2 and two["num_frames"] == 37
  for name in vm.SUBSETS:
    for key in ("count", "pixel_error", "pck@0.1", "pck@0.2", "pck_auc"):
      assert two[name][key] == pytest.approx(one[name][key]), (name, key)
    assert two[name]["pck_curve"] == pytest.approx(one[name]["pck_curve"])
    joints = two[name]["per_joint_pck@0.2"]
    for j, v in one[name]["per_joint_pck@0.2"].items():
      assert joints[j] == pytest.approx(v)
  # The seam is no interior frame of either video: 2 triples per joint fewer.
  assert two["jitter"]["count"] == one["jitter"]["count"] - 2 * J
  single = _result(p1, gt1, st1)["all"]["pck@0.2"]
  assert two["all"]["pck@0.2"] != pytest.approx(
      (single + _result(p2, gt2, st2)["all"]["pck@0.2"]) / 2
  )


def test_bad_shapes_and_empty_accumulator():
  gt, state = _video(4)
  with pytest.raises(ValueError, match="Shapes disagree"):
    vm.video_sums(gt[:3], gt, state)
  with pytest.raises(ValueError, match="No video"):
    vm.VideoMetrics().result()


# ---------------------------------------------------------- end to end --
def _check_outputs(out_dir):
  for name in ("pck_curve.png", "per_joint_pck.png", "occlusion_recovery.png"):
    with open(os.path.join(out_dir, name), "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
  with open(os.path.join(out_dir, "metrics.json")) as f:
    return json.load(f)


@pytest.mark.slow
# ------------------------------------------------- the followed performer --
def _two_performers(n=12):
  first, state = _video(n, seed=1)
  second = first + (150.0, 0.0)  # the same pose, one and a half torsos on
  return first, second, state


def test_a_tracker_on_the_second_performer_is_scored_against_them():
  first, second, state = _two_performers()
  pred = second + (5.0, 0.0)
  assert vm.followed_actor(pred, [(first, state), (second, state)]) == 1
  assert vm.followed_actor(first + 5.0, [(first, state), (second, state)]) == 0
  video = {"joints": first, "tracking_state": state, "second_joints": second,
           "second_tracking_state": state, "scale": 4.0}
  joints, scored_state, index = evaluate.scored_truth(video, pred)
  assert index == 1
  np.testing.assert_array_equal(joints, second * 4.0)
  np.testing.assert_array_equal(scored_state, state)


def test_a_performer_in_view_for_a_few_frames_does_not_win():
  first, second, state = _two_performers()
  # On the 3 frames the second performer is in view the tracker is on them,
  # on the other 9 it is on the first: it followed the first.
  pred = first.copy()
  pred[:3] = second[:3]
  second_state = state.copy()
  second_state[3:] = 0
  assert vm.followed_actor(pred, [(first, state), (second, second_state)]) == 0
  # On them for 7 of the 12 frames: it followed the second.
  pred[:7] = second[:7]
  second_state[:7] = state[:7]
  assert vm.followed_actor(pred, [(first, state), (second, second_state)]) == 1
  # Near neither: the first performer.
  video = {"joints": first, "tracking_state": state, "second_joints": second,
           "second_tracking_state": state, "scale": 1.0}
  assert evaluate.scored_truth(video, first + 1000.0)[2] == 0


def test_evaluate_checkpoint(smoke_workdir, tmp_path):
  res = evaluate.evaluate(smoke_workdir, out_dir=str(tmp_path / "jax"))
  saved = _check_outputs(tmp_path / "jax")
  assert saved["model"]["kind"] == "jax" and saved["split"] == "xsub_test"
  assert saved["step"] == smoke_run.STEPS
  assert saved["num_videos"] == res["num_videos"] > 2
  for key in ("all", "visible", "occluded", "jitter", "recovery"):
    assert key in saved
  metric_checks.assert_consistent_pck(saved)
  assert len(saved["all"]["per_joint_pck@0.2"]) == J
  # Every lost frame is one whole-frame re-detection, per minute at 30 fps.
  assert saved["redetections_per_minute"] == pytest.approx(
      saved["lost_fraction"] * evaluate.DATASET_FPS * 60, abs=0.1)


@pytest.mark.slow
def test_evaluate_command_line_and_the_exported_model(smoke_workdir, tmp_path):
  # The command line, on two videos, into the default folder.
  proc = commands.run_module(
      "bodypose_jax.evaluators.evaluate", f"--workdir={smoke_workdir}", "--max_videos=2"
  )
  assert "PCK@0.2" in proc.stdout
  cli = _check_outputs(os.path.join(smoke_workdir, "eval_xsub_test"))
  assert cli["num_videos"] == 2

  # The exported float32 model on the same two videos.
  commands.run_module(
      "bodypose_jax.deploy.export",
      f"--workdir={smoke_workdir}",
      "--variants=float32",
      "--verify_frames=24",
      "--verify_rollouts=1",
      "--calibration_frames=24",  # the smoke train split has < 256 frames
  )
  path = os.path.join(smoke_workdir, "export", "pose_float32.tflite")
  lite = evaluate.evaluate(smoke_workdir, tflite=path, max_videos=2)
  _check_outputs(os.path.join(smoke_workdir, "eval_xsub_test_tflite"))
  assert lite["model"]["kind"] == "tflite" and lite["step"] == smoke_run.STEPS
  assert lite["num_frames"] == cli["num_frames"]
  for name in vm.SUBSETS:
    # A smoke model's PCK may be 0 on both; the pixel error still shows
    # that the two ran the same model over the same frames.
    assert lite[name]["pixel_error"] == pytest.approx(
        cli[name]["pixel_error"], abs=1e-3
    )
    for key in ("pck@0.1", "pck@0.2", "pck@0.5", "pck_auc"):
      if cli[name][key] is None:
        assert lite[name][key] is None
      else:
        assert lite[name][key] == pytest.approx(cli[name][key], abs=1e-3)

  # A model whose input size is not the dataset's.
  bad = tmp_path / "bad.tflite"
  shutil.copy(path, bad)
  with open(path.replace(".tflite", ".json")) as f:
    meta = json.load(f)
  meta["input"]["shape"] = [1, 32, 32, 3]
  with open(tmp_path / "bad.json", "w") as f:
    json.dump(meta, f)
  with pytest.raises(ValueError, match=r"bad\.tflite takes frames"):
    evaluate.evaluate(smoke_workdir, tflite=str(bad), max_videos=1)


@pytest.mark.slow
def test_bad_split_and_missing_checkpoint(smoke_workdir, tmp_path):
  with pytest.raises(ValueError, match="Unknown split 'xsub_tset'"):
    evaluate.evaluate(smoke_workdir, split="xsub_tset")
  empty = tmp_path / "untrained"
  empty.mkdir()
  shutil.copy(os.path.join(smoke_workdir, "config.json"), empty)
  with pytest.raises(FileNotFoundError, match="No checkpoint in"):
    evaluate.evaluate(str(empty))
  with pytest.raises(FileNotFoundError, match="config.json does not exist"):
    evaluate.evaluate(str(tmp_path / "nowhere"))
