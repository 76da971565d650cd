"""Random access to a build's TFRecord examples, and the training stream
that rests on it: the batch of a step is a function of the config and the
step alone."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from bodypose_jax.data import input_pipeline
from bodypose_jax.data import random_access
from configs import rgb_gru


def _names(builder, records):
  return [
      builder.info.features.deserialize_example(tf.constant(records[i]))[
          "name"
      ].numpy()
      for i in range(len(records))
  ]


@pytest.mark.parametrize("split", ["xsub_train", "xsub_train[1:4]"])
def test_example_i_is_the_ith_as_dataset_yields(smoke_builder, split):
  builder = smoke_builder("rgb")
  records = random_access.SplitRecords(builder, split)
  stored = [e["name"] for e in tfds.as_numpy(builder.as_dataset(split=split))]
  assert len(records) == len(stored) > 0
  assert _names(builder, records) == stored


def test_a_truncated_file_is_named(smoke_builder, tmp_path):
  builder = smoke_builder("rgb")
  (ins,) = builder.info.splits["xsub_test"].file_instructions
  bad = str(tmp_path / os.path.basename(ins.filename))
  shutil.copy(ins.filename, bad)
  with open(bad, "r+b") as f:
    f.truncate(os.path.getsize(bad) - 100)
  with pytest.raises(ValueError, match=f"{bad}: the record at byte .* runs "
                     "past the end of the file"):
    random_access._record_spans(bad)


def test_each_epoch_visits_every_example_once_in_its_own_order():
  orders = [input_pipeline.epoch_order(0, 0, e, 50) for e in range(3)]
  for order in orders:
    assert sorted(order) == list(range(50))
  assert not np.array_equal(orders[0], orders[1])
  np.testing.assert_array_equal(
      orders[2], input_pipeline.epoch_order(0, 0, 2, 50))
  # Another seed, or the mixed-in stream, draws its own orders.
  assert not np.array_equal(orders[0], input_pipeline.epoch_order(1, 0, 0, 50))
  assert not np.array_equal(orders[0], input_pipeline.epoch_order(0, 1, 0, 50))


def test_a_step_reads_the_same_clips_whatever_the_process_count():
  one = [list(input_pipeline.stream_positions(s, 8, 8, 0)) for s in (0, 5)]
  two = [
      [g for p in (0, 1) for g in input_pipeline.stream_positions(s, 8, 4, p)]
      for s in (0, 5)
  ]
  assert one == two == [list(range(8)), list(range(40, 48))]


def test_a_stream_started_at_a_step_reads_what_an_unbroken_one_reads(
    smoke_builder,
):
  config = rgb_gru.get_config("smoke")
  builder = smoke_builder("rgb")
  size = len(random_access.SplitRecords(builder, config.dataset.train_split))
  batch = 3
  # Far enough to cross an epoch boundary.
  steps = size // batch + 2
  unbroken = input_pipeline.as_numpy(
      input_pipeline.train_dataset(config, builder, batch))
  expected = [next(unbroken) for _ in range(steps + 1)]
  for start in (1, steps - 1):
    resumed = input_pipeline.as_numpy(
        input_pipeline.train_dataset(config, builder, batch, start_step=start))
    for want in expected[start:start + 2]:
      got = next(resumed)
      for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
  with config.unlocked():
    config.seed += 1
  other = next(input_pipeline.as_numpy(
      input_pipeline.train_dataset(config, builder, batch)))
  assert not np.array_equal(other["frames"], expected[0]["frames"])
