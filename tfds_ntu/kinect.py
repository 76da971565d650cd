"""Kinect v2 camera geometry as measured on real NTU RGB+D files (DESIGN.md).

A point at depth-camera-space (X, Y, Z) metres (+Z forward, +Y up) lies at
depth pixel (fx X / Z + cx, -fy Y / Z + cy) and colour pixel
(fx (X + 0.053) / Z + cx, -fy Y / Z + cy). Lens distortion is not modelled:
real depthX/Y match this pinhole model within 1 px, real colorX/Y within
~6 px. The images are mirror images: a person facing the camera has the
joints named left on the image's left, at smaller camera X.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Intrinsics:
  """Pinhole camera: u = fx (X + offset_x) / Z + cx, v = -fx Y / Z + cy."""
  fx: float
  cx: float
  cy: float
  offset_x: float = 0.0

  def project(self, xyz):
    """[..., 3] depth-camera-space metres -> [..., 2] pixels."""
    z = xyz[..., 2]
    return np.stack([self.fx * (xyz[..., 0] + self.offset_x) / z + self.cx,
                     -self.fx * xyz[..., 1] / z + self.cy], axis=-1)

  def scaled(self, scale):
    """The same camera for an image resized by `scale`."""
    return Intrinsics(self.fx * scale, self.cx * scale, self.cy * scale,
                      self.offset_x)

  def rays(self, x0, y0, x1, y1):
    """Viewing rays of the pixel centres in a window.

    Returns:
      origin [3] (the camera centre in depth-camera space) and directions
      [y1 - y0, x1 - x0, 3] scaled to unit Z, so a ray's parameter is the
      depth Z of the point it reaches.
    """
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return self.rays_through(np.stack([xs, ys], axis=-1))

  def rays_through(self, pixels):
    """Viewing rays of the centres of int `pixels` [..., 2] (x, y).

    Returns:
      origin [3] and directions [..., 3], as `rays`.
    """
    centres = pixels + 0.5
    d = np.stack([(centres[..., 0] - self.cx) / self.fx,
                  -(centres[..., 1] - self.cy) / self.fx,
                  np.ones(pixels.shape[:-1])], axis=-1)
    return np.array([-self.offset_x, 0.0, 0.0]), d


DEPTH_CAMERA = Intrinsics(fx=365.5, cx=256.4, cy=208.5)
COLOR_CAMERA = Intrinsics(fx=1055.0, cx=965.0, cy=565.0, offset_x=0.053)
# Kinect v2 reports no depth beyond this range (pixels read 0).
MAX_DEPTH_M = 8.0
