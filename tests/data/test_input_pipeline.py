"""The tf.data pipeline on the tiny synthetic set."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from bodypose_jax.data import input_pipeline
from bodypose_jax.data import roi
from bodypose_jax.model import skeleton
from configs import rgb_gru, depth_gru


def _first_example(builder):
  ds = builder.as_dataset(
      split="xsub_train", decoders={"frames": tfds.decode.SkipDecoding()}
  )
  return next(iter(ds))


@pytest.mark.parametrize(
    "modality,get_config",
    [("rgb", rgb_gru.get_config), ("depth", depth_gru.get_config)],
)
def test_train_batches(smoke_builder, modality, get_config):
  config = get_config("smoke")
  builder = smoke_builder(modality)
  batch = next(
      input_pipeline.as_numpy(
          input_pipeline.train_dataset(config, builder, local_batch_size=3)
      )
  )
  h, w = config.input.input_size
  t = config.input.clip_length
  channels = 3 if modality == "rgb" else 1
  assert batch["frames"].shape == (3, t, h, w, channels)
  assert batch["frames"].dtype == np.float32
  assert batch["joints"].shape == (3, t, skeleton.NUM_JOINTS, 2)
  assert batch["tracking_state"].shape == (3, t, skeleton.NUM_JOINTS)
  known = batch["tracking_state"] > 0
  assert known.mean() > 0.5
  xy = batch["joints"][known]
  assert np.all((xy >= 0) & (xy <= [w - 1, h - 1]))


def _clips(config, builder, train=True, **augment):
  h, w, c, modality = input_pipeline.frame_spec(builder)
  with config.unlocked():
    config.input.augment.update(augment)
  clip_fn = input_pipeline.make_clip_fn(config, (h, w), c, modality, train)
  return clip_fn(
      _first_example(builder), tf.constant(0), tf.constant([1, 2], tf.int64)
  )


def _without_noise(config):
  with config.unlocked():
    a, c = config.input.augment, config.input.crop
    a.brightness, a.contrast, a.saturation = 0.0, 0.0, 0.0
    c.centre_noise, c.scale_noise, c.whole_frame_prob = 0.0, 0.0, 0.0
  return config


def test_flip_mirrors_frames_and_swaps_joint_labels(smoke_builder):
  builder = smoke_builder("rgb")
  config = _without_noise(rgb_gru.get_config("smoke"))
  plain = _clips(config, builder, flip_prob=0.0)
  flipped = _clips(config, builder, flip_prob=1.0)
  np.testing.assert_allclose(
      flipped["frames"].numpy(), plain["frames"].numpy()[:, :, ::-1], atol=1e-3
  )
  iw = config.input.input_size[1]
  perm = skeleton.FLIP_PERMUTATION
  expect = plain["joints"].numpy()[:, perm]
  expect[..., 0] = iw - 1 - expect[..., 0]
  np.testing.assert_allclose(flipped["joints"].numpy(), expect, atol=1e-3)
  np.testing.assert_array_equal(
      flipped["tracking_state"].numpy(),
      plain["tracking_state"].numpy()[:, perm],
  )


def test_roi_crops_follow_the_previous_frames_pose(smoke_builder):
  """Without noise, frame t is cropped around frame t-1's ground truth:
  the person fills the crop, which the whole frame never does."""
  builder = smoke_builder("rgb")
  config = _without_noise(rgb_gru.get_config("smoke"))
  clip = _clips(config, builder, train=False)
  h, w, c, _ = input_pipeline.frame_spec(builder)
  example = _first_example(builder)
  t = config.input.clip_length
  truth = example["joints_2d"].numpy()[:t]
  known = example["tracking_state"].numpy()[:t] > 0
  rois = clip["rois"].numpy()
  reference = np.concatenate([truth[:1], truth[:-1]])
  ref_known = np.concatenate([known[:1], known[:-1]])
  for roi_t, pts, ok in zip(rois, reference, ref_known):
    box = pts[ok]
    assert roi_t[0] == pytest.approx(box[:, 0].min() / 2 + box[:, 0].max() / 2,
                                     abs=1e-3)
  whole = roi.whole_frame((h, w), config.input.input_size)
  assert np.all(rois[:, 2] < 0.9 * whole[2])
  # The joints it was cropped around sit inside the crop, with the margin.
  ih, iw = config.input.input_size
  inside = roi.to_input(reference, rois, (ih, iw))[ref_known]
  assert np.all((inside > -0.5) & (inside < [iw - 0.5, ih - 0.5]))


def test_training_rois_jitter_and_start_from_the_whole_frame(smoke_builder):
  builder = smoke_builder("rgb")
  config = _without_noise(rgb_gru.get_config("smoke"))
  exact = _clips(config, builder)["rois"].numpy()
  with config.unlocked():
    config.input.crop.centre_noise = 0.1
    config.input.crop.whole_frame_prob = 1.0
  noisy = _clips(config, builder)["rois"].numpy()
  h, w, _, _ = input_pipeline.frame_spec(builder)
  np.testing.assert_allclose(
      noisy[0], roi.whole_frame((h, w), config.input.input_size), rtol=1e-6
  )
  shift = np.abs(noisy[1:, :2] - exact[1:, :2]) / exact[1:, 2:]
  assert 0.0 < shift.mean() < 0.4


def test_eval_batches_are_padded_with_empty_clips(smoke_builder):
  config = rgb_gru.get_config("smoke")
  builder = smoke_builder("rgb")
  num_test = builder.info.splits[config.dataset.eval_split].num_examples
  clips = num_test * config.eval_clips_per_sample
  batch_size = clips + 2
  batches = list(
      input_pipeline.as_numpy(
          input_pipeline.eval_dataset(config, builder, batch_size)
      )
  )
  assert len(batches) == 1
  state = batches[0]["tracking_state"]
  assert state.shape[0] == batch_size
  assert np.all(state[clips:] == 0) and np.any(state[:clips] > 0)


def test_whole_videos_carry_the_second_performer_as_stored(smoke_builder):
  builder = smoke_builder("rgb")
  config = rgb_gru.get_config("smoke")
  split = config.dataset.eval_split
  stored = tfds.as_numpy(builder.as_dataset(
      split=split, decoders={"frames": tfds.decode.SkipDecoding()}))
  videos = input_pipeline.as_numpy(
      input_pipeline.sequence_dataset(config, builder, split))
  two_person = 0
  for example, video in zip(stored, videos):
    second = example["second_actor"]
    np.testing.assert_array_equal(video["second_joints"], second["joints_2d"])
    np.testing.assert_array_equal(video["second_tracking_state"],
                                  second["tracking_state"])
    two_person += int(second["tracking_state"].any())
  assert two_person > 0


def test_unbuilt_real_dataset_says_how_to_build_it(tmp_path):
  config = rgb_gru.get_config()
  with config.unlocked():
    config.dataset.data_dir = str(tmp_path)
  with pytest.raises(
      FileNotFoundError, match="tfds build tfds_ntu --config=rgb"
  ):
    input_pipeline.get_builder(config)


def test_modality_of_each_builder_config():
  config = rgb_gru.get_config()
  for name, expected in (
      ("rgb", ("rgb", 3)),
      ("depth", ("depth", 1)),
      ("depth_full", ("depth", 1)),
      ("synthetic_depth_full", ("depth", 1)),
  ):
    config.dataset.builder_config = name
    assert input_pipeline.modality(config) == expected
  for name in ("rgbd", "ir"):
    config.dataset.builder_config = name
    with pytest.raises(ValueError, match="the trainer reads colour or depth"):
      input_pipeline.modality(config)
