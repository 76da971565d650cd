"""tf.data input pipeline: NTU sequences -> augmented clips -> host batches.

Each TFDS example is one whole NTU sample (a video with its skeletons). The
pipeline cuts clips of `clip_length` frames, decodes only those frames, maps
them into the model's input frame with one affine transform per clip (scale,
translate, horizontal flip with the left/right joints swapped), applies
photometric jitter (RGB) or sensor noise (depth), and normalises. Heatmap
targets are built from the joints on the device, inside the loss, so the host
ships joints rather than `[h, w, 25]` maps per frame.
"""

import os
from typing import Iterator

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from bodypose_jax import skeleton


def get_builder(config: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
  """The TFDS builder for `config.dataset`, prepared.

  Synthetic builder configs render and build themselves on first use; real
  NTU RGB+D must be built beforehand, and a missing build stops here with the
  command that builds it.
  """
  # Imported here, not at the top: importing registers the builder.
  import tfds_ntu  # pylint: disable=g-import-not-at-top,unused-import

  ds = config.dataset
  builder = tfds.builder(f"{ds.name}/{ds.builder_config}", data_dir=ds.data_dir)
  if builder.is_prepared():
    return builder
  if ds.builder_config.startswith("synthetic"):
    logging.info(
        "Rendering and building %s/%s into %s (first use).",
        ds.name,
        ds.builder_config,
        builder.data_dir,
    )
    builder.download_and_prepare()
    return builder
  data_dir = ds.data_dir or "~/tensorflow_datasets"
  raise FileNotFoundError(
      f"Dataset {ds.name}/{ds.builder_config} is not built in {data_dir} "
      f"(looked for {builder.data_dir}). Build it from the repository root "
      f"with:\n  {build_command(ds.builder_config, data_dir)}\n"
      "where /path/to/ntu_rgbd holds the NTU RGB+D folders "
      "(nturgb+d_rgb, nturgb+d_depth_masked, nturgbd_skeletons). Or train on "
      "the synthetic set: --config=configs/<name>.py:synthetic"
  )


def build_command(builder_config: str, data_dir: str | None = None) -> str:
  """The command, run from the repository root, that builds tfds_ntu's
  `builder_config` into `data_dir` (None: TFDS's default); real data is read
  from `--manual_dir`, written here as /path/to/ntu_rgbd."""
  manual = ""
  if not builder_config.startswith("synthetic"):
    manual = " --manual_dir=/path/to/ntu_rgbd"
  return (
      f"tfds build tfds_ntu --config={builder_config}{manual} "
      f"--data_dir={data_dir or '~/tensorflow_datasets'}"
  )


def modality(config: ml_collections.ConfigDict) -> tuple[str, int]:
  """('rgb', 3) or ('depth', 1): what `config.dataset` stores, unbuilt."""
  import tfds_ntu  # pylint: disable=g-import-not-at-top

  configs = {c.name: c for c in tfds_ntu.Builder.BUILDER_CONFIGS}
  name = config.dataset.builder_config
  if name not in configs:
    raise ValueError(
        f"Unknown builder config {name!r}; tfds_ntu has {sorted(configs)}."
    )
  stored = configs[name].modality
  if stored in ("rgbd", "ir"):
    # Every consumer of the modality (augmentation, normalisation, export,
    # demo) knows colour and depth only; training on these is not built.
    raise ValueError(
        f"Builder config {name!r} stores {stored} frames; the trainer reads "
        "colour or depth: use an 'rgb' or a depth config."
    )
  return ("rgb", 3) if stored == "rgb" else ("depth", 1)


def frame_spec(builder: tfds.core.DatasetBuilder) -> tuple[int, int, int, str]:
  """(height, width, channels, modality) of the stored frames."""
  feature = builder.info.features["frames"]
  _, h, w, c = feature.shape
  return h, w, c, ("rgb" if c == 3 else "depth")


def _decode_frames(encoded, channels: int):
  """Decodes the selected frames: [T] strings -> [T, H, W, C] float32."""
  if channels == 3:
    dtype, decode = tf.uint8, lambda b: tf.io.decode_jpeg(b, channels=3)
  else:
    dtype = tf.uint16
    decode = lambda b: tf.io.decode_png(b, channels=1, dtype=tf.uint16)
  frames = tf.map_fn(decode, encoded, fn_output_signature=dtype)
  return tf.cast(frames, tf.float32)


def _clip_indices(num_frames, start, clip_length: int, frame_stride: int):
  """Frame indices of one clip; short sequences repeat their last frame."""
  idx = start + tf.range(clip_length) * frame_stride
  return tf.minimum(idx, num_frames - 1)


def _affine(stored_hw, input_hw, scale, shift, flip):
  """3x3 matrix taking stored-frame pixels to input pixels.

  The stored frame is fitted inside the input frame (aspect kept), scaled by
  `scale` about the centre, shifted by `shift` (fractions of the input size),
  and mirrored when `flip` is set.
  """
  sh, sw = tf.cast(stored_hw[0], tf.float32), tf.cast(stored_hw[1], tf.float32)
  ih, iw = float(input_hw[0]), float(input_hw[1])
  s = tf.minimum(ih / sh, iw / sw) * scale
  tx = (iw - 1) / 2 + shift[0] * iw - s * (sw - 1) / 2
  ty = (ih - 1) / 2 + shift[1] * ih - s * (sh - 1) / 2
  m = tf.stack([[s, 0.0, tx], [0.0, s, ty], [0.0, 0.0, 1.0]])
  mirror = tf.constant([[-1.0, 0.0, iw - 1], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
  return tf.cond(flip, lambda: mirror @ m, lambda: m)


def _warp(frames, matrix, input_hw, interpolation: str):
  """Applies `matrix` (stored -> input) to every frame: [T, H, W, C]."""
  inv = tf.linalg.inv(matrix)
  params = tf.reshape(inv, [9])[:8] / inv[2, 2]
  params = tf.tile(params[None], [tf.shape(frames)[0], 1])
  return tf.raw_ops.ImageProjectiveTransformV3(
      images=frames,
      transforms=params,
      output_shape=tf.constant(input_hw, tf.int32),
      fill_value=0.0,
      interpolation=interpolation,
      fill_mode="CONSTANT",
  )


def _transform_joints(joints, tracking_state, matrix, flip, input_hw):
  """Maps joints with `matrix`; swaps left/right labels when flipped.

  Joints that land outside the input frame lose their ground truth
  (tracking state 0).
  """
  ones = tf.ones_like(joints[..., :1])
  joints = tf.einsum("ij,tkj->tki", matrix, tf.concat([joints, ones], -1))[
      ..., :2
  ]
  perm = tf.constant(skeleton.FLIP_PERMUTATION)
  joints, tracking_state = tf.cond(
      flip,
      lambda: (
          tf.gather(joints, perm, axis=1),
          tf.gather(tracking_state, perm, axis=1),
      ),
      lambda: (joints, tracking_state),
  )
  h, w = input_hw
  inside = (
      (joints[..., 0] >= 0)
      & (joints[..., 0] <= w - 1)
      & (joints[..., 1] >= 0)
      & (joints[..., 1] <= h - 1)
  )
  return joints, tf.where(inside, tracking_state, tf.zeros_like(tracking_state))


def _photometric(frames, seed, cfg):
  """Per-clip brightness, contrast and saturation jitter on [0, 255] RGB."""
  seeds = tf.random.experimental.stateless_split(seed, 3)
  x = frames / 255.0
  x = x + tf.random.stateless_uniform(
      [], seeds[0], -cfg.brightness, cfg.brightness
  )
  mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
  contrast = tf.random.stateless_uniform(
      [], seeds[1], 1 - cfg.contrast, 1 + cfg.contrast
  )
  x = (x - mean) * contrast + mean
  grey = tf.reduce_mean(x, axis=-1, keepdims=True)
  saturation = tf.random.stateless_uniform(
      [], seeds[2], 1 - cfg.saturation, 1 + cfg.saturation
  )
  x = (x - grey) * saturation + grey
  return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def _depth_noise(frames, seed, cfg):
  """Gaussian noise (mm) on measured depth; zero (no reading) stays zero."""
  noise = (
      tf.random.stateless_normal(tf.shape(frames), seed) * cfg.depth_noise_mm
  )
  return tf.where(frames > 0, tf.maximum(frames + noise, 1.0), frames)


def normalise(frames, modality: str, cfg):
  """Raw frames (RGB 0..255, depth mm) -> the model's input scale.

  Plain arithmetic, so the same function serves tf.data and JAX (export).
  """
  if modality == "rgb":
    return (frames / 255.0 - cfg.rgb_mean) / cfg.rgb_std
  return (frames / 1000.0 - cfg.depth_mean_m) / cfg.depth_std_m


def make_clip_fn(
    config: ml_collections.ConfigDict,
    stored_hw,
    channels: int,
    modality: str,
    train: bool,
    whole: bool = False,
    raw: bool = False,
):
  """Returns fn(example, start, seed) -> one clip dict (see `train_dataset`).

  Args:
    whole: take every frame from `start` on instead of `clip_length` frames.
    raw: leave frames in sensor units (RGB 0..255, depth mm) for models that
      normalise inside, such as the exported TFLite step.
  """
  cfg = config.input
  input_hw = tuple(cfg.input_size)
  interpolation = "BILINEAR" if modality == "rgb" else "NEAREST"

  def clip_fn(example, start, seed):
    n = tf.shape(example["joints_2d"])[0]
    length = n - start if whole else cfg.clip_length
    idx = _clip_indices(n, start, length, 1 if whole else cfg.frame_stride)
    frames = _decode_frames(tf.gather(example["frames"], idx), channels)
    joints = tf.gather(example["joints_2d"], idx)
    state = tf.gather(example["tracking_state"], idx)
    seeds = tf.random.experimental.stateless_split(seed, 5)
    if train:
      a = cfg.augment
      scale = tf.exp(
          tf.random.stateless_uniform(
              [], seeds[0], -np.log(a.scale), np.log(a.scale)
          )
      )
      shift = tf.random.stateless_uniform(
          [2], seeds[1], -a.translate, a.translate
      )
      flip = tf.random.stateless_uniform([], seeds[2]) < a.flip_prob
    else:
      scale, shift, flip = 1.0, tf.zeros([2]), tf.constant(False)
    matrix = _affine(stored_hw, input_hw, scale, shift, flip)
    frames = _warp(frames, matrix, input_hw, interpolation)
    joints, state = _transform_joints(joints, state, matrix, flip, input_hw)
    if train and modality == "rgb":
      frames = _photometric(frames, seeds[3], cfg.augment)
    elif train:
      frames = _depth_noise(frames, seeds[4], cfg.augment)
    if not raw:
      frames = normalise(frames, modality, cfg)
    frames.set_shape([None if whole else cfg.clip_length, *input_hw, channels])
    return {"frames": frames, "joints": joints, "tracking_state": state}

  return clip_fn


def _span(config):
  return (config.input.clip_length - 1) * config.input.frame_stride + 1


def check_split(builder: tfds.core.DatasetBuilder, split: str) -> None:
  """Raises ValueError unless every split `split` reads has examples.

  `split` is a TFDS split string ("xsub_train", "xsub_train[:10%]", "a+b").
  A real build from a subset of NTU's setups leaves out the splits that no
  sample belongs to (one setup: one side of "xset"); the build summary lists
  them in `empty_splits`, and the error says so rather than TFDS's bare
  "Unknown split".
  """
  splits = builder.info.splits
  summary = (builder.info.metadata or {}).get("build_summary") or {}
  empty = summary.get("empty_splits", [])
  where = os.path.join(builder.data_dir, "metadata.json")
  for part in split.split("+"):
    base = part.split("[")[0].strip()
    if base in splits and splits[base].num_examples:
      continue
    if base in empty:
      raise ValueError(
          f"Split {base!r} of {builder.info.full_name} is empty: no sample "
          "of the build's manual dir belongs to it, so it was not stored "
          f"(build summary in {where}: empty_splits {empty}). Build from "
          "samples on both sides of the protocol (for xset: even and odd "
          f"setups), or use a split the build holds: {sorted(splits)}."
      )
    if base in splits:
      raise ValueError(
          f"Split {base!r} of {builder.info.full_name} has no example "
          f"(build summary in {where})."
      )
    known = f"it has {sorted(splits)}"
    if empty:
      known += f" (build summary in {where}: empty_splits {empty})"
    raise ValueError(
        f"Unknown split {base!r} of {builder.info.full_name}; {known}."
    )


def _load(builder, split: str, shuffle: bool, seed: int):
  check_split(builder, split)
  return builder.as_dataset(
      split=tfds.split_for_jax_process(split),
      shuffle_files=shuffle,
      decoders={"frames": tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(shuffle_seed=seed),
  )


def train_dataset(config, builder, local_batch_size: int) -> tf.data.Dataset:
  """Endless shuffled augmented clips, one random clip per sample visit.

  Elements: frames [b, T, H, W, C] float32, joints [b, T, J, 2] float32 (input
  pixels), tracking_state [b, T, J] int32, with b = `local_batch_size`.
  """
  h, w, c, modality = frame_spec(builder)
  clip_fn = make_clip_fn(config, (h, w), c, modality, train=True)
  span = _span(config)

  def sample(index, example):
    seed = tf.stack([tf.cast(config.seed, tf.int64), index])
    n = tf.shape(example["joints_2d"])[0]
    start = tf.random.stateless_uniform(
        [], seed, 0, tf.maximum(n - span, 0) + 1, dtype=tf.int32
    )
    return clip_fn(example, start, seed + 1)

  ds = _load(builder, config.dataset.train_split, True, config.seed)
  ds = ds.cache() if config.dataset.cache else ds
  ds = ds.repeat().shuffle(config.dataset.shuffle_buffer, seed=config.seed)
  ds = ds.enumerate().map(sample, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(local_batch_size, drop_remainder=True).prefetch(
      config.dataset.prefetch
  )


def eval_dataset(config, builder, local_batch_size: int) -> tf.data.Dataset:
  """Deterministic clips, `eval_clips_per_sample` evenly spaced per sample.

  The last batch is padded with clips whose tracking state is all zero, so
  every batch has the same shape and padding never counts in the metrics.
  """
  h, w, c, modality = frame_spec(builder)
  clip_fn = make_clip_fn(config, (h, w), c, modality, train=False)
  span, k = _span(config), config.eval_clips_per_sample

  def clips(example):
    n = tf.shape(example["joints_2d"])[0]
    last = tf.maximum(n - span, 0)
    starts = tf.cast(
        tf.round(tf.linspace(0.0, tf.cast(last, tf.float32), k)), tf.int32
    )
    seeds = tf.zeros([k, 2], tf.int64)
    examples = tf.data.Dataset.from_tensors(example).repeat(k)
    return tf.data.Dataset.zip(
        (examples, tf.data.Dataset.from_tensor_slices((starts, seeds)))
    ).map(lambda e, s: clip_fn(e, s[0], s[1]))

  ds = _load(builder, config.dataset.eval_split, False, config.seed)
  ds = ds.flat_map(clips)
  ds = ds.batch(local_batch_size, drop_remainder=False)
  return ds.map(lambda b: _pad_batch(b, local_batch_size)).prefetch(
      config.dataset.prefetch
  )


def sequence_dataset(config, builder, split: str) -> tf.data.Dataset:
  """Whole samples in eval geometry, frames in sensor units, in split order.

  For streaming models that carry their state over every frame of a video.
  Elements: frames [N, H, W, C] float32 (RGB 0..255 or depth mm), joints
  [N, J, 2] float32 in input pixels, tracking_state [N, J] int32; N varies.
  """
  h, w, c, modality = frame_spec(builder)
  clip_fn = make_clip_fn(
      config, (h, w), c, modality, train=False, whole=True, raw=True
  )
  ds = _load(builder, split, False, config.seed)
  return ds.map(lambda e: clip_fn(e, 0, tf.zeros([2], tf.int64)))


def _pad_batch(batch, size: int):
  pad = size - tf.shape(batch["frames"])[0]

  def pad_one(x):
    paddings = tf.concat(
        [[[0, pad]], tf.zeros([tf.rank(x) - 1, 2], tf.int32)], 0
    )
    return tf.pad(x, paddings)

  out = {k: pad_one(v) for k, v in batch.items()}
  for v in out.values():
    v.set_shape([size, *v.shape[1:]])
  return out


def as_numpy(ds: tf.data.Dataset) -> Iterator[dict]:
  """Host batches as numpy arrays."""
  return iter(tfds.as_numpy(ds))
