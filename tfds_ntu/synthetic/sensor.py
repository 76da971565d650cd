"""What the Kinect v2 sensors do to a clean rendering.

Depth (time of flight): noise growing with distance, quantisation to whole
millimetres, holes (no reading: dark or specular patches, out of range), and
flying pixels, the mixed depths ToF reports where a pixel straddles a depth
edge. Colour: exposure, defocus blur, sensor noise and JPEG compression.
"""

import dataclasses
import statistics

import cv2
import numpy as np

from tfds_ntu import kinect


@dataclasses.dataclass(frozen=True)
class SensorNoise:
  """How much each degradation does (per-sample values are drawn from the
  (low, high) ranges).

  Attributes:
    depth_noise_mm: (a, b): depth noise std is a + b z^2 mm, z in metres.
    hole_fraction: fraction of depth pixels in random holes.
    flying_pixel_prob: fraction of depth-edge pixels given a mixed depth.
    edge_threshold_m: a depth step at least this large is an edge.
    rgb_blur_px: (low, high) Gaussian blur sigma at 1920x1080, pixels.
    rgb_noise: (low, high) std of additive colour noise (0-255 scale).
    rgb_gain: (low, high) exposure: a factor on every colour.
    jpeg_quality: (low, high) JPEG quality each colour frame goes through.
  """
  depth_noise_mm: tuple[float, float] = (1.0, 1.5)
  hole_fraction: float = 0.01
  flying_pixel_prob: float = 0.5
  edge_threshold_m: float = 0.1
  rgb_blur_px: tuple[float, float] = (0.5, 4.0)
  rgb_noise: tuple[float, float] = (1.0, 5.0)
  rgb_gain: tuple[float, float] = (0.8, 1.2)
  jpeg_quality: tuple[int, int] = (35, 90)


# Standard normal noise from random bytes: the 256 quantiles of N(0, 1) at
# (i + 0.5) / 256, rescaled to unit std. A byte per value and a table look-up
# cost a tenth of rng.standard_normal; 256 levels are finer than the
# millimetre and 0-255 quantisation the noise goes through.
_NORMAL_LEVELS = np.array([statistics.NormalDist().inv_cdf((i + 0.5) / 256)
                           for i in range(256)], np.float32)
_NORMAL_LEVELS /= _NORMAL_LEVELS.std()
# Holes are thresholded at a quantile of their blob field taken over every
# this-many-th pixel: a fraction of the cost, within ~0.1% of the fraction.
_HOLE_QUANTILE_STRIDE = 4


def normal_noise(rng, shape):
  """[*shape] float32 noise of zero mean and unit std, nearly Gaussian."""
  draws = np.frombuffer(rng.bytes(int(np.prod(shape))), np.uint8)
  return _NORMAL_LEVELS[draws].reshape(shape)


def degrade_depth(depth, rng, noise):
  """A clean depth map as the sensor reports it.

  Args:
    depth: [H, W] metres, inf where nothing is hit.
    rng: numpy Generator.
    noise: `SensorNoise`.

  Returns:
    [H, W] uint16 millimetres, 0 where there is no reading.
  """
  d = np.where(depth < kinect.MAX_DEPTH_M, depth, 0.0).astype(np.float32)
  kernel = np.ones((3, 3), np.uint8)
  near = cv2.erode(np.where(d > 0, d, np.float32(1e3)), kernel)
  far = cv2.dilate(d, kernel)
  edge = (far - near > noise.edge_threshold_m) & (d > 0)
  # Random draws only where they matter: edges are a few % of the image.
  edges = np.flatnonzero(edge)
  flying = edges[rng.random(edges.size) < noise.flying_pixel_prob]
  mix = rng.random(flying.size, np.float32)
  lo, hi = near.reshape(-1)[flying], far.reshape(-1)[flying]
  d.reshape(-1)[flying] = lo + mix * (hi - lo)
  a, b = noise.depth_noise_mm
  d += normal_noise(rng, d.shape) * ((a + b * d * d) / np.float32(1000.0))
  # Holes come in blobs: threshold smooth low-resolution noise.
  h, w = d.shape
  blobs = cv2.resize(rng.random((h // 8, w // 8), np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
  step = _HOLE_QUANTILE_STRIDE
  holes = blobs < np.quantile(blobs[::step, ::step], noise.hole_fraction)
  return np.where(holes | (d <= 0), 0, np.round(d * 1000.0)).astype(np.uint16)


@dataclasses.dataclass(frozen=True)
class ColourDegradation:
  """One sample's colour degradations, drawn by `draw_colour`."""
  blur_px: float
  noise: float
  gain: float
  jpeg_quality: int


def draw_colour(rng, noise):
  """Draws a sample's `ColourDegradation` from the `SensorNoise` ranges."""
  return ColourDegradation(
      blur_px=float(rng.uniform(*noise.rgb_blur_px)),
      noise=float(rng.uniform(*noise.rgb_noise)),
      gain=float(rng.uniform(*noise.rgb_gain)),
      jpeg_quality=int(rng.integers(noise.jpeg_quality[0],
                                    noise.jpeg_quality[1] + 1)))


def degrade_colour(frame, rng, degradation, scale):
  """A clean colour frame as the camera records it.

  Args:
    frame: [h, w, 3] float32 RGB (0-255) rendered at `scale` x 1920x1080.
    rng: numpy Generator.
    degradation: `ColourDegradation`.
    scale: the rendering scale, to express the blur at full size.

  Returns:
    [h, w, 3] uint8 RGB.
  """
  sigma = degradation.blur_px * scale
  if sigma > 0.3:
    frame = cv2.GaussianBlur(frame, (0, 0), sigma)
  frame = frame * np.float32(degradation.gain) + normal_noise(
      rng, frame.shape) * np.float32(degradation.noise)
  frame = np.clip(frame, 0, 255).astype(np.uint8)
  ok, jpeg = cv2.imencode('.jpg', frame,
                          [cv2.IMWRITE_JPEG_QUALITY, degradation.jpeg_quality])
  if not ok:
    raise RuntimeError('cv2 failed to JPEG-encode a frame')
  return cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)
