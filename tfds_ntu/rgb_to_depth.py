"""Brings NTU colour video into the depth camera's geometry.

Every joint of a `.skeleton` file has a depth pixel (depthX depthY, 512x424)
and a colour pixel (colorX colorY, 1920x1080). A homography from depth pixels
to colour pixels, fitted per sample over all its tracked joints, maps one
image onto the other: exact for points on one plane, and the body stands at
roughly one depth, so the parallax it leaves over a body (~0.3 m deep at
~3 m) is ~2 colour pixels, under one depth pixel.

Pixel coordinates follow `kinect` and the skeleton files: pixel (i, j) of an
image covers [j, j + 1) x [i, i + 1), its centre at (j + 0.5, i + 0.5), so
resizing an image by s scales coordinates by s. (Whether the Kinect SDK put
pixel centres at integers instead is not documented; it would move the warp
by half a depth pixel at most.)
"""

import cv2
import numpy as np

from tfds_ntu import layout

# Tracking state of a joint Kinect tracked (1 is inferred, 0 not tracked).
TRACKED = 2
# Robust refit: drop points whose reprojection error exceeds
# max(OUTLIER_FACTOR x median, OUTLIER_FLOOR_PX) colour pixels, then refit;
# ROBUST_ROUNDS times. The floor keeps limbs off the body's plane (their
# parallax reaches ~3 px on real files) and exactly consistent data (synthetic
# files, rounded to 7 digits) from losing joints.
OUTLIER_FACTOR = 3.0
OUTLIER_FLOOR_PX = 3.0
ROBUST_ROUNDS = 2


def _normalization(xy):
  """[3, 3] similarity taking [N, 2] points to centroid 0, mean distance
  sqrt(2) (Hartley); None when the points coincide."""
  centre = xy.mean(axis=0)
  spread = np.linalg.norm(xy - centre, axis=1).mean()
  if not spread > 1e-9:
    return None
  s = np.sqrt(2.0) / spread
  return np.array([[s, 0.0, -s * centre[0]], [0.0, s, -s * centre[1]],
                   [0.0, 0.0, 1.0]])


def _apply(h, xy):
  """[N, 2] points through a [3, 3] homography -> ([N, 2], [N] w)."""
  p = xy @ h[:, :2].T + h[:, 2]
  return p[:, :2] / p[:, 2:], p[:, 2]


def _dlt(src, dst):
  """Normalised DLT: the homography taking [N, 2] src to dst, least squares.

  Raises:
    ValueError: when the points do not fix a homography (coincident or
      collinear points, or a singular result).
  """
  t_src, t_dst = _normalization(src), _normalization(dst)
  if t_src is None or t_dst is None:
    raise ValueError('degenerate homography fit: all points coincide')
  a, b = _apply(t_src, src)[0], _apply(t_dst, dst)[0]
  for name, p in (('depth', a), ('colour', b)):
    # After normalisation the second-moment eigenvalues sum to ~1-2.
    if np.linalg.eigvalsh(p.T @ p / len(p))[0] < 1e-6:
      raise ValueError(f'degenerate homography fit: the {name} points are '
                       'collinear')
  x, y = a.T
  u, v = b.T
  one, zero = np.ones_like(x), np.zeros_like(x)
  rows = np.concatenate([
      np.stack([x, y, one, zero, zero, zero, -u * x, -u * y, -u], axis=1),
      np.stack([zero, zero, zero, x, y, one, -v * x, -v * y, -v], axis=1)])
  _, sv, vt = np.linalg.svd(rows, full_matrices=False)
  if sv[-2] < 1e-9 * sv[0]:
    raise ValueError('degenerate homography fit: the points leave it '
                     'undetermined')
  h = np.linalg.inv(t_dst) @ vt[-1].reshape(3, 3) @ t_src
  if abs(h[2, 2]) < 1e-12 or abs(np.linalg.det(h / h[2, 2])) < 1e-12:
    raise ValueError('degenerate homography fit: singular homography')
  return h / h[2, 2]


def depth_to_colour(h, depth_xy):
  """[..., 2] depth pixels -> [..., 2] colour pixels through homography h."""
  xy = np.asarray(depth_xy, np.float64)
  return _apply(h, xy.reshape(-1, 2))[0].reshape(xy.shape)


def _fit(depth_xy, colour_xy, tracking_state, min_points):
  """`fit_depth_to_colour`, also returning the [N] bool mask of the usable
  joints it kept (N = all joints, flattened)."""
  depth_xy = np.asarray(depth_xy, np.float64)
  colour_xy = np.asarray(colour_xy, np.float64)
  state = np.asarray(tracking_state)
  if (depth_xy.shape[-1:] != (2,) or colour_xy.shape != depth_xy.shape or
      state.shape != depth_xy.shape[:-1]):
    raise ValueError(
        f'expected depth_xy and colour_xy [..., 2] and tracking_state [...] '
        f'of the same leading shape, got {depth_xy.shape}, {colour_xy.shape} '
        f'and {state.shape}')
  src, dst = depth_xy.reshape(-1, 2), colour_xy.reshape(-1, 2)
  usable = ((state.reshape(-1) == TRACKED) &
            np.isfinite(src).all(axis=1) & np.isfinite(dst).all(axis=1))
  if usable.sum() < min_points:
    raise ValueError(
        f'too few tracked joints to fit the depth-to-colour homography: '
        f'{usable.sum()} of {len(usable)} joints, at least {min_points} '
        'needed')
  kept = usable
  h = _dlt(src[kept], dst[kept])
  for _ in range(ROBUST_ROUNDS):
    error = np.linalg.norm(_apply(h, src[usable])[0] - dst[usable], axis=1)
    limit = max(OUTLIER_FACTOR * np.median(error), OUTLIER_FLOOR_PX)
    inliers = usable.copy()
    inliers[usable] = error <= limit
    if inliers.sum() < min_points:
      raise ValueError(
          f'too few consistent joints to fit the depth-to-colour homography: '
          f'{inliers.sum()} of {usable.sum()} tracked joints are within '
          f'{limit:.1f} colour px, at least {min_points} needed')
    if np.array_equal(inliers, kept):
      break
    kept = inliers
    h = _dlt(src[kept], dst[kept])
  mapped, w = _apply(h, src[kept])
  if not (np.all(w > 0) or np.all(w < 0)):
    raise ValueError('degenerate homography fit: the joints straddle the '
                     "homography's line at infinity")
  residual = float(np.sqrt(np.mean(np.sum((mapped - dst[kept])**2, axis=1))))
  return h, residual, kept


def fit_depth_to_colour(depth_xy, colour_xy, tracking_state, min_points=12):
  """Fits the homography taking depth pixels to colour pixels.

  Uses the tracked joints (state 2) with finite coordinates: a normalised
  DLT least-squares fit, then up to ROBUST_ROUNDS refits without the points
  whose error exceeds max(OUTLIER_FACTOR x median, OUTLIER_FLOOR_PX) colour
  pixels (Kinect sometimes maps a joint wrongly). Deterministic.

  Args:
    depth_xy: [..., 2] depth pixels (512x424), e.g. [T, 25, 2] joints or
      several bodies' joints stacked.
    colour_xy: [..., 2] the same joints' colour pixels (1920x1080).
    tracking_state: [...] int tracking states.
    min_points: fewest usable (and, after the robust step, kept) joints.

  Returns:
    h [3, 3] float64 with h[2, 2] = 1, taking (x, y, 1) in depth pixels to
    colour pixels up to scale, and the RMS colour-pixel error of the kept
    joints.

  Raises:
    ValueError: when the shapes disagree, fewer than `min_points` joints
      are usable or kept, or the points do not determine a homography.
  """
  h, residual, _ = _fit(depth_xy, colour_xy, tracking_state, min_points)
  return h, residual


def _pixel_to_index(scale_x, scale_y):
  """[3, 3] from full-size pixel coordinates to array indices of the image
  resized by (scale_x, scale_y): index = scale x coordinate - 0.5."""
  return np.array([[scale_x, 0.0, -0.5], [0.0, scale_y, -0.5],
                   [0.0, 0.0, 1.0]])


def warp_colour_to_depth(frames, h, out_size, colour_size=layout.RGB_SIZE,
                         depth_size=layout.DEPTH_SIZE):
  """Resamples colour frames on the depth camera's pixel grid.

  Args:
    frames: [T, Hc, Wc, 3] uint8 colour frames: the colour_size video,
      possibly resized to (Hc, Wc).
    h: [3, 3] depth-to-colour homography in full-size pixels
      (`fit_depth_to_colour`).
    out_size: (height, width) of the output: the depth image's view resized
      to it.
    colour_size: (height, width) of the video `h` refers to.
    depth_size: (height, width) of the depth image `h` refers to.

  Returns:
    [T, height, width, 3] uint8: bilinear samples of the colour frames; 0
    where a depth pixel falls outside the colour view.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'expected [T, H, W, 3] uint8 frames, got '
                     f'{frames.dtype} {frames.shape}')
  height, width = out_size
  frame_h, frame_w = frames.shape[1:3]
  to_frame = _pixel_to_index(frame_w / colour_size[1],
                             frame_h / colour_size[0])
  to_out = _pixel_to_index(width / depth_size[1], height / depth_size[0])
  # Output index -> depth pixel -> colour pixel -> frame index.
  m = to_frame @ np.asarray(h, np.float64) @ np.linalg.inv(to_out)
  out = np.zeros((len(frames), height, width, 3), np.uint8)
  for t, frame in enumerate(frames):
    out[t] = cv2.warpPerspective(
        frame, m, (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
  return out
