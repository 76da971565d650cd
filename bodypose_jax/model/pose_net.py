"""The pose network: MobileNetV2 encoder -> recurrent cell -> heatmap head.

Two entry points share every parameter:
  * `PoseNet.__call__` runs a clip `[B, T, H, W, C]`; the per-frame parts run on
    all B*T frames at once and only the cell is scanned over time (`nn.scan`).
  * `PoseNet.step` runs one frame `[B, H, W, C]` with the recurrent state passed
    in and returned: the function exported for streaming inference.
"""

import dataclasses
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bodypose_jax.data import roi
from bodypose_jax.model import cells
from bodypose_jax.model import layers
from bodypose_jax.model import skeleton


# The heatmap grids the head can predict on, in input pixels per cell.
HEAD_STRIDES = (4, 8)


def _round_channels(channels: float, divisor: int = 8) -> int:
  """MobileNet's channel rounding: to a multiple of `divisor`, never -10%."""
  rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
  if rounded < 0.9 * channels:
    rounded += divisor
  return rounded


class ConvBN(nn.Module):
  """Convolution, batch norm and an optional ReLU6."""

  features: int
  kernel_size: int = 1
  strides: int = 1
  activation: bool = True
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    k = self.kernel_size
    if k == 1 and self.strides == 1:
      x = layers.PointwiseConv(
          self.features,
          use_bias=False,
          impl=self.formulation.pointwise,
          dtype=self.dtype,
      )(x)
    else:
      x = layers.conv(
          x,
          self.features,
          k,
          self.strides,
          use_bias=False,
          impl=self.formulation.dense,
          dtype=self.dtype,
          name="Conv_0",  # nn.Conv's own name here, so checkpoints carry over
      )
    x = nn.BatchNorm(
        use_running_average=not train, momentum=0.9, dtype=self.dtype
    )(x)
    return jax.nn.relu6(x) if self.activation else x


class DepthwiseBN(nn.Module):
  """Depthwise convolution, batch norm, ReLU6."""

  strides: int = 1
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    x = layers.DepthwiseConv(
        3, self.strides, self.formulation.depthwise, dtype=self.dtype
    )(x)
    x = nn.BatchNorm(
        use_running_average=not train, momentum=0.9, dtype=self.dtype
    )(x)
    return jax.nn.relu6(x)


class InvertedResidual(nn.Module):
  """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection."""

  features: int
  expansion: int
  strides: int
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    y = x
    if self.expansion != 1:
      y = ConvBN(
          x.shape[-1] * self.expansion,
          formulation=self.formulation,
          dtype=self.dtype,
      )(y, train)
    y = DepthwiseBN(self.strides, self.formulation, self.dtype)(y, train)
    y = ConvBN(
        self.features,
        activation=False,
        formulation=self.formulation,
        dtype=self.dtype,
    )(y, train)
    if self.strides == 1 and x.shape[-1] == self.features:
      y = x + y
    return y


class Encoder(nn.Module):
  """MobileNetV2 trunk that returns its feature map at every stride.

  Attributes:
    width: width multiplier applied to every stage's channels.
    stem_features: channels of the first (stride-2) convolution before `width`.
    stages: (expansion, channels, repeats, stride) per stage, MobileNetV2's
      table; the product of the strides (times 2 for the stem) is the final
      stride.
  """

  width: float
  stem_features: int
  stages: Sequence[Sequence[int]]
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    """x: [N, H, W, C] -> {stride: [N, H/stride, W/stride, c]}.

    Each stride (2, 4, 8, ... up to the final one) maps to the output of the
    last block at that stride, the map just before a stride-2 block takes it
    further: the decoder's skips. The final stride's entry is the top.
    """
    x = ConvBN(
        _round_channels(self.stem_features * self.width), 3, 2, dtype=self.dtype
    )(x, train)
    stride, features = 2, {2: x}
    for expansion, channels, repeats, first_stride in self.stages:
      for r in range(repeats):
        s = first_stride if r == 0 else 1
        x = InvertedResidual(
            _round_channels(channels * self.width),
            expansion,
            s,
            self.formulation,
            self.dtype,
        )(x, train)
        stride *= s
        features[stride] = x
    if stride not in (8, 16, 32):
      raise ValueError(
          f"Encoder stages give stride {stride}; need 8, 16 or 32."
      )
    return features


def upsample_to(x, hw):
  """Nearest-neighbour upsampling of [N, h, w, C] by an integer factor.

  Each coarse cell covers whole fine cells ('SAME' strides), so this is a
  repeat, cropped where the fine size is odd; it exports as reshapes and
  broadcasts instead of the gathers of a general resize.
  """
  h, w = hw
  fy, fx = -(-h // x.shape[1]), -(-w // x.shape[2])
  if -(-h // fy) != x.shape[1] or -(-w // fx) != x.shape[2]:
    raise ValueError(f"Cannot upsample {x.shape[1:3]} to {hw} by a factor.")
  x = jnp.repeat(jnp.repeat(x, fy, axis=1), fx, axis=2)
  return x[:, :h, :w]


class Fuse(nn.Module):
  """Upsamples the coarse map to the skip's finer grid and merges the skip.

  Both are projected to `features` by 1x1 ConvBNs (the coarse one before the
  upsampling, where it is cheaper), added, then mixed by a depthwise ConvBN
  and a 1x1 ConvBN.
  """

  features: int
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  @nn.compact
  def __call__(self, top, skip, train: bool):
    n, h, w, _ = skip.shape
    conv = functools.partial(
        ConvBN, self.features, formulation=self.formulation, dtype=self.dtype
    )
    top = upsample_to(conv()(top, train), (h, w))
    x = top + conv()(skip, train)
    x = DepthwiseBN(1, self.formulation, self.dtype)(x, train)
    return conv()(x, train)


class Head(nn.Module):
  """Per-joint heatmap logits and sub-cell offsets on the decoder's grid."""

  num_joints: int
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    """x: [N, h, w, C] -> heatmaps [N, h, w, J], offsets [N, h, w, J, 2]."""
    x = DepthwiseBN(1, self.formulation, self.dtype)(x, train)
    out = layers.PointwiseConv(
        3 * self.num_joints, impl=self.formulation.pointwise, dtype=self.dtype
    )(x)
    out = out.astype(jnp.float32)
    heatmaps = out[..., : self.num_joints]
    offsets = out[..., self.num_joints :].reshape(
        *out.shape[:-1], self.num_joints, 2
    )
    return {"heatmaps": heatmaps, "offsets": offsets}


# MobileNetV2's table up to stride 16: (expansion, channels, repeats, stride).
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
)


class PoseNet(nn.Module):
  """Heatmap pose estimator with a recurrent cell at a configurable stride.

  The cell runs either on the encoder's final map (`cell_stride` equal to the
  encoder's stride: cheapest, widest receptive field) or after the decoder on
  the stride-8 grid (finer memory, more compute). With `cell_skip` the
  frame's own features also pass the cell, concatenated to its output, so
  the decoder never sees the current frame only through the gated state.

  The head predicts on the stride-`head_stride` grid: 8, the decoder's
  stride-8 fuse, or 4, where a second `Fuse` (of `decoder_features_s4`
  channels: the stride-4 grid has 4x the cells) upsamples that result and
  merges the encoder's stride-4 map. The cell never runs at stride 4.
  """

  num_joints: int
  width: float = 1.0
  stem_features: int = 32
  stages: Sequence[Sequence[int]] = MOBILENET_V2_STAGES
  decoder_features: int = 64
  head_stride: int = 4
  decoder_features_s4: int = 32
  cell: str = "gru"
  cell_features: int = 64
  cell_kernel: int = 3
  cell_stride: int = 16
  cell_skip: bool = False
  warp_state: bool = True
  formulation: layers.Formulation = layers.Formulation()
  dtype: Any = None

  def setup(self):
    if self.head_stride not in HEAD_STRIDES:
      raise ValueError(
          f"head_stride={self.head_stride!r}; expected one of {HEAD_STRIDES}."
      )
    self.encoder = Encoder(
        self.width,
        self.stem_features,
        self.stages,
        self.formulation,
        self.dtype,
    )
    self.fuse = Fuse(self.decoder_features, self.formulation, self.dtype)
    if self.head_stride == 4:
      self.fuse_s4 = Fuse(
          self.decoder_features_s4, self.formulation, self.dtype
      )
    self.recurrent = cells.make_cell(
        self.cell,
        self.cell_features,
        self.cell_kernel,
        self.dtype,
        self.formulation.dense,
    )
    self.head = Head(self.num_joints, self.formulation, self.dtype)

  def _before_cell(self, frames, train):
    """frames -> (the encoder's maps by stride, the cell's input)."""
    features = self.encoder(frames, train)
    if 4 not in features and self.head_stride == 4:
      raise ValueError(
          "head_stride=4 needs a stride-4 encoder map; the stages skip it."
      )
    top = features[max(features)]
    if self.cell_stride == 8:
      return features, self.fuse(top, features[8], train)
    if -(-frames.shape[1] // self.cell_stride) != top.shape[1]:
      raise ValueError(
          f"cell_stride={self.cell_stride} matches neither 8 nor the encoder's "
          f"final stride (input {frames.shape[1]} rows -> {top.shape[1]})."
      )
    return features, top

  def _cell_output(self, x, y):
    """The cell's output y, with its input x beside it under `cell_skip`."""
    if self.cell_skip and self.cell != "none":
      return jnp.concatenate([x, y.astype(x.dtype)], axis=-1)
    return y

  def _after_cell(self, features, x, train):
    if self.cell_stride != 8:
      x = self.fuse(x, features[8], train)
    if self.head_stride == 4:
      x = self.fuse_s4(x, features[4], train)
    return self.head(x, train)

  def __call__(self, frames, train: bool = False, rois=None):
    """Runs a clip.

    Args:
      frames: [B, T, H, W, C] normalised frames.
      train: batch-norm mode.
      rois: [B, T, 3] the ROI each frame was cropped with (frame pixels);
        with `warp_state`, the cell's state is brought from each frame's ROI
        grid onto the next one's before the next frame, as the tracked
        streaming step does. None: frames share one geometry.

    Returns:
      heatmaps [B, T, h, w, J] logits and offsets [B, T, h, w, J, 2].
    """
    b, t = frames.shape[:2]
    input_hw = frames.shape[2:4]
    features, x = self._before_cell(
        frames.reshape(b * t, *frames.shape[2:]), train
    )
    x = x.reshape(b, t, *x.shape[1:])
    carry = self.recurrent.initialize_carry(x[:, 0].shape, x.dtype)
    warp = self.warp_state and rois is not None and self.cell != "none"
    if rois is None:
      rois = jnp.zeros((b, t, 3), jnp.float32)
    previous = jnp.concatenate([rois[:, :1], rois[:, :-1]], axis=1)

    def cell_fn(cell, c, xs):
      x_t, roi_from, roi_to = xs
      if warp:
        c = jax.tree.map(
            lambda s: roi.warp_grid(s, roi_from, roi_to, input_hw,
                                    self.cell_stride, jnp), c)
      return cell(c, x_t)

    scan = nn.scan(
        cell_fn,
        variable_broadcast="params",
        split_rngs={"params": False},
        in_axes=1,
        out_axes=1,
    )
    _, y = scan(self.recurrent, carry, (x, previous, rois))
    y = self._cell_output(x, y)
    out = self._after_cell(features, y.reshape(b * t, *y.shape[2:]), train)
    return jax.tree.map(lambda y: y.reshape(b, t, *y.shape[1:]), out)

  def step(self, frame, carry):
    """Runs one frame in inference mode with the state passed explicitly.

    Args:
      frame: [B, H, W, C] normalised frame.
      carry: the cell's state from `initial_state` or the previous step.

    Returns:
      (outputs, new_carry): heatmaps [B, h, w, J], offsets [B, h, w, J, 2].
    """
    features, x = self._before_cell(frame, train=False)
    carry, y = self.recurrent(carry, x)
    return (
        self._after_cell(features, self._cell_output(x, y), train=False),
        carry,
    )

  def initial_state(self, frame_shape):
    """Zero state for frames of shape [B, H, W, C]."""
    b, h, w, _ = frame_shape
    stride = self.cell_stride
    cell_shape = (b, -(-h // stride), -(-w // stride), 1)
    return self.recurrent.initialize_carry(cell_shape)


def from_config(model_config, choices) -> PoseNet:
  """The PoseNet that `config.model` describes, field for field.

  Args:
    model_config: `config.model`; every field but the compile choices (the
      ones `choices` names) is a PoseNet field of the same name.
    choices: the compile choices, resolved for the backend
      (`hardware.resolve(config)`: depthwise/pointwise/dense_impl and
      compute_dtype).

  Raises:
    ValueError: a `config.model` field that PoseNet does not have.
  """
  # The fields that say how to compile, not what to compute, are the ones
  # the backend's choices resolved (hardware.FORMULATION_FIELDS).
  architecture = {
      k: v for k, v in model_config.items() if not hasattr(choices, k)
  }
  known = {f.name for f in dataclasses.fields(PoseNet)}
  unknown = sorted(set(architecture) - known)
  if unknown:
    raise ValueError(
        f"config.model fields {unknown} are not PoseNet fields; PoseNet "
        f"takes {sorted(known - {'parent', 'name'})}."
    )
  architecture["stages"] = tuple(tuple(s) for s in architecture["stages"])
  return PoseNet(
      num_joints=skeleton.NUM_JOINTS,
      formulation=layers.Formulation(
          choices.depthwise_impl, choices.pointwise_impl, choices.dense_impl
      ),
      dtype=jnp.bfloat16 if choices.compute_dtype == "bfloat16" else None,
      **architecture,
  )
