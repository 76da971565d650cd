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


def spatial_softmax(heatmaps):
  """Per-joint probabilities over the grid: [..., h, w, J] -> same shape.

  The softmax runs over the last axis of a [..., J, h*w] view, the form
  TFLite fuses into one SOFTMAX op (a softmax over another axis becomes
  EXP/SUM/DIV, whose int8 version divides by sums rounded to zero).
  """
  h, w, j = heatmaps.shape[-3:]
  flat = jnp.swapaxes(heatmaps.reshape(*heatmaps.shape[:-3], h * w, j), -1, -2)
  probs = jax.nn.softmax(flat, axis=-1)
  return jnp.swapaxes(probs, -1, -2).reshape(heatmaps.shape)


def decode(heatmaps, offsets, stride: int):
  """Keypoints from heatmap logits and offsets.

  Only the peak cell's offset is read (one gather per joint) and its centre
  comes from the flat index by integer division, so that the cost of the
  exported graph past the head is a softmax and an argmax over the grid:
  summing one-hot masks over every cell, as this once did, was a third of
  a small int8 model's latency.

  Args:
    heatmaps: [..., h, w, J] logits.
    offsets: [..., h, w, J, 2] predicted (x, y) offsets in cells.
    stride: input pixels per cell.

  Returns:
    keypoints [..., J, 2] in input pixels; confidences [..., J], the softmax
    probability mass of the peak cell.
  """
  h, w, j = heatmaps.shape[-3:]
  lead = heatmaps.shape[:-3]
  # The peak cell is the largest logit's and so the largest probability's.
  confidence = spatial_softmax(heatmaps).reshape(*lead, h * w, j).max(-2)
  index = jnp.argmax(heatmaps.reshape(*lead, h * w, j), axis=-2)  # [..., J]
  offset = jnp.take_along_axis(
      offsets.reshape(*lead, h * w, j, 2),
      index[..., None, :, None],
      axis=-3,
      mode="promise_in_bounds",
  )[..., 0, :, :]  # [..., J, 2]
  row = jax.lax.div(index, w)  # non-negative: truncation is floor
  col = index - row * w
  centre = jnp.stack([col, row], -1).astype(jnp.float32) * stride + (
      stride - 1
  ) / 2
  return centre + offset * stride, confidence


def expected_keypoints(heatmaps, offsets, stride: int):
  """Differentiable keypoints: each cell's estimate weighed by its probability.

  `decode` reads one cell (the argmax), so its output is a step function of
  the logits and has no gradient through them. This is the expectation over
  the spatial softmax of what `decode` would return at each cell (its centre
  plus its offset), smooth in both heads, for losses on keypoint positions.

  Args:
    heatmaps: [..., h, w, J] logits.
    offsets: [..., h, w, J, 2] predicted (x, y) offsets in cells.
    stride: input pixels per cell.

  Returns:
    [..., J, 2] (x, y) in input pixels.
  """
  h, w, _ = heatmaps.shape[-3:]
  probs = spatial_softmax(heatmaps)  # [..., h, w, J]
  xs, ys = cell_centres(w, stride), cell_centres(h, stride)
  centres = jnp.stack(jnp.broadcast_arrays(xs[None, :], ys[:, None]), -1)
  estimates = centres[:, :, None, :] + offsets * stride  # [..., h, w, J, 2]
  return (probs[..., None] * estimates).sum(axis=(-4, -3))
