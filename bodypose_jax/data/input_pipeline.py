"""tf.data input pipeline: NTU sequences -> augmented clips -> host batches.

Each TFDS example is one whole NTU sample (a video with its skeletons). The
pipeline cuts clips of `clip_length` frames, decodes only those frames, maps
them into the model's input frame with one affine transform per clip (scale,
translate, horizontal flip with the left/right joints swapped), applies
photometric jitter (RGB) or sensor noise (depth), and normalises. Heatmap
targets are built from the joints on the device, inside the loss, so the host
ships joints rather than `[h, w, 25]` maps per frame.

Every clip carries a per-joint `confidence` beside its tracking state: 1 for
Kinect skeletons, the teacher's confidence for teacher-labelled video (the
`teacher_*` builder configs), where absent joints have state 0. The loss
weighs each joint by both (`losses.joint_weights`). Training may draw a
fixed share of every batch from a second, teacher-labelled dataset
(`config.dataset.mix_*`, `train_dataset`).
"""

import math

import os
from typing import Iterator

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from bodypose_jax.data import random_access
from bodypose_jax.data import roi
from bodypose_jax.model import skeleton


def get_builder(
    config: ml_collections.ConfigDict, builder_config: str | None = None
) -> tfds.core.DatasetBuilder:
  """The TFDS builder for `config.dataset` (or its `builder_config`), prepared.

  Synthetic builder configs render and build themselves on first use; real
  NTU RGB+D and teacher-labelled video must be built beforehand, and a
  missing build stops here with the command that builds it.
  """
  # Imported here, not at the top: importing registers the builder.
  import tfds_ntu  # pylint: disable=g-import-not-at-top,unused-import

  ds = config.dataset
  name = builder_config or ds.builder_config
  builder = tfds.builder(f"{ds.name}/{name}", data_dir=ds.data_dir)
  if builder.is_prepared():
    return builder
  if name.startswith("synthetic"):
    logging.info(
        "Rendering and building %s/%s into %s (first use).",
        ds.name,
        name,
        builder.data_dir,
    )
    builder.download_and_prepare()
    return builder
  data_dir = ds.data_dir or "~/tensorflow_datasets"
  if name.startswith("teacher"):
    where = (
        "where /path/to/labelled_videos holds the videos and their "
        "<video stem>.teacher.npz annotations (tfds_ntu/teacher_videos.py)."
    )
  else:
    where = (
        "where /path/to/ntu_rgbd holds the NTU RGB+D folders "
        "(nturgb+d_rgb, nturgb+d_depth_masked, nturgbd_skeletons). Or train "
        "on the synthetic set: --config=configs/<name>.py:synthetic"
    )
  raise FileNotFoundError(
      f"Dataset {ds.name}/{name} is not built in {data_dir} "
      f"(looked for {builder.data_dir}). Build it from the repository root "
      f"with:\n  {build_command(name, data_dir)}\n{where}"
  )


def get_mix_builder(config: ml_collections.ConfigDict):
  """The prepared builder of `config.dataset.mix_builder_config`, or None
  when training does not mix."""
  mix = config.dataset.get("mix_builder_config", "")
  return get_builder(config, mix) if mix else None


def build_command(builder_config: str, data_dir: str | None = None) -> str:
  """The command, run from the repository root, that builds tfds_ntu's
  `builder_config` into `data_dir` (None: TFDS's default); real data is read
  from `--manual_dir`, written here as /path/to/ntu_rgbd (teacher configs:
  /path/to/labelled_videos)."""
  manual = ""
  if builder_config.startswith("teacher"):
    manual = " --manual_dir=/path/to/labelled_videos"
  elif not builder_config.startswith("synthetic"):
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
  return _trainable(configs[name])


def _trainable(builder_config) -> tuple[str, int]:
  """('rgb', 3) or ('depth', 1) for a builder config the model can read.

  The one place that maps what a build stores to what the model reads, for
  the trainer and the tools alike.
  """
  stored = builder_config.modality
  if stored in ("rgbd", "ir"):
    # Every consumer of the modality (augmentation, normalisation, export,
    # demo) knows colour and depth only; training on these is not built.
    raise ValueError(
        f"Builder config {builder_config.name!r} stores {stored} frames; the "
        "trainer reads colour or depth: use an 'rgb' or a depth config."
    )
  return ("rgb", 3) if stored == "rgb" else ("depth", 1)


def original_scale(builder: tfds.core.DatasetBuilder) -> float:
  """Original sensor pixels per stored pixel (1920x1080 colour, 512x424
  depth): metrics in original-frame pixels compare across stored sizes."""
  from tfds_ntu import layout  # pylint: disable=g-import-not-at-top

  _, _, w, c = builder.info.features["frames"].shape
  full = layout.RGB_SIZE if c == 3 else layout.DEPTH_SIZE
  return full[1] / w


def frame_spec(builder: tfds.core.DatasetBuilder) -> tuple[int, int, int, str]:
  """(height, width, channels, modality) of the stored frames.

  Raises:
    ValueError: the build stores frames the model cannot read (rgbd, ir).
  """
  modality_name, channels = _trainable(builder.builder_config)
  _, h, w, c = builder.info.features["frames"].shape
  if c != channels:
    raise ValueError(
        f"{builder.info.full_name}: {modality_name} frames with {c} "
        f"channels; expected {channels}."
    )
  return h, w, c, modality_name


_SKIP_FRAMES = {"frames": tfds.decode.SkipDecoding()}


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


def _tnp():
  import tensorflow.experimental.numpy as tnp  # pylint: disable=g-import-not-at-top

  return tnp


def _mirror(joints, tracking_state, confidence, width):
  """Joints of the horizontally mirrored frame: x -> W - 1 - x, and the left
  and right labels (of the joints, states and confidences) swapped."""
  perm = tf.constant(skeleton.FLIP_PERMUTATION)
  x = tf.cast(width, tf.float32) - 1 - joints[..., 0]
  joints = tf.stack([x, joints[..., 1]], -1)
  return (tf.gather(joints, perm, axis=-2),
          tf.gather(tracking_state, perm, axis=-1),
          tf.gather(confidence, perm, axis=-1))


def _normal(seed, shape):
  return tf.random.stateless_normal(shape, seed)


def frame_rois(joints, tracking_state, stored_hw, input_hw, cfg, seed,
               train: bool):
  """Each frame's ROI [T, 3] (frame pixels) for a clip, as a tracker gives it.

  `cfg.crop.mode == 'roi'` simulates tracking: frame t's ROI bounds the
  ground truth of frame t - 1 (frame 0: its own), by the tracker's rule
  (`roi.from_keypoints`); in training its centre and height are jittered
  as a tracker's estimates would be, and a share of clips start from the
  whole frame as a stream does. Frames whose reference pose has no joint
  get the whole frame. `'frame'` is the whole frame for every frame, zoomed
  and shifted per clip in training.
  """
  tnp = _tnp()
  a, c = cfg.augment, cfg.crop
  t = tf.shape(joints)[0]
  whole = roi.whole_frame(stored_hw, input_hw, tnp)
  seeds = tf.random.experimental.stateless_split(seed, 4)
  if c.mode == "frame":
    zoom, shift = 1.0, tf.zeros([2])
    if train:
      zoom = tf.exp(tf.random.stateless_uniform(
          [], seeds[0], -np.log(a.scale), np.log(a.scale)))
      shift = tf.random.stateless_uniform([2], seeds[1], -a.translate,
                                          a.translate)
    height = whole[2] / zoom
    size = tf.stack([height * roi.aspect(input_hw), height])
    one = tf.concat([whole[:2] - shift * size, height[None]], 0)
    return tf.tile(one[None], [t, 1])
  if c.mode != "roi":
    raise ValueError(f"config.input.crop.mode {c.mode!r}: 'roi' or 'frame'")
  fitted, has_reference = roi.follow_previous(
      joints, tracking_state > 0, stored_hw, input_hw, c.margin,
      c.min_height_fraction, tnp)
  min_height = c.min_height_fraction * whole[2]
  if train:
    centre = fitted[:, :2] + (_normal(seeds[0], [t, 2]) * c.centre_noise
                              * fitted[:, 2:])
    height = fitted[:, 2] * tf.exp(_normal(seeds[1], [t]) * c.scale_noise)
    fitted = tf.concat([centre, tf.maximum(height, min_height)[:, None]], 1)
  rois = tf.where(has_reference[:, None], fitted, whole[None])
  if train:
    whole_start = tf.random.stateless_uniform([], seeds[2]) < c.whole_frame_prob
    first = tf.where(whole_start, whole, rois[0])
    rois = tf.concat([first[None], rois[1:]], 0)
  return rois


def crop(frames, rois, input_hw, interpolation: str, mirror_width=None):
  """Each frame's ROI resampled to the input: [T, H, W, C] -> [T, h, w, C].

  With `mirror_width` the ROIs are in the mirrored frame's coordinates, and
  the crop is taken from the frame mirrored about x = (width - 1) / 2.
  Pixels outside the frame are zero.
  """
  ih, iw = input_hw
  inv = 1.0 / roi.scale(rois, input_hw)
  zero = tf.zeros_like(inv)
  x0 = rois[:, 0] - (iw - 1) / 2 * inv
  y0 = rois[:, 1] - (ih - 1) / 2 * inv
  ax = inv
  if mirror_width is not None:
    x0, ax = tf.cast(mirror_width, tf.float32) - 1 - x0, -inv
  # Output pixel (u, v) reads source pixel (ax * u + x0, inv * v + y0).
  params = tf.stack([ax, zero, x0, zero, inv, y0, zero, zero], 1)
  return tf.raw_ops.ImageProjectiveTransformV3(
      images=frames,
      transforms=params,
      output_shape=tf.constant(input_hw, tf.int32),
      fill_value=0.0,
      interpolation=interpolation,
      fill_mode="CONSTANT",
  )


def _joints_in_input(joints, tracking_state, rois, input_hw):
  """Joints in input pixels; those outside the input lose their ground
  truth (tracking state 0)."""
  joints = roi.to_input(joints, rois, input_hw)
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
):
  """Returns fn(example, start, seed) -> one clip dict (see `train_dataset`).

  The clip's frames are cropped to their ROIs (`frame_rois`); in training a
  clip is mirrored with probability `augment.flip_prob` (left and right
  labels swapped) and jittered photometrically (RGB) or with sensor noise
  (depth).
  """
  cfg = config.input
  input_hw = tuple(cfg.input_size)
  interpolation = "BILINEAR" if modality == "rgb" else "NEAREST"

  def clip_fn(example, start, seed):
    n = tf.shape(example["joints_2d"])[0]
    idx = _clip_indices(n, start, cfg.clip_length, cfg.frame_stride)
    frames = _decode_frames(tf.gather(example["frames"], idx), channels)
    joints = tf.gather(example["joints_2d"], idx)
    state = tf.gather(example["tracking_state"], idx)
    confidence = (
        tf.gather(example["confidence"], idx)
        if "confidence" in example
        else tf.ones(tf.shape(state), tf.float32)
    )
    seeds = tf.random.experimental.stateless_split(seed, 4)
    flip = train and tf.random.stateless_uniform([], seeds[0]) < (
        cfg.augment.flip_prob)
    if train:
      joints, state, confidence = tf.cond(
          flip, lambda: _mirror(joints, state, confidence, stored_hw[1]),
          lambda: (joints, state, confidence))
    rois = frame_rois(joints, state, stored_hw, input_hw, cfg, seeds[1],
                      train)
    if train:
      frames = tf.cond(
          flip,
          lambda: crop(frames, rois, input_hw, interpolation, stored_hw[1]),
          lambda: crop(frames, rois, input_hw, interpolation))
    else:
      frames = crop(frames, rois, input_hw, interpolation)
    joints, state = _joints_in_input(joints, state, rois, input_hw)
    if train and modality == "rgb":
      frames = _photometric(frames, seeds[2], cfg.augment)
    elif train:
      frames = _depth_noise(frames, seeds[3], cfg.augment)
    frames = normalise(frames, modality, cfg)
    frames.set_shape([cfg.clip_length, *input_hw, channels])
    # Joints without ground truth (absent, or outside the crop) weigh 0.
    confidence = tf.where(state > 0, confidence, 0.0)
    return {"frames": frames, "joints": joints, "tracking_state": state,
            "confidence": confidence, "rois": rois}

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


def _load(builder, split: str):
  """This process's share of `split`, in order, frames still encoded."""
  check_split(builder, split)
  return builder.as_dataset(
      split=tfds.split_for_jax_process(split),
      shuffle_files=False,
      decoders=_SKIP_FRAMES,
  )


def mix_count(config, local_batch_size: int) -> int:
  """Clips of each local batch drawn from the mix dataset:
  round(mix_fraction x batch), halves rounded up; 0 when not mixing. Each
  process mixes its own local batch, so a global batch holds
  process_count x this many.

  Raises:
    ValueError: when the fraction is outside (0, 1] or rounds to no clip.
  """
  ds = config.dataset
  if not ds.get("mix_builder_config", ""):
    return 0
  fraction = ds.mix_fraction
  if not 0 < fraction <= 1:
    raise ValueError(
        f"config.dataset.mix_fraction {fraction} is not in (0, 1]; set "
        "mix_builder_config='' to train without mixing."
    )
  count = min(local_batch_size, math.floor(fraction * local_batch_size + 0.5))
  if count == 0:
    raise ValueError(
        f"config.dataset.mix_fraction {fraction} of a batch of "
        f"{local_batch_size} clips rounds to none; raise the fraction or the "
        "batch size."
    )
  return count


def epoch_order(seed: int, stream: int, epoch: int, size: int) -> np.ndarray:
  """The order [size] in which epoch `epoch` of a training stream visits the
  examples: a permutation that depends only on its arguments."""
  return np.random.default_rng([seed, stream, epoch]).permutation(size)


def stream_positions(step: int, global_clips: int, local_clips: int,
                     process_index: int) -> range:
  """The positions in a training stream of this process's clips of `step`:
  each step takes the next `global_clips`, and process p the p-th run of
  `local_clips` of them, so a step's global batch is the same clips
  whatever the number of processes."""
  first = step * global_clips + process_index * local_clips
  return range(first, first + local_clips)


def _train_clips(config, builder, split: str, stream: int, local_clips: int,
                 start_step: int):
  """This process's clips of `split` from step `start_step` on, endless;
  `stream` 0 is the main dataset's, others are independent of it.

  Position g of the stream (`stream_positions`) is example
  `epoch_order(...)[g % size]` of epoch g // size, cut at a random start
  and augmented with seeds drawn from (config.seed, stream, g): a pure
  function of the config and g, so resuming at a step reads exactly the
  clips an unbroken run reads there.
  """
  h, w, c, modality = frame_spec(builder)
  clip_fn = make_clip_fn(config, (h, w), c, modality, train=True)
  span = _span(config)
  check_split(builder, split)
  records = random_access.SplitRecords(builder, split, config.dataset.cache)
  size = len(records)
  process, processes = jax_process()
  global_clips = local_clips * processes

  def serialized():
    epoch, order = None, None
    step = start_step
    while True:
      for g in stream_positions(step, global_clips, local_clips, process):
        if g // size != epoch:
          epoch = g // size
          order = epoch_order(config.seed, stream, epoch, size)
        yield g, records[int(order[g % size])]
      step += 1

  def sample(g, record):
    example = builder.info.features.deserialize_example(
        record, decoders=_SKIP_FRAMES)
    seed = tf.stack([tf.cast(config.seed, tf.int64), g])
    if stream:
      seed = tf.random.experimental.stateless_fold_in(seed, stream)
    n = tf.shape(example["joints_2d"])[0]
    start = tf.random.stateless_uniform(
        [], seed, 0, tf.maximum(n - span, 0) + 1, dtype=tf.int32
    )
    return clip_fn(example, start, seed + 1)

  ds = tf.data.Dataset.from_generator(
      serialized,
      output_signature=(tf.TensorSpec([], tf.int64),
                        tf.TensorSpec([], tf.string)))
  # Parallel, and still in order: tf.data maps deterministically by default.
  return ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE)


def jax_process() -> tuple[int, int]:
  """(this process's index, the number of processes) of the JAX run, without
  importing JAX here (tfds's `split_for_jax_process` does the same)."""
  import jax  # pylint: disable=g-import-not-at-top

  return jax.process_index(), jax.process_count()


def train_dataset(config, builder, local_batch_size: int,
                  mix_builder=None, start_step: int = 0) -> tf.data.Dataset:
  """Augmented clips from step `start_step` on, one random clip per example
  visit, every example once per epoch in an order drawn per epoch.

  Elements: frames [b, T, H, W, C] float32, joints [b, T, J, 2] float32 (input
  pixels), tracking_state [b, T, J] int32, confidence [b, T, J] float32, rois
  [b, T, 3], with b = `local_batch_size`.

  The batch of step s is a pure function of the config and s
  (`_train_clips`): the data position of a run is its step, which every
  checkpoint holds.

  With `mix_builder` (`get_mix_builder`), every batch holds exactly
  `mix_count` clips of its `config.dataset.mix_train_split` (the last ones)
  and the rest from `builder`. Each set is cropped from its own stored
  frames, so the two may be stored at different sizes; they must hold the
  same modality.
  """
  count = mix_count(config, local_batch_size) if mix_builder else 0
  if count:
    main_modality, mix_modality = frame_spec(builder)[3], frame_spec(
        mix_builder)[3]
    if main_modality != mix_modality:
      raise ValueError(
          f"Cannot mix {mix_builder.info.full_name} ({mix_modality}) into "
          f"{builder.info.full_name} ({main_modality}) batches."
      )
  parts = []
  if count < local_batch_size:
    parts.append(_train_clips(config, builder, config.dataset.train_split, 0,
                              local_batch_size - count, start_step)
                 .batch(local_batch_size - count, drop_remainder=True))
  if count:
    parts.append(_train_clips(config, mix_builder,
                              config.dataset.mix_train_split, 1, count,
                              start_step)
                 .batch(count, drop_remainder=True))
  ds = parts[0] if len(parts) == 1 else tf.data.Dataset.zip(tuple(parts)).map(
      lambda a, b: {k: tf.concat([a[k], b[k]], 0) for k in a})
  return ds.prefetch(config.dataset.prefetch)


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

  ds = _load(builder, config.dataset.eval_split)
  ds = ds.flat_map(clips)
  ds = ds.batch(local_batch_size, drop_remainder=False)
  return ds.map(lambda b: _pad_batch(b, local_batch_size)).prefetch(
      config.dataset.prefetch
  )


def sequence_dataset(config, builder, split: str) -> tf.data.Dataset:
  """Whole samples as stored, frames in sensor units, in split order.

  For the tracked streaming loop, which crops every frame itself.
  Elements: frames [N, H, W, C] float32 (RGB 0..255 or depth mm, the stored
  frame), joints [N, J, 2] float32 in stored-frame pixels, tracking_state
  [N, J] int32, second_joints [N, J, 2] and second_tracking_state [N, J]
  (a two-person action's other performer; state 0 where absent, and in
  builds that store one person), and scale: the video's own pixels per
  stored pixel (`original_scale`, or per video for teacher-labelled video
  of any size); N varies.
  """
  h, w, c, _ = frame_spec(builder)
  default_scale = original_scale(builder)

  def whole(example):
    scale = tf.constant(default_scale, tf.float32)
    if "frame_size" in example:  # fitted in with its aspect kept
      size = tf.cast(example["frame_size"], tf.float32)
      scale = 1.0 / tf.minimum(h / size[0], w / size[1])
    second = example.get("second_actor", {
        "joints_2d": tf.zeros_like(example["joints_2d"]),
        "tracking_state": tf.zeros_like(example["tracking_state"]),
    })
    return {
        "frames": _decode_frames(example["frames"], c),
        "joints": example["joints_2d"],
        "tracking_state": example["tracking_state"],
        "second_joints": second["joints_2d"],
        "second_tracking_state": second["tracking_state"],
        "scale": scale,
    }

  return _load(builder, split).map(whole)


def _pad_batch(batch, size: int):
  pad = size - tf.shape(batch["frames"])[0]

  def pad_one(x, value):
    paddings = tf.concat(
        [[[0, pad]], tf.zeros([tf.rank(x) - 1, 2], tf.int32)], 0
    )
    return tf.pad(x, paddings, constant_values=value)

  # Padding ROIs are 1 px, not 0 px: a zero height divides by zero in the
  # state warp, and NaN survives the metrics' zero weights.
  out = {k: pad_one(v, 1 if k == "rois" else 0) for k, v in batch.items()}
  for v in out.values():
    v.set_shape([size, *v.shape[1:]])
  return out


def as_numpy(ds: tf.data.Dataset) -> Iterator[dict]:
  """Host batches as numpy arrays."""
  return iter(tfds.as_numpy(ds))
