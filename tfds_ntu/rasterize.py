"""Z-buffered visibility of capsules and boxes for a pinhole camera.

Capsules (bodies, props) are drawn in screen space: each pixel within a
capsule's projected outline gets the depth of the capsule's surface there,
an approximation that is exact for spheres seen head-on and good to a few
millimetres for limbs. Boxes (room, furniture, occluders) are ray-cast
exactly. Depths are camera Z in metres, inf where nothing is hit.
"""

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class Hits:
  """What each pixel of an image (or window) sees.

  Attributes:
    depth: [H, W] camera Z, metres; inf where nothing is hit.
    index: [H, W] int32, which capsule or box; -1 where nothing is hit.
    normal: [H, W, 3] unit surface normal (camera space for capsules, world
      space for boxes), or None when not asked for.
    texture: [H, W, 2] surface coordinates in metres (along and around a
      capsule, or world X and Z on boxes), or None.
  """
  depth: np.ndarray
  index: np.ndarray
  normal: Optional[np.ndarray] = None
  texture: Optional[np.ndarray] = None


def _empty(height, width, shade):
  return Hits(np.full((height, width), np.inf),
              np.full((height, width), -1, np.int32),
              np.zeros((height, width, 3)) if shade else None,
              np.zeros((height, width, 2)) if shade else None)


def capsules(ends, radii, camera, height, width, shade=False):
  """Rasterises capsules given in camera space.

  Args:
    ends: [K, 2, 3] end points, camera space (Z > 0); equal ends: a sphere.
    radii: [K] metres.
    camera: a `kinect.Intrinsics` for this image size.
    height, width: image size.
    shade: also return normals and texture coordinates.

  Returns:
    `Hits` over the whole image; normals are in camera space.
  """
  hits = _empty(height, width, shade)
  uv = camera.project(ends)  # [K, 2, 2]
  pix_r = camera.fx * radii[:, None] / ends[..., 2]  # [K, 2]
  for k in range(len(radii)):
    lo = np.floor((uv[k] - pix_r[k][:, None]).min(axis=0)).astype(int)
    hi = np.ceil((uv[k] + pix_r[k][:, None]).max(axis=0)).astype(int) + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], width), min(hi[1], height)
    if x0 >= x1 or y0 >= y1:
      continue
    ys, xs = np.mgrid[y0:y1, x0:x1]
    p = np.stack([xs + 0.5, ys + 0.5], axis=-1)
    a, b = uv[k]
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(ab @ ab, 1e-9), 0.0, 1.0)
    offset = (p - (a + t[..., None] * ab))
    r_t = pix_r[k, 0] + t * (pix_r[k, 1] - pix_r[k, 0])
    radial = offset / r_t[..., None]  # Unit length on the outline.
    dist2 = np.sum(radial * radial, axis=-1)
    inside = dist2 < 1.0
    bulge = np.sqrt(np.clip(1.0 - dist2, 0.0, 1.0))
    z = ends[k, 0, 2] + t * (ends[k, 1, 2] - ends[k, 0, 2]) - radii[k] * bulge
    win = inside & (z < hits.depth[y0:y1, x0:x1])
    hits.depth[y0:y1, x0:x1][win] = z[win]
    hits.index[y0:y1, x0:x1][win] = k
    if shade:
      # Image y points down, camera Y up; the surface faces the camera (-Z).
      normal = np.stack([radial[..., 0], -radial[..., 1], -bulge], axis=-1)
      hits.normal[y0:y1, x0:x1][win] = normal[win]
      length = np.linalg.norm(ends[k, 1] - ends[k, 0])
      around = np.arcsin(np.clip(radial[..., 0], -1.0, 1.0)) * radii[k]
      hits.texture[y0:y1, x0:x1][win] = np.stack(
          [t * length, around], axis=-1)[win]
  return hits


def _slabs(lo, hi, origin, dirs):
  """Ray parameters where rays enter and leave an axis-aligned box.

  Returns:
    t_near, t_far [...], and the axis [...] of the entry face.
  """
  with np.errstate(divide='ignore', invalid='ignore'):
    t0 = (lo - origin) / dirs
    t1 = (hi - origin) / dirs
  near, far = np.minimum(t0, t1), np.maximum(t0, t1)
  return near.max(axis=-1), far.min(axis=-1), near.argmax(axis=-1)


def boxes(lo, hi, origin, dirs, shade=False):
  """Ray-casts solid axis-aligned boxes.

  Args:
    lo, hi: [N, 3] box corners, world space.
    origin: [3] rays' origin, world space.
    dirs: [H, W, 3] ray directions, world space, scaled so that the ray
      parameter is the camera depth Z.
    shade: also return normals (world) and texture coordinates (world X, Z).

  Returns:
    `Hits` over the rays; index is the box.
  """
  hits = _empty(*dirs.shape[:2], shade)
  for n in range(len(lo)):
    near, far, axis = _slabs(lo[n], hi[n], origin, dirs)
    win = (near <= far) & (near > 0.0) & (near < hits.depth)
    hits.depth[win] = near[win]
    hits.index[win] = n
    if shade:
      sign = -np.sign(np.take_along_axis(dirs, axis[..., None], -1))[..., 0]
      normal = np.eye(3)[axis] * sign[..., None]
      hits.normal[win] = normal[win]
      point = origin + near[..., None] * dirs
      hits.texture[win] = point[..., [0, 2]][win]
  return hits


def room(lo, hi, origin, dirs):
  """Ray-casts the inside of a box room.

  Returns:
    depth [H, W], face [H, W] int (0/1: the -X/+X walls, 2/3: floor and
    ceiling, 4/5: the -Z/+Z walls) and the hit points [H, W, 3] (world).
  """
  with np.errstate(divide='ignore', invalid='ignore'):
    t = np.where(dirs > 0, (hi - origin) / dirs, (lo - origin) / dirs)
  # A ray parallel to a pair of walls never meets them.
  t = np.where(dirs == 0.0, np.inf, t)
  axis = t.argmin(axis=-1)
  depth = np.take_along_axis(t, axis[..., None], -1)[..., 0]
  positive = np.take_along_axis(dirs, axis[..., None], -1)[..., 0] > 0
  return depth, 2 * axis + positive, origin + depth[..., None] * dirs


def window(camera, points, height, width, margin=1):
  """Pixel window (x0, y0, x1, y1) holding the projections of `points`.

  Args:
    points: [N, 3] camera space; None is returned when any is behind the
      camera or the window is empty.
  """
  if np.any(points[:, 2] <= 0.05):
    return None
  uv = camera.project(points)
  x0, y0 = np.maximum(np.floor(uv.min(axis=0)).astype(int) - margin, 0)
  x1 = min(int(np.ceil(uv[:, 0].max())) + margin + 1, width)
  y1 = min(int(np.ceil(uv[:, 1].max())) + margin + 1, height)
  if x0 >= x1 or y0 >= y1:
    return None
  return x0, y0, x1, y1
