"""The tf.data pipeline on the tiny synthetic set."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from bodypose_jax import input_pipeline
from bodypose_jax import skeleton
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


def test_flip_mirrors_frames_and_swaps_joint_labels(smoke_builder):
  config = rgb_gru.get_config("smoke")
  builder = smoke_builder("rgb")
  h, w, c, modality = input_pipeline.frame_spec(builder)
  example = _first_example(builder)
  clips = {}
  with config.unlocked():
    a = config.input.augment
    a.scale, a.translate = 1.0, 0.0
    a.brightness, a.contrast, a.saturation = 0.0, 0.0, 0.0
    for flip_prob in (0.0, 1.0):
      a.flip_prob = flip_prob
      clip_fn = input_pipeline.make_clip_fn(
          config, (h, w), c, modality, train=True
      )
      clips[flip_prob] = clip_fn(
          example, tf.constant(0), tf.constant([1, 2], tf.int64)
      )
  plain, flipped = clips[0.0], clips[1.0]
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
