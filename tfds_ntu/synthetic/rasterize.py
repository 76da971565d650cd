"""Z-buffered visibility of capsules and boxes for a pinhole camera.

Capsules (bodies) are drawn in screen space, capsule by capsule over the
window each covers, in float32: each pixel within a capsule's projected
outline gets the depth of the capsule's surface there, an approximation that
is exact for spheres seen head-on and good to a few millimetres for limbs.
Boxes (room, furniture, occluders) are ray-cast exactly. Depths are camera Z
in metres, inf where nothing is hit.
"""

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class Hits:
  """What each ray (pixel of an image or window) sees of some boxes.

  Attributes:
    depth: [...] camera Z, metres; inf where nothing is hit.
    index: [...] int32, which box; -1 where nothing is hit.
    normal: [..., 3] unit surface normal, world space, or None when not
      asked for.
    texture: [..., 2] world X and Z of the hit, metres, or None.
  """
  depth: np.ndarray
  index: np.ndarray
  normal: Optional[np.ndarray] = None
  texture: Optional[np.ndarray] = None


def _empty(shape, shade):
  return Hits(np.full(shape, np.inf),
              np.full(shape, -1, np.int32),
              np.zeros((*shape, 3)) if shade else None,
              np.zeros((*shape, 2)) if shade else None)


@dataclasses.dataclass
class Fragments:
  """One capsule's pixels in its window.

  Attributes:
    k: the capsule.
    rows, cols: the window's slices of the image.
    z: [h, w] float32 camera Z of the capsule's surface.
    inside: [h, w] bool, where the capsule covers the pixel (or, with an
      edge margin, comes within it).
    coverage: [h, w] float32 in 0..1, the share of each pixel inside the
      outline (1 inside, 0.5 on it, 0 a margin away), or None without a
      margin.
    t: [h, w] float32 position along the axis, 0 at the first end.
    radial_x, radial_y: [h, w] float32 image offset from the axis over the
      radius there (unit length on the outline, at most 1 where `inside`).
    bulge: [h, w] float32 the surface's facing, 1 on the axis, 0 on the
      outline. The unit normal in camera space is (radial_x, -radial_y,
      -bulge): image y points down, camera Y up, and the surface faces the
      camera (-Z).
  """
  k: int
  rows: slice
  cols: slice
  z: np.ndarray
  inside: np.ndarray
  coverage: Optional[np.ndarray]
  t: np.ndarray
  radial_x: np.ndarray
  radial_y: np.ndarray
  bulge: np.ndarray

  def texture(self, length, radius):
    """Metres along and around the capsule (`length`, `radius`): two
    [h, w] float32."""
    # Pixels off the capsule (not `inside`) have |radial| > 1.
    one = np.float32(1)
    around = np.arcsin(np.maximum(np.minimum(self.radial_x, one), -one))
    return self.t * np.float32(length), around * np.float32(radius)


def _surface(px, py, a, ab, r0, dr, z0, dz, radius, margin):
  """A capsule's projected surface at pixel centres (px, py), broadcast.

  `a` is the first end's pixel, `ab` the axis in pixels, r0 + t dr the
  outline's radius in pixels at t, z0 + t dz the axis' depth, `radius` in
  metres; `margin` pixels beyond the outline count as covered (partly).

  Returns:
    z, inside, coverage (None when margin is 0), t, radial x and y, bulge.
  """
  ox, oy = px - a[0], py - a[1]
  length2 = np.maximum(ab[0] * ab[0] + ab[1] * ab[1], np.float32(1e-9))
  # np.minimum/maximum: np.clip's Python wrapper costs more than the work
  # on a limb's window.
  t = np.maximum(np.minimum((ox * ab[0] + oy * ab[1]) / length2,
                            np.float32(1)), np.float32(0))
  ox = ox - t * ab[0]
  oy = oy - t * ab[1]
  r_t = r0 + t * dr
  off2 = ox * ox + oy * oy
  dist2 = off2 / (r_t * r_t)
  if margin:
    dist = np.sqrt(off2)
    coverage = np.maximum(np.minimum(r_t - dist + np.float32(0.5),
                                     np.float32(1)), np.float32(0))
    inside = dist < r_t + margin
    # Beyond the outline the normal stays that of the outline.
    scale = np.maximum(r_t, dist)
  else:
    coverage = None
    inside = dist2 < 1
    scale = r_t
  bulge = np.sqrt(np.maximum(1 - dist2, 0))
  z = z0 + t * dz - np.float32(radius) * bulge
  return z, inside, coverage, t, ox / scale, oy / scale, bulge


def _projected(ends, radii, camera):
  """Pixels [..., K, 2, 2], pixel radii [..., K, 2] and depths [..., K, 2]
  of capsules' ends, float32."""
  uv = camera.project(ends).astype(np.float32)
  pix_r = (camera.fx * radii[..., None] / ends[..., 2]).astype(np.float32)
  return uv, pix_r, ends[..., 2].astype(np.float32)


def capsule_fragments(ends, radii, camera, height, width, margin=0.0):
  """Yields the `Fragments` of each capsule given in camera space.

  Each pixel within a capsule's projected outline gets the depth of its
  surface there: exact for spheres seen head-on, good to a few millimetres
  for limbs. Capsules off the image yield nothing.

  Args:
    ends: [K, 2, 3] end points, camera space (Z > 0); equal ends: a sphere.
    radii: [K] metres.
    camera: a `kinect.Intrinsics` for this image size.
    height, width: image size.
    margin: pixels beyond the outline that are partly covered (0: hard
      edges); 0.5 anti-aliases the silhouette.
  """
  uv, pix_r, zs = _projected(ends, radii, camera)
  margin = np.float32(margin)
  for k in range(len(radii)):
    reach = pix_r[k][:, None] + margin
    lo = np.floor((uv[k] - reach).min(axis=0)).astype(int)
    hi = np.ceil((uv[k] + reach).max(axis=0)).astype(int) + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], width), min(hi[1], height)
    if x0 >= x1 or y0 >= y1:
      continue
    px = (np.arange(x0, x1) + 0.5).astype(np.float32)[None, :]
    py = (np.arange(y0, y1) + 0.5).astype(np.float32)[:, None]
    a, b = uv[k]
    yield Fragments(k, slice(y0, y1), slice(x0, x1), *_surface(
        px, py, a, b - a, pix_r[k, 0], pix_r[k, 1] - pix_r[k, 0], zs[k, 0],
        zs[k, 1] - zs[k, 0], radii[k], margin))


def zbuffer(depth, index, fragments):
  """Keeps `fragments` where they are nearer than `depth`, in place.

  Args:
    depth: [H, W] float32 camera Z so far.
    index: [H, W] int, what is seen so far.
    fragments: `Fragments`.

  Returns:
    [h, w] bool over the fragments' window: where they were kept.
  """
  where = fragments.rows, fragments.cols
  near = fragments.inside & (fragments.z < depth[where])
  depth[where][near] = fragments.z[near]
  index[where][near] = fragments.k
  return near


def capsule_depth_at(ends, radii, camera, pixels):
  """The nearest capsule's depth at some pixels, as `zbuffer` finds it.

  Args:
    ends: [T, K, 2, 3] end points, camera space.
    radii: [K] metres.
    camera: a `kinect.Intrinsics`.
    pixels: [T, Q, 2] int pixel (x, y) per frame.

  Returns:
    [T, Q] float32 camera Z; inf where no capsule covers the pixel.
  """
  uv, pix_r, zs = _projected(ends, radii, camera)  # [T, K, ...]
  centres = (pixels + 0.5).astype(np.float32)
  px, py = centres[..., None, 0], centres[..., None, 1]  # [T, Q, 1]
  a = uv[:, None, :, 0].transpose(3, 0, 1, 2)  # [2, T, 1, K]
  ab = (uv[:, None, :, 1] - uv[:, None, :, 0]).transpose(3, 0, 1, 2)
  depth = np.full(pixels.shape[:2], np.inf, np.float32)
  # Capsule by capsule, as the image is drawn, so the float32 arithmetic
  # (and so the depth) is the image's.
  for k in range(len(radii)):
    z, inside, *_ = _surface(
        px[..., 0], py[..., 0], a[:, :, :, k], ab[:, :, :, k],
        pix_r[:, None, k, 0], pix_r[:, None, k, 1] - pix_r[:, None, k, 0],
        zs[:, None, k, 0], zs[:, None, k, 1] - zs[:, None, k, 0], radii[k],
        np.float32(0))
    depth = np.where(inside & (z < depth), z, depth)
  return depth


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
    dirs: [..., 3] ray directions, world space, scaled so that the ray
      parameter is the camera depth Z.
    shade: also return normals (world) and texture coordinates (world X, Z).

  Returns:
    `Hits` over the rays; index is the box.
  """
  hits = _empty(dirs.shape[:-1], shade)
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
