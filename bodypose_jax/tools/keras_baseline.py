"""A tf.keras model of the PoseNet's size and shape, to time training against.

The model follows `config.model` block for block: the MobileNetV2 trunk (same
stem, `stages` table, `width` and channel rounding, batch norm and ReLU6), a
recurrent cell on the stride-16 map (or after the decoder when
`cell_stride == 8`), the stride-8 fuse (upsampled top plus projected skip),
with `head_stride == 4` a second fuse onto the stride-4 map, and a
depthwise + 1x1 head with 3 * 25 outputs (heatmap logits and x/y offsets).

Two deliberate differences:
  * The cell is `keras.layers.ConvLSTM2D`: Keras has no convolutional GRU, and
    a ConvLSTM has 4/3 of a ConvGRU's cell weights, so a GRU config's baseline
    is somewhat larger (`num_params` reports both sides).
  * The per-frame layers run on the clip folded to `[B * T, H, W, C]` rather
    than inside `TimeDistributed`: Keras 3's TimeDistributed calls its layer
    once per time step on batches of B (T small convolutions instead of one
    large one) and would take batch-norm statistics per frame, while the JAX
    model normalises over all B * T frames. Folding is the same function for
    per-frame layers and the faster form for oneDNN.

The train step (`make_train_step`) mirrors `train.train_step`: softmax
cross-entropy over the heatmap grid against Gaussian targets built from the
joints in the step, plus an L1 on the offsets at each joint's cell, weighted
by tracking state, then AdamW with global-norm clipping. It is a
`tf.function` without XLA (`jit_compile=False`): TensorFlow's own oneDNN
kernels are the baseline on CPU.
"""

import time
from typing import Callable

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from bodypose_jax.model import pose_net
from bodypose_jax.model import skeleton

# flax.linen.BatchNorm's defaults (Keras's epsilon is 1e-3).
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5

# The JAX model's channel rounding, so that both have the same widths.
_round_channels = pose_net._round_channels  # pylint: disable=protected-access


def _check_backend():
  if keras.backend.backend() != "tensorflow":
    raise RuntimeError(
        "The Keras baseline times TensorFlow; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Unset it or set it to 'tensorflow'."
    )


class _Reshape(keras.layers.Layer):
  """Reshapes including the batch axis (keras.layers.Reshape keeps it)."""

  def __init__(self, shape, **kwargs):
    super().__init__(**kwargs)
    self.shape = tuple(shape)

  def call(self, x):
    return keras.ops.reshape(x, self.shape)

  def compute_output_shape(self, input_shape):
    del input_shape
    return self.shape


def _conv_bn(x, features, kernel=1, strides=1, activation=True, name=None):
  x = keras.layers.Conv2D(
      features,
      kernel,
      strides=strides,
      padding="same",
      use_bias=False,
      name=f"{name}_conv",
  )(x)
  x = keras.layers.BatchNormalization(
      momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{name}_bn"
  )(x)
  return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x


def _depthwise_bn(x, strides=1, name=None):
  x = keras.layers.DepthwiseConv2D(
      3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw"
  )(x)
  x = keras.layers.BatchNormalization(
      momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{name}_bn"
  )(x)
  return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x)


def _inverted_residual(x, features, expansion, strides, name):
  """MobileNetV2 block, as pose_net.InvertedResidual."""
  y = x
  if expansion != 1:
    y = _conv_bn(y, x.shape[-1] * expansion, name=f"{name}_expand")
  y = _depthwise_bn(y, strides, name=f"{name}_depthwise")
  y = _conv_bn(y, features, activation=False, name=f"{name}_project")
  if strides == 1 and x.shape[-1] == features:
    y = keras.layers.Add(name=f"{name}_add")([x, y])
  return y


def _encoder(x, m: ml_collections.ConfigDict):
  """[N, H, W, C] -> {stride: last map at that stride}, as Encoder."""
  x = _conv_bn(
      x,
      _round_channels(m.stem_features * m.width),
      3,
      2,
      name="stem",
  )
  stride, features = 2, {2: x}
  for i, (expansion, channels, repeats, first_stride) in enumerate(m.stages):
    for r in range(repeats):
      s = first_stride if r == 0 else 1
      x = _inverted_residual(
          x,
          _round_channels(channels * m.width),
          expansion,
          s,
          name=f"stage{i}_block{r}",
      )
      stride *= s
      features[stride] = x
  return features


def _fuse(top, skip, features: int, name: str = "fuse"):
  """Upsamples `top` to `skip`'s finer grid and merges `skip`, as Fuse."""
  h, w = skip.shape[1:3]
  top = _conv_bn(top, features, name=f"{name}_top")
  fy, fx = -(-h // top.shape[1]), -(-w // top.shape[2])
  top = keras.layers.UpSampling2D((fy, fx), name=f"{name}_upsample")(top)
  if top.shape[1:3] != (h, w):
    top = keras.layers.Cropping2D(
        ((0, top.shape[1] - h), (0, top.shape[2] - w)), name=f"{name}_crop"
    )(top)
  x = keras.layers.Add(name=f"{name}_add")(
      [top, _conv_bn(skip, features, name=f"{name}_skip")]
  )
  x = _depthwise_bn(x, name=f"{name}_depthwise")
  return _conv_bn(x, features, name=f"{name}_out")


def _cell(x, b: int, t: int, m: ml_collections.ConfigDict):
  """The recurrent cell over time on folded [B * T, h, w, C] maps."""
  if m.cell == "none":
    return x
  h, w, c = x.shape[1:]
  y = _Reshape((b, t, h, w, c), name="unfold_time")(x)
  y = keras.layers.ConvLSTM2D(
      m.cell_features,
      m.cell_kernel,
      padding="same",
      return_sequences=True,
      name="cell",
  )(y)
  y = _Reshape((b * t, h, w, m.cell_features), name="fold_cell")(y)
  if m.cell_skip:  # pose_net.PoseNet._cell_output
    return keras.layers.Concatenate(name="cell_skip")([x, y])
  return y


def build_model(config: ml_collections.ConfigDict, channels: int = 3):
  """The baseline for `config`: clip [B, T, H, W, C] -> [B, T, h, w, 3 * J].

  Args:
    config: an experiment config (`model`, `input`, `batch_size`).
    channels: C, 3 for RGB or 1 for depth.

  Returns:
    An uncompiled keras.Model with a static batch of `config.batch_size`.
    Output channels [:J] are heatmap logits, [J:] the (x, y) offsets of joint
    j at channels J + 2j and J + 2j + 1, the layout of pose_net.Head.
  """
  _check_backend()
  m = config.model
  b, t = config.batch_size, config.input.clip_length
  h, w = config.input.input_size
  frames = keras.Input((t, h, w, channels), batch_size=b, name="frames")
  x = _Reshape((b * t, h, w, channels), name="fold_time")(frames)
  if m.head_stride not in pose_net.HEAD_STRIDES:
    raise ValueError(
        f"head_stride={m.head_stride!r}; expected one of "
        f"{pose_net.HEAD_STRIDES}."
    )
  features = _encoder(x, m)
  top, skip = features[max(features)], features[8]
  if -(-h // m.cell_stride) == top.shape[1]:
    x = _fuse(_cell(top, b, t, m), skip, m.decoder_features)
  elif m.cell_stride == 8:
    x = _cell(_fuse(top, skip, m.decoder_features), b, t, m)
  else:
    raise ValueError(f"cell_stride={m.cell_stride} fits no encoder output.")
  if m.head_stride == 4:
    x = _fuse(x, features[4], m.decoder_features_s4, name="fuse_s4")
  x = _depthwise_bn(x, name="head_depthwise")
  out = keras.layers.Conv2D(3 * skeleton.NUM_JOINTS, 1, name="head_out")(x)
  out = _Reshape((b, t, *out.shape[1:]), name="unfold_out")(out)
  return keras.Model(frames, out, name="keras_posenet")


def num_params(model: keras.Model) -> int:
  """Trainable parameters (batch-norm moving statistics excluded, as in JAX)."""
  return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def pose_loss(
    outputs,
    joints,
    tracking_state,
    *,
    stride: int,
    sigma: float,
    offset_weight: float,
    inferred_weight: float,
):
  """losses.pose_loss in TensorFlow, on the baseline's output layout.

  Args:
    outputs: [B, T, h, w, 3 * J] from `build_model`.
    joints: [B, T, J, 2] (x, y) in input pixels.
    tracking_state: [B, T, J] int32.

  Returns:
    The scalar loss.
  """
  h, w, j = outputs.shape[2], outputs.shape[3], skeleton.NUM_JOINTS
  lead = tf.shape(outputs)[:2]
  logits = tf.reshape(outputs[..., :j], tf.concat([lead, [h * w, j]], 0))
  offsets = tf.reshape(outputs[..., j:], tf.concat([lead, [h * w, j, 2]], 0))
  weights = tf.where(
      tracking_state == 2,
      1.0,
      tf.where(tracking_state == 1, inferred_weight, 0.0),
  )
  norm = tf.maximum(tf.reduce_sum(weights), 1.0)

  xs = tf.range(w, dtype=tf.float32) * stride + (stride - 1) / 2
  ys = tf.range(h, dtype=tf.float32) * stride + (stride - 1) / 2
  dx = (xs[:, None] - joints[..., None, :, 0]) / stride  # [B, T, w, J]
  dy = (ys[:, None] - joints[..., None, :, 1]) / stride  # [B, T, h, J]
  target = -(dy[..., :, None, :] ** 2 + dx[..., None, :, :] ** 2) / (
      2 * sigma**2
  )
  target = tf.nn.softmax(
      tf.reshape(target, tf.concat([lead, [h * w, j]], 0)), axis=-2
  )
  ce = -tf.reduce_sum(target * tf.nn.log_softmax(logits, axis=-2), axis=-2)
  heatmap_loss = tf.reduce_sum(ce * weights) / norm

  col = tf.clip_by_value(tf.floor(joints[..., 0] / stride), 0, w - 1)
  row = tf.clip_by_value(tf.floor(joints[..., 1] / stride), 0, h - 1)
  centre = tf.stack([col, row], -1) * stride + (stride - 1) / 2
  offset_target = (joints - centre) / stride
  cell = tf.one_hot(tf.cast(row * w + col, tf.int32), h * w, axis=2)
  offset_pred = tf.einsum("btnj,btnjc->btjc", cell, offsets)
  l1 = tf.reduce_sum(tf.abs(offset_pred - offset_target), -1)
  offset_loss = tf.reduce_sum(l1 * weights) / norm
  return heatmap_loss + offset_weight * offset_loss


def make_train_step(config: ml_collections.ConfigDict, model: keras.Model):
  """One AdamW step as a tf.function(frames, joints, tracking_state) -> loss.

  The optimiser's slots are created here, so the first call only traces.
  """
  if config.loss.accel_weight:
    # A timing twin must do the same work; this one has no such term.
    raise ValueError(
        "The Keras baseline has no acceleration loss: time it with "
        f"loss.accel_weight=0 (got {config.loss.accel_weight})."
    )
  optimizer = keras.optimizers.AdamW(
      learning_rate=config.learning_rate,
      weight_decay=config.weight_decay,
      global_clipnorm=config.grad_clip_norm,
  )
  optimizer.build(model.trainable_variables)
  loss_config = dict(
      stride=config.model.head_stride,  # the grid build_model predicts on
      sigma=config.loss.sigma,
      offset_weight=config.loss.offset_weight,
      inferred_weight=config.loss.inferred_weight,
  )

  @tf.function(jit_compile=False)
  def step(frames, joints, tracking_state):
    with tf.GradientTape() as tape:
      outputs = model(frames, training=True)
      loss = pose_loss(outputs, joints, tracking_state, **loss_config)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply(grads, model.trainable_variables)
    return loss

  return step


def prepare_step(
    config: ml_collections.ConfigDict, batch: dict
) -> tuple[Callable[[], float], dict]:
  """Builds, traces and runs the baseline's step once on `batch`.

  Args:
    config: the experiment config.
    batch: numpy frames [B, T, H, W, C], joints [B, T, J, 2], tracking_state
      [B, T, J], as benchmark_train.random_batch makes them.

  Returns:
    (run, info): run() performs one step on the (resident) batch and returns
    the loss once computed; info has num_params, trace_s (Python tracing into a
    graph) and first_call_s (graph optimisation and the first step).
  """
  model = build_model(config, batch["frames"].shape[-1])
  step = make_train_step(config, model)
  # Converted once, so a timed step copies nothing from numpy, as the JAX
  # step's arguments already live on the device.
  args = tuple(
      tf.constant(batch[k]) for k in ("frames", "joints", "tracking_state")
  )
  t0 = time.perf_counter()
  step.get_concrete_function(*args)
  trace_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  float(step(*args))
  first_call_s = time.perf_counter() - t0
  info = {
      "num_params": num_params(model),
      "trace_s": trace_s,
      "first_call_s": first_call_s,
  }
  return lambda: float(step(*args)), info
