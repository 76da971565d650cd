"""Random access to the serialized examples of a TFDS split in TFRecord files.

Training draws the clips of step s as a pure function of (seed, s)
(`input_pipeline.train_dataset`), so a resumed run reads exactly what an
unbroken one would have, without replaying the stream or saving a shuffle
buffer. That needs example i of a split on demand. TFDS offers it only for
ArrayRecord builds (`as_data_source`), and ArrayRecord builds cannot be read
by `as_dataset`, which evaluation and every tool use. So this module indexes
the TFRecord files a build already has, as NVIDIA DALI's TFRecord reader
does: one pass over each file's 12-byte record headers gives every record's
offset and length (no payload is read), and a read is then one seek.

TFRecord framing, per record: uint64 length, uint32 masked CRC of the length,
the payload, uint32 masked CRC of the payload (little-endian). TFDS writes
uncompressed files.
"""

import struct

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

_HEADER = 12  # uint64 length + uint32 CRC
_FOOTER = 4  # uint32 CRC


def _record_spans(path: str) -> np.ndarray:
  """[(payload offset, payload length)] of every record of a TFRecord file.

  Raises:
    ValueError: naming the file, when a header is cut short or a record runs
      past the end of the file (a truncated or non-TFRecord file).
  """
  size = tf.io.gfile.stat(path).length
  spans, offset = [], 0
  with tf.io.gfile.GFile(path, "rb") as f:
    while offset < size:
      f.seek(offset)
      header = f.read(8)
      if len(header) < 8:
        raise ValueError(f"{path}: record header cut short at byte {offset}.")
      (length,) = struct.unpack("<Q", header)
      end = offset + _HEADER + length + _FOOTER
      if end > size:
        raise ValueError(
            f"{path}: the record at byte {offset} ({length} bytes) runs past "
            f"the end of the file ({size} bytes); the file is truncated or "
            "not a TFRecord file.")
      spans.append((offset + _HEADER, length))
      offset = end
  return np.array(spans, np.int64).reshape(-1, 2)


class SplitRecords:
  """Example i of a split (any TFDS split string, e.g. 'xsub_train' or
  'train[:10%]'), serialized, in the order `as_dataset` without file
  shuffling yields them.

  `cache=True` keeps every record read in memory, for sets that fit
  (`config.dataset.cache`).
  """

  def __init__(self, builder: tfds.core.DatasetBuilder, split: str,
               cache: bool = False):
    self.name = f"{builder.info.full_name}:{split}"
    self._locations = []  # (path, offset, length) per example
    for ins in builder.info.splits[split].file_instructions:
      spans = _record_spans(ins.filename)
      if len(spans) != ins.examples_in_shard:
        raise ValueError(
            f"{ins.filename}: {len(spans)} records, but the build's "
            f"dataset_info.json says {ins.examples_in_shard}.")
      take = len(spans) - ins.skip if ins.take == -1 else ins.take
      for offset, length in spans[ins.skip:ins.skip + take]:
        self._locations.append((ins.filename, int(offset), int(length)))
    self._cache = {} if cache else None
    self._files = {}

  def __len__(self) -> int:
    return len(self._locations)

  def __getitem__(self, i: int) -> bytes:
    if self._cache is not None and i in self._cache:
      return self._cache[i]
    path, offset, length = self._locations[i]
    f = self._files.get(path)
    if f is None:
      f = self._files[path] = tf.io.gfile.GFile(path, "rb")
    f.seek(offset)
    record = f.read(length)
    if len(record) != length:
      raise ValueError(f"{path}: example {i} of {self.name} cut short.")
    if self._cache is not None:
      self._cache[i] = record
    return record
