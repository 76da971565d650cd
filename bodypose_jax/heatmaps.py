"""Heatmap targets and keypoint decoding on the model's output grid.

Coordinates are input-image pixels with pixel centres at integers. Output cell
(i, j) of a stride-s grid covers input pixels [j*s, (j+1)*s) horizontally, so
its centre is at x = j*s + (s-1)/2. A keypoint is the peak cell's centre plus
that cell's predicted offset times s.
"""

import jax
import jax.numpy as jnp


def cell_centres(size: int, stride: int) -> jax.Array:
  """Input-pixel centre of each of `size` cells along one axis: [size]."""
  return jnp.arange(size, dtype=jnp.float32) * stride + (stride - 1) / 2


def gaussian_targets(joints, grid_hw, stride: int, sigma: float):
  """Per-joint target distributions over the grid (each sums to one).

  Args:
    joints: [..., J, 2] (x, y) in input pixels.
    grid_hw: (h, w) of the output grid.
    stride: input pixels per output cell.
    sigma: Gaussian standard deviation in output cells.

  Returns:
    [..., h, w, J] non-negative, summing to 1 over (h, w).
  """
  h, w = grid_hw
  xs, ys = cell_centres(w, stride), cell_centres(h, stride)
  dx = (xs[:, None] - joints[..., None, :, 0]) / stride  # [..., w, J]
  dy = (ys[:, None] - joints[..., None, :, 1]) / stride  # [..., h, J]
  logits = -(dy[..., :, None, :] ** 2 + dx[..., None, :, :] ** 2) / (
      2 * sigma**2
  )
  flat = logits.reshape(*logits.shape[:-3], h * w, logits.shape[-1])
  return jax.nn.softmax(flat, axis=-2).reshape(logits.shape)


def target_cells(joints, grid_hw, stride: int):
  """The grid cell holding each joint and the offset to it, in cells.

  Args:
    joints: [..., J, 2] (x, y) in input pixels.

  Returns:
    index [..., J] flat cell index (row-major), clipped to the grid;
    offsets [..., J, 2] (joint - cell centre) / stride.
  """
  h, w = grid_hw
  col = jnp.clip(jnp.floor(joints[..., 0] / stride), 0, w - 1)
  row = jnp.clip(jnp.floor(joints[..., 1] / stride), 0, h - 1)
  centre = jnp.stack([col, row], -1) * stride + (stride - 1) / 2
  index = (row * w + col).astype(jnp.int32)
  return index, (joints - centre) / stride


def decode(heatmaps, offsets, stride: int):
  """Keypoints from heatmap logits and offsets.

  Args:
    heatmaps: [..., h, w, J] logits.
    offsets: [..., h, w, J, 2] predicted (x, y) offsets in cells.
    stride: input pixels per cell.

  Returns:
    keypoints [..., J, 2] in input pixels; confidences [..., J], the softmax
    probability mass of the peak cell.
  """
  h, w, j = heatmaps.shape[-3:]
  flat = heatmaps.reshape(*heatmaps.shape[:-3], h * w, j)
  index = jnp.argmax(flat, axis=-2)  # [..., J]
  probs = jax.nn.softmax(flat, axis=-2)
  confidence = jnp.take_along_axis(probs, index[..., None, :], -2)[..., 0, :]
  flat_off = offsets.reshape(*offsets.shape[:-4], h * w, j, 2)
  off = jnp.take_along_axis(flat_off, index[..., None, :, None], -3)[
      ..., 0, :, :
  ]
  col, row = index % w, index // w
  centre = (
      jnp.stack([col, row], -1).astype(jnp.float32) * stride + (stride - 1) / 2
  )
  return centre + off * stride, confidence
