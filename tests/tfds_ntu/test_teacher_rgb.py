"""Teacher-labelled real video: the annotation file, the teacher_rgb builder
config, mixed batches, the confidence-weighted loss and evaluation on it.

The videos are rendered synthetic samples; their annotations are what a
perfect teacher would write (`teacher_fixtures`), with spine_mid and
spine_shoulder always absent and nobody found in frame 0.
"""

import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import manual_builds
import metric_checks
import real_samples
import teacher_fixtures
from bodypose_jax.data import input_pipeline
from bodypose_jax.data import roi
from bodypose_jax.evaluators import evaluate
from bodypose_jax.model import losses
from bodypose_jax.model import skeleton
from configs import rgb_gru
from tfds_ntu import build_summary
from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu import teacher_format
from tfds_ntu import teacher_videos

_SHARED_CLIPS = str(real_samples.REPO.parent / "shared" / "ntu_unlabelled"
                    / "nturgb+d_rgb")


# ------------------------------------------------------------ the build --
def _names(samples):
  """{(performer, camera): name} of the fixture's samples."""
  return {(s.performer, s.camera): s.name for s in samples}


def _link(source, target):
  os.makedirs(os.path.dirname(target), exist_ok=True)
  os.symlink(source, target)


def _messy_manual_dir(tmp_path, teacher_manual_dir):
  """The fixture videos with every kind of bad or odd input; returns the
  manual dir and {video key expected stored: split}."""
  source, samples = teacher_manual_dir
  names = _names(samples)
  manual = tmp_path / "videos"
  rgb = manual / layout.RGB_DIR
  rgb.mkdir(parents=True)
  labels = manual / teacher_videos.LABELS_DIR
  labels.mkdir()
  for name in names.values():
    _link(layout.rgb_path(source, name), layout.rgb_path(str(manual), name))

  def annotate(name, out_dir=rgb):
    return teacher_fixtures.label(source, name, str(out_dir))

  expected = {}
  # Good, beside the video: P003 trains, P004 tests.
  annotate(names[3, 1])
  expected[f"{layout.RGB_DIR}/{names[3, 1]}_rgb.avi"] = "train"
  annotate(names[4, 1])
  expected[f"{layout.RGB_DIR}/{names[4, 1]}_rgb.avi"] = "test"
  # Good, in teacher_labels/: P001 tests (held out), never trains.
  annotate(names[1, 1], labels)
  expected[f"{layout.RGB_DIR}/{names[1, 1]}_rgb.avi"] = "test"
  # Wrong frame count: skipped while reading (train).
  kp, conf, score, size = teacher_fixtures.annotation_from_skeleton(
      layout.skeleton_path(source, names[3, 2]))
  teacher_fixtures.write(
      str(rgb / f"{names[3, 2]}_rgb.teacher.npz"), "v", kp[:-1], conf[:-1],
      score[:-1], size)
  # Malformed: skipped while reading (test).
  (rgb / f"{names[4, 2]}_rgb.teacher.npz").write_bytes(b"not an npz")
  # No annotation at all: P001 camera 2.
  # An annotation without its video.
  shutil.copy(rgb / f"{names[4, 1]}_rgb.teacher.npz",
              labels / "S001C003P004R001A023_rgb.teacher.npz")
  # Split by folder: any name; P001 under train/ is excluded.
  _link(layout.rgb_path(source, names[3, 2]), str(manual / "train/street.avi"))
  teacher_fixtures.write(
      str(manual / "train/street.teacher.npz"), "street.avi",
      *teacher_fixtures.annotation_from_skeleton(
          layout.skeleton_path(source, names[3, 2])))
  expected["train/street.avi"] = "train"
  _link(layout.rgb_path(source, names[4, 2]), str(manual / "test/park.avi"))
  teacher_fixtures.write(
      str(manual / "test/park.teacher.npz"), "park.avi",
      *teacher_fixtures.annotation_from_skeleton(
          layout.skeleton_path(source, names[4, 2])))
  expected["test/park.avi"] = "test"
  p001 = f"{names[1, 2]}_rgb"
  _link(layout.rgb_path(source, names[1, 2]), str(manual / f"train/{p001}.avi"))
  teacher_fixtures.label(source, names[1, 2], str(manual / "train"))
  # Neither an NTU name nor a split folder.
  _link(layout.rgb_path(source, names[3, 1]), str(manual / "other/odd.avi"))
  shutil.copy(rgb / f"{names[3, 1]}_rgb.teacher.npz",
              manual / "other/odd.teacher.npz")
  return str(manual), expected


# Beam builds in the default run once (test_tfds_ntu's one-setup build).
@pytest.mark.parametrize(
    "beam", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_teacher_build_splits_skips_and_never_trains_p001(
    tmp_path, caplog, teacher_manual_dir, beam):
  source, samples = teacher_manual_dir
  names = _names(samples)
  manual, expected = _messy_manual_dir(tmp_path, teacher_manual_dir)
  builder = manual_builds.build(tmp_path, "teacher_rgb", manual, beam)
  assert builder._use_beam == beam  # pylint: disable=protected-access
  stored = {}
  for split in ("train", "test"):
    for ex in tfds.as_numpy(builder.as_dataset(split=split)):
      stored[ex["video"].decode()] = (split, ex)
  assert {k: v[0] for k, v in stored.items()} == expected
  assert all(ex["performer"] != 1 for split, ex in stored.values()
             if split == "train")

  summary = tfds.builder("tfds_ntu/teacher_rgb", data_dir=str(
      tmp_path / "data")).info.metadata["build_summary"]
  assert summary["skipped_before_reading"] == {
      "never_train_performer": 1, "no_annotation": 1, "no_split": 1,
      "no_video": 1}
  assert summary["splits"]["train"]["skipped"] == {
      build_summary.ANNOTATION_MISMATCH: 1}
  assert summary["splits"]["test"]["skipped"] == {build_summary.ANNOTATION: 1}
  assert summary["splits"]["train"]["performers"] == [3]
  assert summary["splits"]["test"]["performers"] == [1, 4]
  assert summary["splits"]["test"]["examples"] == 3
  messages = caplog.text
  for needle in (
      f"Skipping {layout.RGB_DIR}/{names[1, 2]}_rgb.avi: no annotation",
      f"{names[3, 2]}_rgb.teacher.npz: 5 frames but",
      f"{names[4, 2]}_rgb.teacher.npz: not a readable .npz",
      "S001C003P004R001A023_rgb.teacher.npz: no video",
      f"Excluding train/{names[1, 2]}_rgb.avi from training: performer "
      "P001",
      "Skipping other/odd.avi: no split"):
    assert needle in messages, needle

  # What is stored: 1920x1080 fitted into 360x640, joints in stored pixels,
  # absent joints at 0 with state 0 and confidence 0, no Kinect 3D.
  _, ex = stored[f"{layout.RGB_DIR}/{names[3, 1]}_rgb.avi"]
  assert "joints_3d" not in ex and "second_actor" not in ex
  assert ex["frames"].shape == (6, 360, 640, 3)
  assert tuple(ex["frame_size"]) == layout.RGB_SIZE
  actor = skeleton_file.main_actor(skeleton_file.read_skeleton(
      layout.skeleton_path(source, names[3, 1])))
  found = ex["confidence"] > 0
  np.testing.assert_allclose(ex["joints_2d"][found],
                             actor.color_xy[found] / 3, atol=1e-3)
  assert not found[0].any() and not found[:, 1].any()
  assert not found[:, 20].any() and found[1:, 0].all()
  np.testing.assert_array_equal(ex["tracking_state"], np.where(found, 2, 0))
  assert np.all(ex["joints_2d"][~found] == 0)
  assert set(np.unique(ex["confidence"])) <= {
      0.0, np.float32(teacher_fixtures.TRACKED_CONFIDENCE),
      np.float32(teacher_fixtures.INFERRED_CONFIDENCE)}
  assert json.loads(ex["teacher"])["teacher"] == "fixture"


def test_p001_is_kept_out_of_training_whatever_the_config(
    tmp_path, teacher_manual_dir, caplog):
  source, samples = teacher_manual_dir
  manual = tmp_path / "v"
  for s in samples:
    _link(layout.rgb_path(source, s.name),
          layout.rgb_path(str(manual), s.name))
    teacher_fixtures.label(source, s.name,
                           str(manual / layout.RGB_DIR))
  # Test performers that forget P001: its videos would train.
  found, skipped = teacher_videos.find_samples(str(manual), (4,))
  assert skipped == {"never_train_performer": 2}
  assert {s.performer for s in found if s.train} == {3}
  assert "performer P001 is never trained on" in caplog.text
  # The documented split: P001 and P004 test, P003 trains.
  found, skipped = teacher_videos.find_samples(
      str(manual), layout.TEACHER_TEST_PERFORMERS)
  assert not skipped
  assert {s.performer for s in found if s.train} == {3}
  assert {s.performer for s in found if not s.train} == {1, 4}


def test_frame_size_mismatch_names_both_files(tmp_path, teacher_manual_dir):
  source, samples = teacher_manual_dir
  name = samples[0].name
  kp, conf, score, _ = teacher_fixtures.annotation_from_skeleton(
      layout.skeleton_path(source, name))
  path = str(tmp_path / "x.teacher.npz")
  teacher_fixtures.write(path, "x", kp, conf, score, (720, 1280))
  sample = teacher_videos.TeacherSample(
      key="x", name=name, video=layout.rgb_path(source, name),
      annotation=path, train=False)
  with pytest.raises(build_summary.SampleError) as e:
    teacher_videos.read_example(sample, 360, 640)
  assert e.value.reason == build_summary.ANNOTATION_MISMATCH
  assert "x.teacher.npz: frame_size (720, 1280) but the frames of" in str(
      e.value) and f"{name}_rgb.avi are (1080, 1920)" in str(e.value)


@pytest.mark.skipif(not os.path.isdir(_SHARED_CLIPS),
                    reason=f"{_SHARED_CLIPS} (the real unlabelled clips) is "
                    "not on this machine")
def test_shared_real_clips_split_by_performer(tmp_path):
  # Only the listing: the annotations are placeholders, never read.
  manual = tmp_path / "real"
  manual.mkdir()
  os.symlink(_SHARED_CLIPS, manual / layout.RGB_DIR)
  labels = manual / teacher_videos.LABELS_DIR
  labels.mkdir()
  for f in os.listdir(_SHARED_CLIPS):
    (labels / teacher_format.annotation_path(f).name).write_bytes(b"")
  found, skipped = teacher_videos.find_samples(
      str(manual), layout.TEACHER_TEST_PERFORMERS)
  assert not skipped
  train = sorted(s.performer for s in found if s.train)
  test = sorted(s.performer for s in found if not s.train)
  assert set(train) == {3, 6} and len(train) == 15
  assert set(test) == {4, 7, 11} and len(test) == 4


# ---------------------------------------------------- training on a mix --
def _mixed_config(smoke_data_dir, fraction=0.25):
  config = rgb_gru.get_config("smoke")
  with config.unlocked():
    config.dataset.data_dir = smoke_data_dir
    config.dataset.mix_builder_config = "teacher_rgb"
    config.dataset.mix_fraction = fraction
  return config


@pytest.mark.parametrize("fraction,batch,count", [
    (0.25, 8, 2), (0.25, 2, 1), (0.5, 3, 2), (1.0, 4, 4), (0.3, 4, 1)])
def test_mix_count_rounds_half_up(fraction, batch, count):
  config = _mixed_config(None, fraction)
  assert input_pipeline.mix_count(config, batch) == count


def test_mix_count_refuses_what_would_not_mix():
  config = _mixed_config(None, 0.1)
  with pytest.raises(ValueError, match="rounds to none"):
    input_pipeline.mix_count(config, 4)
  with config.unlocked():
    config.dataset.mix_fraction = 0.0
  with pytest.raises(ValueError, match=r"not in \(0, 1\]"):
    input_pipeline.mix_count(config, 4)
  with config.unlocked():
    config.dataset.mix_builder_config = ""
  assert input_pipeline.mix_count(config, 4) == 0


def _is_teacher_clip(confidence):
  """The fixture teacher's confidences are 0.9 / 0.4; Kinect's are 1."""
  c = confidence[confidence > 0]
  return bool(np.all(c < 1.0))


def test_every_mixed_batch_holds_exactly_its_share(
    smoke_builder, teacher_builder, smoke_data_dir):
  config = _mixed_config(smoke_data_dir, 0.25)
  builder = smoke_builder("rgb")
  mix = input_pipeline.get_mix_builder(config)
  assert mix.info.full_name == teacher_builder.info.full_name
  ds = input_pipeline.train_dataset(config, builder, 4, mix)
  seen = 0
  for batch in input_pipeline.as_numpy(ds.take(5)):
    teacher = [_is_teacher_clip(c) for c in batch["confidence"]]
    # Exactly round(0.25 x 4) = 1 clip per batch, the last one.
    assert teacher == [False, False, False, True]
    mixed = {k: v[3] for k, v in batch.items()}
    assert batch["frames"].shape[0] == 4
    # Absent joints carry no ground truth and weigh nothing.
    for j in teacher_fixtures.ABSENT_JOINTS:
      assert not mixed["tracking_state"][:, j].any()
    assert np.all(mixed["confidence"][mixed["tracking_state"] == 0] == 0)
    seen += 1
  assert seen == 5
  # Unmixed, the main stream is what it was.
  plain = next(input_pipeline.as_numpy(
      input_pipeline.train_dataset(config, builder, 3)))
  np.testing.assert_array_equal(plain["confidence"],
                                (plain["tracking_state"] > 0).astype(
                                    np.float32))
  # (A fresh dataset: a second iterator over `ds` reshuffles.)
  first = next(input_pipeline.as_numpy(
      input_pipeline.train_dataset(config, builder, 4, mix)))
  np.testing.assert_array_equal(plain["joints"], first["joints"][:3])


def test_tracking_simulation_ignores_absent_joints(teacher_builder,
                                                   smoke_data_dir):
  config = _mixed_config(smoke_data_dir)
  with config.unlocked():
    config.input.clip_length = 4
  example = next(iter(teacher_builder.as_dataset(
      split="train", decoders={"frames": tfds.decode.SkipDecoding()})))
  h, w, c, modality = input_pipeline.frame_spec(teacher_builder)
  clip = input_pipeline.make_clip_fn(config, (h, w), c, modality, False)(
      example, tf.constant(0), tf.constant([1, 2], tf.int64))
  joints = example["joints_2d"].numpy()[:4]
  found = example["tracking_state"].numpy()[:4] > 0
  input_hw = tuple(config.input.input_size)
  whole = roi.whole_frame((h, w), input_hw)
  rois = clip["rois"].numpy()
  # Frame 0 has nobody, so frame 1 (following it) sees the whole frame.
  np.testing.assert_allclose(rois[1], whole, atol=1e-3)
  # Later frames bound the previous frame's found joints only: the absent
  # ones, stored at (0, 0), would drag the box to the corner.
  fitted = roi.from_keypoints(
      joints[1:3], found[1:3], input_hw, config.input.crop.margin,
      config.input.crop.min_height_fraction * whole[2])
  np.testing.assert_allclose(rois[2:4], fitted, rtol=1e-4)
  with_absent = roi.from_keypoints(
      joints[1:3], np.ones_like(found[1:3]), input_hw,
      config.input.crop.margin,
      config.input.crop.min_height_fraction * whole[2])
  assert np.abs(with_absent - rois[2:4]).max() > 10


# ----------------------------------------------------------------- loss --
def test_confidence_weights_the_loss_and_absent_joints_weigh_nothing():
  hw, stride = (12, 10), 4
  rng = np.random.default_rng(0)
  joints = rng.uniform(4, 30, (2, 1, 25, 2)).astype(np.float32)
  outputs = {
      "heatmaps": jnp.asarray(rng.normal(size=(2, 1, *hw, 25)), jnp.float32),
      "offsets": jnp.asarray(rng.normal(size=(2, 1, *hw, 25, 2)),
                             jnp.float32),
  }
  kw = dict(stride=stride, sigma=1.0, offset_weight=1.0, inferred_weight=0.5)
  state = np.full((2, 1, 25), 2, np.int32)
  confidence = rng.uniform(0.2, 1.0, (2, 1, 25)).astype(np.float32)
  absent = np.zeros((2, 1, 25), bool)
  absent[:, :, [1, 20]] = True
  absent[1, :, 5] = True
  confidence[absent] = 0.0
  state_t = np.where(absent, 0, state)

  def per_joint(b, j):
    one = np.zeros_like(state)
    one[b, :, j] = 2
    return float(losses.pose_loss(outputs, joints, one, **kw)[0])

  expected = sum(confidence[b, 0, j] * per_joint(b, j)
                 for b in range(2) for j in range(25)) / confidence.sum()
  loss, _ = losses.pose_loss(outputs, joints, state_t, confidence=confidence,
                             **kw)
  assert float(loss) == pytest.approx(expected, rel=1e-4)
  # Moving an absent joint anywhere changes nothing.
  moved = joints.copy()
  moved[absent] = 1e3
  again, _ = losses.pose_loss(outputs, moved, state_t, confidence=confidence,
                              **kw)
  assert float(again) == pytest.approx(float(loss), rel=1e-6)
  # One rule for both: Kinect's inferred weight times the confidence.
  weights = losses.joint_weights(np.array([0, 1, 2]), 0.5,
                                 np.array([0.8, 0.8, 0.8]))
  np.testing.assert_allclose(weights, [0.0, 0.4, 0.8])
  # Without confidence the Kinect weights are unchanged.
  np.testing.assert_allclose(losses.joint_weights(np.array([0, 1, 2]), 0.5),
                             [0.0, 0.5, 1.0])


# ------------------------------------------------------------ evaluation --
@pytest.mark.slow
def test_evaluate_on_the_teacher_test_split(smoke_workdir, teacher_builder):
  res = evaluate.evaluate(smoke_workdir, builder_config="teacher_rgb",
                          rois="oracle")
  out = os.path.join(smoke_workdir, "eval_teacher_rgb_test_oracle")
  with open(os.path.join(out, "metrics.json")) as f:
    saved = json.load(f)
  assert saved["split"] == "test" and saved["dataset"] == (
      "tfds_ntu/teacher_rgb")
  test = list(tfds.as_numpy(teacher_builder.as_dataset(split="test")))
  assert saved["num_videos"] == len(test) == 4
  # Only the joints the teacher gave count; no torso joint of the spine is
  # there, so every frame with a person is normalised hips-to-shoulders.
  expected = sum(int((ex["tracking_state"] > 0).sum()) for ex in test)
  assert res["all"]["count"] == expected > 0
  # A teacher build stores one person: no video is scored against another.
  assert res["two_person_videos"] == res["followed_second_performer"] == 0
  per_joint = res["all"]["per_joint_pck@0.2"]
  for j in teacher_fixtures.ABSENT_JOINTS:
    assert per_joint[skeleton.JOINT_NAMES[j]] is None
  metric_checks.assert_consistent_pck(saved)
  # Pixels of the video's own 1920x1080 frames.
  assert res["pixels"] == "original sensor pixels"


@pytest.mark.slow
def test_trains_on_a_mix_and_the_variant_says_how(smoke_builder,
                                                   teacher_builder,
                                                   smoke_data_dir, tmp_path):
  from bodypose_jax import train  # pylint: disable=g-import-not-at-top

  smoke_builder("rgb")
  config = _mixed_config(smoke_data_dir, 0.5)
  with config.unlocked():
    config.num_train_steps = 4
    config.eval_every_steps = 4
    config.checkpoint_every_steps = 4
    config.log_every_steps = 1
  metrics = train.train_and_evaluate(config, str(tmp_path / "run"))
  assert metrics["num_joints_evaluated"] > 0
  with open(tmp_path / "run" / "config.json") as f:
    saved = json.load(f)["dataset"]
  assert saved["mix_builder_config"] == "teacher_rgb"
  assert teacher_builder.info.splits["train"].num_examples == 2

  mixed = rgb_gru.get_config("mixed")
  synthetic = rgb_gru.get_config("synthetic")
  assert mixed.dataset.mix_builder_config == "teacher_rgb"
  assert synthetic.dataset.mix_builder_config == ""
  assert input_pipeline.mix_count(mixed, mixed.batch_size) == 2
  # Built on :synthetic: only the mix differs.
  differ = {k for k, v in mixed.items() if synthetic[k] != v}
  assert differ == {"dataset"}
  with pytest.raises(AttributeError):  # locked, as every variant
    mixed.dataset.mix_fractoin = 0.5
  from configs import depth_gru  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="no teacher-labelled|there is none"):
    depth_gru.get_config("mixed")
