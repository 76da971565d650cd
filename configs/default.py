"""Defaults shared by every experiment; the per-experiment files override.

Not run directly: use one of configs/{rgb,depth}_{gru,lstm}.py.
"""

import ml_collections

from bodypose_jax.model import pose_net


def get_config() -> ml_collections.ConfigDict:
  """Every knob of the trainer, with defaults for real NTU RGB+D."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  # XLA executables persist here, so a rerun (a resume) skips recompiling.
  # An empty string turns the cache off.
  config.compilation_cache_dir = ml_collections.FieldReference(
      "~/.cache/bodypose_jax/xla", field_type=str
  )
  # On CPU, run each step on the calling thread and keep freed memory in the
  # heap, so the step's temporaries are not faulted in afresh every step
  # (hardware.configure_host). False: JAX's and glibc's defaults.
  config.reuse_host_memory = True

  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "tfds_ntu"
  config.dataset.builder_config = "rgb"
  config.dataset.data_dir = ml_collections.FieldReference(None, field_type=str)
  config.dataset.train_split = "xsub_train"
  config.dataset.eval_split = "xsub_test"
  # Keep every example read in memory (sets that fit): training reads them
  # in a new order each epoch (input_pipeline.train_dataset).
  config.dataset.cache = False
  config.dataset.prefetch = 4
  # Training on a mix: every training batch takes round(mix_fraction x
  # batch) clips (halves up, exactly per batch) from `mix_train_split` of
  # this builder config, teacher-labelled real video ('teacher_rgb'), and
  # the rest from `builder_config`. Each joint weighs by the teacher's
  # confidence (losses.joint_weights). '' trains on `builder_config` alone.
  config.dataset.mix_builder_config = ""
  config.dataset.mix_fraction = 0.25
  config.dataset.mix_train_split = "train"
  # After a mixed run, main also streams this split of the mix dataset
  # (held-out real performers), as `evaluate --builder_config` does.
  config.dataset.mix_eval_split = "test"

  config.input = ml_collections.ConfigDict()
  # (H, W) fed to the model: a portrait crop around the person. 128x96
  # holds the tracked person at about 100 px, the torso at ~40, and (with
  # width 0.5) keeps the TFLite step at 0.06x BlazePose-full's latency at
  # one thread on the AVX-512 machine (docs/person_centred.md, "Latency"),
  # where 192x160 at width 1.0 ran at 0.30x (float32) and 0.26x (int8);
  # the AVX2-only machine ran such models ~2.6x slower again, against
  # BlazePose.
  config.input.input_size = (128, 96)
  config.input.clip_length = 8  # frames per training clip (T)
  config.input.frame_stride = 1  # take every n-th frame
  config.input.rgb_mean = 0.5
  config.input.rgb_std = 0.25
  config.input.depth_mean_m = 2.5
  config.input.depth_std_m = 1.5
  # What the model sees of each frame (input_pipeline.frame_rois): 'roi', a
  # crop around the person that follows them from frame to frame, or
  # 'frame', the whole frame letterboxed.
  config.input.crop = ml_collections.ConfigDict()
  config.input.crop.mode = "roi"
  config.input.crop.margin = 1.25  # ROI height / the joints' extent
  config.input.crop.min_height_fraction = 0.1  # of the whole frame's ROI
  # Training simulates a tracker's errors: the ROI of frame t bounds the
  # ground truth of frame t-1, its centre jittered by this fraction of its
  # height and its height by this log-normal factor, and this share of clips
  # start from the whole frame, as every stream does.
  config.input.crop.centre_noise = 0.08
  config.input.crop.scale_noise = 0.1
  config.input.crop.whole_frame_prob = 0.2
  config.input.augment = ml_collections.ConfigDict()
  # The whole-frame mode's zoom and shift (crop.mode 'frame').
  config.input.augment.scale = 1.25  # zoom drawn log-uniformly in [1/s, s]
  config.input.augment.translate = 0.1  # shift, fraction of the input size
  config.input.augment.flip_prob = 0.5
  config.input.augment.brightness = 0.15
  config.input.augment.contrast = 0.2
  config.input.augment.saturation = 0.3
  config.input.augment.depth_noise_mm = 10.0

  config.model = ml_collections.ConfigDict()
  config.model.width = 0.5
  config.model.stem_features = 32
  # MobileNetV2's table up to stride 16: (expansion, channels, repeats, stride).
  config.model.stages = pose_net.MOBILENET_V2_STAGES
  config.model.decoder_features = 64
  # Input pixels per heatmap cell: 4 or 8. At 4 a second fuse upsamples the
  # stride-8 decoder and merges the encoder's stride-4 map, in
  # `decoder_features_s4` channels (the stride-4 grid has 4x the cells).
  config.model.head_stride = 4
  config.model.decoder_features_s4 = 32
  config.model.cell = "gru"  # 'gru', 'lstm' or 'none'
  config.model.cell_features = 64
  config.model.cell_kernel = 3
  config.model.cell_stride = 16  # 8, or the encoder's final stride
  # Concatenate the frame's own features to the cell's output, so memory adds
  # to the single-frame path instead of replacing it (held-out tracked
  # PCK@0.2 of the RGB `:synthetic` job 0.738 -> 0.751).
  config.model.cell_skip = True
  # Convolution formulations (layers.py) and compute precision; 'auto' lets
  # hardware.py choose per backend (CPU: shifted, matmul, im2col, float32;
  # GPU/TPU: grouped, conv, conv, bfloat16). Parameters are always float32.
  config.model.depthwise_impl = "auto"  # or 'shifted', 'grouped'
  config.model.pointwise_impl = "auto"  # or 'matmul', 'conv'
  config.model.dense_impl = "auto"  # k x k convs: 'im2col' or 'conv'
  config.model.compute_dtype = "auto"  # or 'float32', 'bfloat16'

  # Bring the cell's state from one frame's ROI grid onto the next one's
  # (roi.warp_grid), so that memory stays on the person as the crop moves.
  config.model.warp_state = True

  # The streaming tracker's rule (roi.next_roi); the crop's margin and
  # smallest size are config.input.crop's, so training and tracking agree.
  config.tracking = ml_collections.ConfigDict()
  config.tracking.margin = config.input.crop.get_ref("margin")
  config.tracking.min_height_fraction = config.input.crop.get_ref(
      "min_height_fraction"
  )
  # Lost when the joints' mean peak confidence falls below this: the next
  # frame is the whole frame again.
  config.tracking.lost_threshold = 0.02
  # Joints below this confidence do not shape the next ROI.
  config.tracking.min_joint_confidence = 0.02
  config.tracking.smoothing = 0.0  # weight of the current ROI in the next
  # The double take: a frame seen whole (a stream's first, or the one after
  # tracking was lost) runs the step a second time on the same frame cropped
  # to the ROI the first pass found, from the incoming state moved onto that
  # ROI; the second pass gives the frame's pose, next ROI and state. At the
  # whole frame's scale the person is small: good enough to find, not to
  # place joints. Models that see the whole frame (crop.mode 'frame') never
  # refine. Costs one more step on each whole-frame view.
  config.tracking.refine_whole_frame = True
  # A One-Euro filter (one_euro.py) on the keypoints reported to the user;
  # the ROI the tracker feeds back comes from the raw keypoints. Cutoffs in
  # Hz; beta in Hz per (person size per second), the size being the mean of
  # the confident joints' box width and height (MediaPipe's rule), so the
  # same numbers hold at any resolution. evaluate.py and demo.py turn it on
  # with --one_euro; `evaluate --tune_one_euro` searches min_cutoff and beta.
  config.tracking.one_euro = ml_collections.ConfigDict()
  config.tracking.one_euro.enabled = False
  config.tracking.one_euro.min_cutoff = 0.1  # Hz, a still joint's cutoff
  config.tracking.one_euro.beta = 40.0  # cutoff's rise with speed
  config.tracking.one_euro.d_cutoff = 1.0  # Hz, the speed estimate's

  config.loss = ml_collections.ConfigDict()
  config.loss.sigma = 1.0  # target Gaussian, in heatmap cells
  config.loss.offset_weight = 1.0
  config.loss.inferred_weight = 0.5  # weight of Kinect-inferred joints
  # Weight of the keypoint error's acceleration across the clip's frames
  # (losses.acceleration_loss): steadiness, which the per-frame terms do
  # not ask for. 0: off.
  config.loss.accel_weight = 0.0

  config.batch_size = 32  # global, in clips
  config.learning_rate = 2e-3
  config.end_learning_rate_factor = 0.01
  config.warmup_steps = 500
  config.weight_decay = 1e-4
  config.grad_clip_norm = 1.0
  # A step whose loss or gradient is not finite leaves the model unchanged;
  # then 'stop' ends the run naming the step, before any checkpoint after
  # it, and 'skip' goes on, logging and counting (train/skipped_steps).
  config.nonfinite = "stop"
  config.num_train_steps = 100_000

  config.eval_clips_per_sample = 2
  # After training, main streams every video of the eval split through the
  # tracked step (evaluate.py), from a whole-frame start and with oracle ROIs.
  config.stream_eval = True
  config.pck_thresholds = (0.1, 0.2, 0.5)
  config.log_every_steps = 100
  config.eval_every_steps = 5_000
  config.checkpoint_every_steps = 1_000
  config.keep_checkpoints = 3
  # A jax.profiler trace of `profile_num_steps` steps from this step, written
  # to the workdir for TensorBoard's profile tab; 0 steps: no trace.
  config.profile_start_step = 10
  config.profile_num_steps = 0
  return config


def apply_variant(
    config: ml_collections.ConfigDict, variant: str | None, modality: str
) -> ml_collections.ConfigDict:
  """Applies the ':synthetic', ':large', ':mixed' or ':smoke' variant, then
  locks the config.

  Args:
    config: from `get_config` with the experiment's model settings.
    variant: None (real NTU RGB+D), 'synthetic' (the embedded synthetic set,
      ~12 minutes of training and streamed evaluation on 2 CPU cores, plus
      rendering and building the set on first use), 'large' (the same model
      trained ~5x longer on the large synthetic set, about an hour on 2
      cores plus ~40 minutes to build the set once), 'mixed' (':synthetic'
      with a quarter of every batch from teacher-labelled real video, the
      `teacher_rgb` build, which must exist; colour only) or 'smoke' (a
      tiny run, < 2 minutes).
    modality: 'rgb' or 'depth'.
  """
  if variant is None:
    config.dataset.builder_config = modality
  elif variant in ("synthetic", "large", "mixed", "smoke"):
    config.dataset.cache = True
    config.log_every_steps = 20
    config.keep_checkpoints = 2
  else:
    raise ValueError(
        f"Unknown config variant {variant!r}; expected none, "
        "'synthetic', 'large', 'mixed' or 'smoke'."
    )
  if variant in ("synthetic", "large", "mixed"):
    config.dataset.builder_config = f"synthetic_{modality}"
    config.input.clip_length = 4
    config.batch_size = 8
    # At this budget the model underfits its own training videos: twice the
    # default rate (and the cell skip, now the default) lifted streamed,
    # tracked PCK@0.2 on held-out RGB from 0.690 to 0.751
    # (docs/person_centred.md, "Learning rate and cell skip").
    config.learning_rate = 4e-3
    config.warmup_steps = 50
    config.num_train_steps = 1600
    config.eval_every_steps = 800
    config.checkpoint_every_steps = 100
  if variant == "large":
    # 40 performers doing every action in two rooms (3,360 samples, the
    # cross-subject splits only): more to learn from, so more steps.
    config.dataset.builder_config = f"synthetic_large_{modality}"
    config.warmup_steps = 200
    config.num_train_steps = 8000
    config.eval_every_steps = 2000
    config.checkpoint_every_steps = 500
  if variant == "mixed":
    if modality != "rgb":
      raise ValueError(
          "The ':mixed' variant mixes in teacher-labelled colour video; "
          f"there is none for {modality!r}."
      )
    # 2 of the 8 clips of every batch are real people.
    config.dataset.mix_builder_config = "teacher_rgb"
    config.dataset.mix_fraction = 0.25
  if variant == "smoke":
    config.dataset.builder_config = f"synthetic_smoke_{modality}"
    config.input.input_size = (64, 48)
    config.input.clip_length = 3
    config.model.width = 0.25
    # One block per stage: the same code paths at a fraction of XLA:CPU's
    # compile time, which dominates a run this short.
    config.model.stages = (
        (1, 16, 1, 1),
        (6, 24, 1, 2),
        (6, 32, 1, 2),
        (6, 64, 1, 2),
    )
    config.model.decoder_features = 16
    config.model.decoder_features_s4 = 8
    config.model.cell_features = 16
    config.batch_size = 4
    config.warmup_steps = 5
    config.num_train_steps = 30
    config.eval_every_steps = 30
    config.checkpoint_every_steps = 10
    config.log_every_steps = 10
    config.eval_clips_per_sample = 1
    # Tests run main many times; the one that checks streaming turns it on.
    config.stream_eval = False
  config.lock()
  return config
