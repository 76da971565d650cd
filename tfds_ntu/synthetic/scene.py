"""The room NTU RGB+D was filmed in, and where its three cameras stand.

World frame: +Y up, the floor at y = 0, the performers near the vertical
axis. A setup fixes the room (size, wall and floor colours, furniture), the
lighting and the cameras' height and distance; cameras 1, 2, 3 stand at
azimuths 0, -45 and +45 degrees around the performers, level, looking at the
vertical axis.
"""

import dataclasses

import numpy as np

from tfds_ntu.synthetic import body_model
from tfds_ntu.synthetic import rasterize

# Physical camera azimuths around the performer; 0 faces them head on.
CAMERA_AZIMUTH_DEG = {1: 0.0, 2: -45.0, 3: 45.0}


@dataclasses.dataclass(frozen=True)
class View:
  """A camera's pose: world -> Kinect camera space (+Z forward, +Y up).

  Attributes:
    rotation: [3, 3] rows: the camera's X, Y, Z axes in world coordinates.
    centre: [3] the depth camera's centre, world.
  """
  rotation: np.ndarray
  centre: np.ndarray

  def to_camera(self, points):
    """[..., 3] world -> camera space."""
    return (points - self.centre) @ self.rotation.T

  def rays(self, camera, x0, y0, x1, y1):
    """World-space rays of `camera`'s pixels in a window (kinect.rays)."""
    origin, dirs = camera.rays(x0, y0, x1, y1)
    return self.centre + origin @ self.rotation, dirs @ self.rotation

  def rays_through(self, camera, pixels):
    """World-space rays of `camera`'s int `pixels` [..., 2]
    (kinect.rays_through)."""
    origin, dirs = camera.rays_through(pixels)
    return self.centre + origin @ self.rotation, dirs @ self.rotation


def camera_view(azimuth_deg, height, distance):
  """A level camera `distance` from the vertical axis, `height` up, at
  `azimuth_deg` (0 on the world's +Z side), looking at the axis."""
  r = body_model.rot_y(azimuth_deg)
  z_axis = r @ np.array([0.0, 0.0, -1.0])
  x_axis = r @ np.array([-1.0, 0.0, 0.0])  # X = Y x Z for Kinect.
  return View(rotation=np.stack([x_axis, [0.0, 1.0, 0.0], z_axis]),
              centre=r @ np.array([0.0, height, distance]))


@dataclasses.dataclass(frozen=True)
class Boxes:
  """Axis-aligned boxes; `lo`/`hi` [N, 3] (or [T, N, 3] when moving),
  `colours` [N, 3] RGB float."""
  lo: np.ndarray
  hi: np.ndarray
  colours: np.ndarray

  @staticmethod
  def concat(*sets):
    return Boxes(*(np.concatenate([getattr(s, f) for s in sets], axis=-2)
                   for f in ('lo', 'hi', 'colours')))

  def corners(self):
    """[..., N, 8, 3] corner points."""
    pick = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, 8).T
    both = np.stack([self.lo, self.hi], axis=-2)  # [..., N, 2, 3]
    return np.stack([both[..., pick[:, i], i] for i in range(3)], axis=-1)


@dataclasses.dataclass(frozen=True)
class Setup:
  """What a setup number fixes.

  Attributes:
    camera_height, camera_distance: metres.
    room_lo, room_hi: [3] the room's inner corners.
    wall, floor, ceiling: RGB float colours.
    floor_tile: metres; the floor is tiled in two shades...
    floor_contrast: ... this much apart (0: carpet).
    grain: [32, 32] in -1..1, the carpet's weave, 5 cm a cell.
    furniture: `Boxes` standing along or hanging on the walls.
    light: [3] unit world direction towards the key light.
    ambient, key: light intensities.
    tint: [3] the light's colour (white balance).
  """
  camera_height: float
  camera_distance: float
  room_lo: np.ndarray
  room_hi: np.ndarray
  wall: np.ndarray
  floor: np.ndarray
  ceiling: np.ndarray
  floor_tile: float
  floor_contrast: float
  grain: np.ndarray
  furniture: Boxes
  light: np.ndarray
  ambient: float
  key: float
  tint: np.ndarray


def _neutral(rng, lo, hi, spread, n=None):
  """Greys between lo and hi, each tinted by up to `spread` per channel."""
  shape = (3,) if n is None else (n, 3)
  grey = rng.uniform(lo, hi, size=shape[:-1] + (1,))
  return np.clip(grey + rng.uniform(-spread, spread, size=shape), 0, 255)


def _furniture(rng, room_lo, room_hi, count):
  """`count` boxes (cabinets, tables, shelves) against the back and side
  walls, clear of the performing area."""
  lo, hi = [], []
  for _ in range(count):
    size = rng.uniform([0.4, 0.4, 0.3], [1.4, 1.9, 0.7])
    wall = rng.integers(3)
    if wall == 0:  # Back wall.
      x = rng.uniform(room_lo[0] + 0.1, room_hi[0] - 0.1 - size[0])
      corner = [x, 0.0, room_lo[2]]
    else:  # A side wall, behind the performers.
      z = rng.uniform(room_lo[2], max(room_lo[2], -0.8 - size[0]))
      x = room_lo[0] if wall == 1 else room_hi[0] - size[2]
      corner, size = [x, 0.0, z], size[[2, 1, 0]]
    lo.append(corner)
    hi.append(np.asarray(corner) + size)
  colours = np.where(rng.random((count, 1)) < 0.5,
                     _neutral(rng, 40, 230, 20, count),
                     rng.uniform(30, 230, size=(count, 3)))
  return Boxes(np.array(lo), np.array(hi), colours)


def _wall_decor(rng, room_lo, room_hi, count):
  """`count` flat things on the back wall (posters, doors, boards,
  windows): 2 cm deep boxes."""
  size = rng.uniform([0.4, 0.4], [1.6, 2.0], size=(count, 2))
  x = rng.uniform(room_lo[0], room_hi[0] - size[:, 0])
  y = np.where(size[:, 1] > 1.5, 0.0, rng.uniform(0.6, 1.3, count))
  lo = np.stack([x, y, np.full(count, room_lo[2])], axis=-1)
  hi = lo + np.stack([size[:, 0], size[:, 1], np.full(count, 0.02)], -1)
  return Boxes(lo, hi, rng.uniform(20, 250, size=(count, 3)))


def make_setup(seed, setup):
  """A setup's room, lighting and camera placement, from (seed, setup)."""
  rng = np.random.default_rng([seed, 3, setup])
  room_lo = np.array([-rng.uniform(3.0, 4.5), 0.0, -rng.uniform(1.8, 3.2)])
  room_hi = np.array([rng.uniform(3.0, 4.5), rng.uniform(2.6, 3.2), 6.0])
  elevation, azimuth = np.radians(rng.uniform(35, 75)), rng.uniform(0, 2 * np.pi)
  # Cameras are level (as NTU's roughly are), so a low one stands further
  # back to keep raised hands in view: 0.5 m high and ~4 m away, as in S001.
  height = rng.uniform(0.5, 1.25)
  return Setup(
      camera_height=float(height),
      camera_distance=float(rng.uniform(3.0, 3.8) + 0.6 * (1.25 - height)),
      room_lo=room_lo, room_hi=room_hi,
      wall=_neutral(rng, 160, 240, 15),
      floor=_neutral(rng, 35, 140, 20),
      ceiling=_neutral(rng, 200, 245, 5),
      floor_tile=float(rng.uniform(0.3, 0.8)),
      floor_contrast=float(rng.choice([0.0, rng.uniform(0.05, 0.2)])),
      grain=rng.uniform(-1.0, 1.0, size=(32, 32)),
      furniture=Boxes.concat(
          _furniture(rng, room_lo, room_hi, int(rng.integers(2, 5))),
          _wall_decor(rng, room_lo, room_hi, int(rng.integers(1, 5)))),
      light=np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                      np.cos(elevation) * np.cos(azimuth)]),
      ambient=float(rng.uniform(0.6, 0.8)), key=float(rng.uniform(0.3, 0.5)),
      tint=rng.uniform(0.92, 1.08, size=3))


def chair(seated_joints, performer, rng):
  """A chair (seat and back rest) under the hips of a seated pose.

  Args:
    seated_joints: [25, 3] world joints of the fully seated pose.

  Returns:
    `Boxes` of the seat and the back rest.
  """
  hips = seated_joints[[body_model.HIP_L, body_model.HIP_R]].mean(axis=0)
  knees = seated_joints[[body_model.KNEE_L, body_model.KNEE_R]].mean(axis=0)
  forward = (knees - hips) * [1.0, 0.0, 1.0]
  forward /= np.linalg.norm(forward)
  side = np.cross(forward, [0.0, 1.0, 0.0])
  # The seat's top lies under the thighs' skin. Boxes are axis-aligned, so a
  # turned chair is drawn as the box around it.
  top = hips[1] - 0.05 * performer.height * performer.girth
  half = 0.22
  seat = hips + 0.08 * forward
  seat_half = half * (np.abs(forward) + np.abs(side))
  back = hips - (half - 0.05) * forward
  back_half = 0.03 * np.abs(forward) + half * np.abs(side)
  colour = rng.integers(30, 200, size=3).astype(np.float64)
  return Boxes(
      lo=np.array([[seat[0] - seat_half[0], 0.0, seat[2] - seat_half[2]],
                   [back[0] - back_half[0], 0.0, back[2] - back_half[2]]]),
      hi=np.array([[seat[0] + seat_half[0], top, seat[2] + seat_half[2]],
                   [back[0] + back_half[0], top + 0.45,
                    back[2] + back_half[2]]]),
      colours=np.stack([colour, 0.8 * colour]))


def passing_occluder(rng, num_frames):
  """An object carried or rolled across in front of the performers.

  It moves along world X at a depth between the performers and the cameras,
  crossing the view during a random part of the clip.

  Returns:
    `Boxes` with lo/hi [T, 1, 3].
  """
  size = rng.uniform([0.35, 0.6, 0.08], [0.8, 1.7, 0.35])
  z = rng.uniform(0.7, 1.5)
  y = rng.uniform(0.0, 0.5) if size[1] < 1.2 else 0.0
  direction = rng.choice([-1.0, 1.0])
  start = rng.uniform(-0.3, 0.4)
  duration = rng.uniform(0.45, 0.9)
  s = (np.linspace(0.0, 1.0, num_frames) - start) / duration
  x = direction * (-2.6 + 5.2 * s) - size[0] / 2
  lo = np.stack([x, np.full_like(x, y), np.full_like(x, z)], axis=-1)
  colour = rng.integers(20, 235, size=3).astype(np.float64)
  return Boxes(lo[:, None], (lo + size)[:, None], colour[None])


def _boxes_in_view(boxes, view, camera, origin, dirs, shade):
  """`rasterize.Hits` [H, W] of `boxes` over the image whose rays are
  (origin, dirs [H, W, 3]), each box ray-cast only over the window its
  corners project to (the whole image when one is behind the camera)."""
  height, width = dirs.shape[:2]
  hits = rasterize.Hits(np.full((height, width), np.inf),
                        np.full((height, width), -1, np.int32),
                        np.zeros((height, width, 3)) if shade else None)
  corners = view.to_camera(boxes.corners())  # [N, 8, 3]
  for n in range(len(boxes.lo)):
    win = rasterize.window(camera, corners[n], height, width)
    if win is None and np.all(corners[n, :, 2] > 0.05):
      continue  # In front of the camera but off the image.
    x0, y0, x1, y1 = win or (0, 0, width, height)
    where = slice(y0, y1), slice(x0, x1)
    box = rasterize.boxes(boxes.lo[n:n + 1], boxes.hi[n:n + 1], origin,
                          dirs[where], shade=shade)
    near = box.depth < hits.depth[where]
    hits.depth[where][near] = box.depth[near]
    hits.index[where][near] = n
    if shade:
      hits.normal[where][near] = box.normal[near]
  return hits


def render_background(setup, props, view, camera, height, width, shade):
  """The static background seen by a camera: the room, its furniture and
  `props` (`Boxes`, e.g. a chair).

  Returns:
    depth [H, W] float32 metres and, when `shade`, albedo-times-light colour
    [H, W, 3] float32 RGB.
  """
  origin, dirs = view.rays(camera, 0, 0, width, height)
  depth, face, point = rasterize.room(setup.room_lo, setup.room_hi, origin,
                                      dirs)
  things = Boxes.concat(setup.furniture, props)
  furniture = _boxes_in_view(things, view, camera, origin, dirs, shade)
  if not shade:
    return np.minimum(depth, furniture.depth).astype(np.float32), None
  # Tiles in two shades on the floor; walls a little darker towards the floor.
  tile = np.floor(point[..., [0, 2]] / setup.floor_tile).sum(-1) % 2
  cell = np.floor(point[..., [0, 2]] / 0.05).astype(int) % 32
  weave = 1.0 + 0.06 * setup.grain[cell[..., 0], cell[..., 1]]
  floor = (1.0 - setup.floor_contrast * tile) * weave
  albedo = np.where((face == 2)[..., None], setup.floor * floor[..., None],
                    setup.wall * (0.85 + 0.05 * np.minimum(point[..., 1], 3.0))
                    [..., None])
  albedo = np.where((face == 3)[..., None], setup.ceiling, albedo)
  normals = -np.eye(3)[face // 2] * np.where(face % 2, 1.0, -1.0)[..., None]
  colour = shade_surface(albedo, normals, setup)
  near = furniture.depth < depth
  colour[near] = shade_surface(
      things.colours[furniture.index[near]], furniture.normal[near],
      setup)
  return (np.where(near, furniture.depth, depth).astype(np.float32),
          colour.astype(np.float32))


def background_depth_at(setup, props, view, camera, pixels):
  """`render_background`'s depth at int `pixels` [..., 2] (x, y): [...]
  float32 metres."""
  origin, dirs = view.rays_through(camera, pixels)
  depth, _, _ = rasterize.room(setup.room_lo, setup.room_hi, origin, dirs)
  things = Boxes.concat(setup.furniture, props)
  furniture = rasterize.boxes(things.lo, things.hi, origin, dirs)
  return np.minimum(depth, furniture.depth).astype(np.float32)


def shade_surface(albedo, normal, setup):
  """Lambertian colour [..., 3] of `albedo` [..., 3] with world `normal`."""
  lambert = np.clip(normal @ setup.light, 0.0, 1.0)
  return albedo * (setup.ambient + setup.key * lambert)[..., None] * setup.tint
