"""The region of interest (ROI): which part of a frame the model looks at.

One implementation of every geometric rule about crops, shared by the
training pipeline (TensorFlow), the tracked streaming step (JAX, exported to
TFLite) and the demo (NumPy). Each function takes the array module as `xp`:
`numpy`, `jax.numpy` or `tensorflow.experimental.numpy`, and uses only
arithmetic and a few functions all three provide, so the rule is written once.

An ROI is `[..., 3]` = (cx, cy, height) in frame pixels, pixel centres at
integers. Its width is height * aspect, with aspect = input width / input
height, so an ROI maps onto the model's input by one uniform scale and a shift
(no rotation): input u = s * (x - cx) + (W_in - 1) / 2 with s = H_in / height,
and the same for v. The ROI spans [cx - width/2, cx + width/2] in frame pixel
edges, which lands on the input's pixel edges [-0.5, W_in - 0.5].

Frames of a stream start with `whole_frame` (the frame letterboxed into the
input); every next ROI comes from the current keypoints (`from_keypoints`),
or from the whole frame again when tracking is judged lost (`next_roi`).
"""

import numpy as np

# Keypoints beyond this are treated as absent when bounding valid ones.
_FAR = 1e7


def aspect(input_hw) -> float:
  """Width over height of the model's input, and so of every ROI."""
  return input_hw[1] / input_hw[0]


def scale(roi, input_hw):
  """Input pixels per frame pixel: [...]."""
  return input_hw[0] / roi[..., 2]


def whole_frame(frame_hw, input_hw, xp=np):
  """The ROI that fits the whole frame inside the input (letterbox).

  Args:
    frame_hw: (H, W) of the frame, numbers or scalars of `xp`.
    input_hw: (H_in, W_in) of the model's input.

  Returns:
    [3] (cx, cy, height): centred, tall enough that the frame's width fits.
  """
  h, w = frame_hw
  h = xp.asarray(h, dtype=xp.float32)
  w = xp.asarray(w, dtype=xp.float32)
  height = xp.maximum(h, w / aspect(input_hw))
  return xp.stack([(w - 1) / 2, (h - 1) / 2, height])


def from_keypoints(points, valid, input_hw, margin: float, min_height,
                   xp=np):
  """The ROI around the valid keypoints of each pose.

  The ROI is centred on the keypoints' bounding box, and its height covers
  the box (its width divided by the aspect, where that is larger) times
  `margin`, never below `min_height` frame pixels.

  Args:
    points: [..., J, 2] (x, y) in frame pixels.
    valid: [..., J] bool, the keypoints to bound (at least one per pose, or
      the ROI is meaningless; callers fall back to `whole_frame`).
    input_hw: the model's input size (for the aspect).
    margin: box extent -> ROI height factor (e.g. 1.25).
    min_height: the smallest ROI height, frame pixels.

  Returns:
    [..., 3] ROIs.
  """
  x, y = points[..., 0], points[..., 1]
  x0 = xp.min(xp.where(valid, x, _FAR), axis=-1)
  x1 = xp.max(xp.where(valid, x, -_FAR), axis=-1)
  y0 = xp.min(xp.where(valid, y, _FAR), axis=-1)
  y1 = xp.max(xp.where(valid, y, -_FAR), axis=-1)
  extent = xp.maximum(y1 - y0, (x1 - x0) / aspect(input_hw))
  height = xp.maximum(extent * margin, min_height)
  return xp.stack([(x0 + x1) / 2, (y0 + y1) / 2, height], axis=-1)


def follow_previous(points, valid, frame_hw, input_hw, margin: float,
                    min_height_fraction: float, xp=np):
  """The ROIs of a tracker that is one frame behind: frame t's ROI bounds
  the ground truth of frame t - 1 (frame 0: its own), as `from_keypoints`.

  The training pipeline jitters these as a tracker's estimates would be;
  evaluation with oracle ROIs takes them as they are.

  Args:
    points: [T, J, 2] keypoints in frame pixels.
    valid: [T, J] bool.
    frame_hw: (H, W) of the frames.
    input_hw: the model's input size.
    margin, min_height_fraction: `config.input.crop`'s.

  Returns:
    ([T, 3] ROIs, [T] bool: whether frame t - 1 had a valid keypoint; where
    not, the ROI is meaningless and callers take `whole_frame`).
  """
  previous = xp.concatenate([points[:1], points[:-1]], axis=0)
  prev_valid = xp.concatenate([valid[:1], valid[:-1]], axis=0)
  min_height = min_height_fraction * whole_frame(frame_hw, input_hw, xp)[2]
  fitted = from_keypoints(previous, prev_valid, input_hw, margin, min_height,
                          xp)
  return fitted, xp.any(prev_valid, axis=-1)


def next_roi(points, confidences, roi, frame_hw, input_hw, cfg, xp=np):
  """The tracker's rule: the ROI of the next frame from this frame's pose.

  Tracking is judged lost when the mean confidence over the joints is below
  `cfg.lost_threshold`; the next frame then starts again from the whole
  frame. Otherwise the ROI bounds the joints whose confidence reaches
  `cfg.min_joint_confidence` (all of them when none does), and is blended
  with the current ROI by `cfg.smoothing` (0: follow the keypoints at once).

  Args:
    points: [..., J, 2] keypoints in frame pixels.
    confidences: [..., J] in [0, 1].
    roi: [..., 3] this frame's ROI.
    frame_hw: (H, W) of the frame.
    input_hw: the model's input size.
    cfg: `config.tracking` (margin, min_height_fraction, lost_threshold,
      min_joint_confidence, smoothing).

  Returns:
    ([..., 3] next ROI, [...] bool lost).
  """
  whole = whole_frame(frame_hw, input_hw, xp)
  confident = confidences >= cfg.min_joint_confidence
  any_confident = xp.max(xp.where(confident, 1.0, 0.0), axis=-1) > 0
  valid = confident | ~any_confident[..., None]
  min_height = cfg.min_height_fraction * whole[2]
  fitted = from_keypoints(points, valid, input_hw, cfg.margin, min_height, xp)
  fitted = cfg.smoothing * roi + (1 - cfg.smoothing) * fitted
  lost = xp.mean(confidences, axis=-1) < cfg.lost_threshold
  return xp.where(lost[..., None], whole + 0 * roi, fitted), lost


def affine(roi, input_hw) -> np.ndarray:
  """[2, 3] float64 taking frame pixels to the ROI's input pixels (for
  OpenCV's warpAffine): u = s x + tx, v = s y + ty."""
  roi = np.asarray(roi, np.float64)
  s = input_hw[0] / roi[2]
  return np.array([[s, 0.0, (input_hw[1] - 1) / 2 - s * roi[0]],
                   [0.0, s, (input_hw[0] - 1) / 2 - s * roi[1]]])


def to_input(points, roi, input_hw):
  """Frame pixels -> input pixels of the ROI's crop: [..., J, 2]."""
  s = scale(roi, input_hw)[..., None, None]
  centre_in = np.array([(input_hw[1] - 1) / 2, (input_hw[0] - 1) / 2],
                       np.float32)
  return (points - roi[..., None, :2]) * s + centre_in


def to_frame(points, roi, input_hw):
  """Input pixels of the ROI's crop -> frame pixels: [..., J, 2]."""
  s = scale(roi, input_hw)[..., None, None]
  centre_in = np.array([(input_hw[1] - 1) / 2, (input_hw[0] - 1) / 2],
                       np.float32)
  return (points - centre_in) / s + roi[..., None, :2]


def sample_positions(roi, size: int, axis: int, input_hw, stride: int = 1):
  """Frame coordinates sampled by a grid on the ROI's input, along one axis.

  Args:
    roi: [..., 3].
    size: cells along the axis.
    axis: 0 for rows (y), 1 for columns (x).
    input_hw: the model's input size.
    stride: input pixels per cell (1: input pixels; s: a stride-s feature
      map, whose cell j is centred at input pixel j * s + (s - 1) / 2).

  Returns:
    [..., size] frame coordinates of the cell centres.
  """
  cells = np.arange(size, dtype=np.float32) * stride + (stride - 1) / 2
  centre_in = (input_hw[axis] - 1) / 2
  s = scale(roi, input_hw)[..., None]
  return (cells - centre_in) / s + roi[..., None, 1 - axis]


def interpolation_matrix(positions, source_size: int, nearest: bool, xp=np):
  """Weights that resample a source axis at `positions`: [..., n, source].

  Bilinear (tent) weights, or a one-hot of the nearest source index; a
  position off the source gets weight only from the source indices it
  overlaps, so beyond the edge the result fades to zero, as a crop with
  zero fill does.
  """
  index = np.arange(source_size, dtype=np.float32)
  d = positions[..., :, None] - index
  if nearest:
    # The index rounded half away from zero, as TensorFlow's crop in the
    # training pipeline rounds it: a position of -0.5 is off the source.
    tie_down = (d == -0.5) & (positions[..., :, None] >= 0)
    return xp.where(((d > -0.5) | tie_down) & (d < 0.5), 1.0, 0.0)
  return xp.maximum(1 - xp.abs(d), 0.0)


def grid_resampling(roi_from, roi_to, size: int, axis: int, input_hw,
                    stride: int, xp=np):
  """Carries a feature map on one ROI's grid over to another ROI's grid.

  A recurrent state lives on the cells of its ROI's stride-`stride` grid.
  When the next frame's ROI moves or rescales, cell i of the new grid sees
  the frame point that sat at a fractional cell of the old grid; this is
  that resampling along one axis (axis-aligned ROIs make it separable).

  Returns:
    [..., size, size] weights: new[i] = sum_k w[i, k] old[k].
  """
  frame = sample_positions(roi_to, size, axis, input_hw, stride)
  centre_in = (input_hw[axis] - 1) / 2
  old_in = (frame - roi_from[..., None, 1 - axis]) * scale(
      roi_from, input_hw)[..., None] + centre_in
  return interpolation_matrix((old_in - (stride - 1) / 2) / stride, size,
                              nearest=False, xp=xp)


def warp_grid(x, roi_from, roi_to, input_hw, stride: int, xp=np):
  """A feature map on `roi_from`'s grid brought onto `roi_to`'s grid.

  Two small matrix products (rows, then columns), which TFLite runs as
  builtin batch matmuls.

  Args:
    x: [B, h, w, F] on the stride-`stride` grid of the ROI `roi_from` [B, 3].
    roi_to: [B, 3].

  Returns:
    [B, h, w, F]; cells that saw no part of the old ROI are zero.
  """
  h, w = x.shape[1], x.shape[2]
  rows = grid_resampling(roi_from, roi_to, h, 0, input_hw, stride, xp)
  cols = grid_resampling(roi_from, roi_to, w, 1, input_hw, stride, xp)
  rows, cols = rows.astype(x.dtype), cols.astype(x.dtype)
  return xp.einsum("bjl,bilf->bijf", cols, xp.einsum("bik,bklf->bilf", rows, x))


def crop(frame, roi_, input_hw, nearest: bool, xp=np):
  """The ROI of one frame resampled to the input: [H, W, C] -> [h, w, C].

  Bilinear (colour) or nearest (depth) sampling, zero outside the frame, as
  two matrix products over rows and columns.
  """
  height, width = frame.shape[:2]
  rows = interpolation_matrix(
      sample_positions(roi_, input_hw[0], 0, input_hw), height, nearest, xp)
  cols = interpolation_matrix(
      sample_positions(roi_, input_hw[1], 1, input_hw), width, nearest, xp)
  x = xp.einsum("ih,hwc->iwc", rows, frame.astype(xp.float32))
  return xp.einsum("jw,iwc->ijc", cols, x)
