"""Renders a synthetic dataset in the real NTU RGB+D layout and file formats.

Volumetric performers (`body_model`) act out NTU actions (`motions`, one- and
two-person) in a furnished room (`scene`) filmed by three Kinect v2 cameras
at -45, 0 and +45 degrees (`kinect`); objects pass in front of them. Each
sample is written exactly as NTU ships it (`layout`): a 1920x1080 30 FPS
colour AVI, full and masked 512x424 uint16 millimetre depth PNGs, and a
`.skeleton` text file with every field and one body line per person, so the
TFDS builder reads synthetic and real data through one code path.

Joints hidden in the depth buffer (by the body itself, the other person, the
furniture or a passing object) get tracking state 1 (inferred), as Kinect
marks them, so occluded-joint accuracy can be measured. The sensors' faults
are rendered too (`sensor`): depth noise, holes and flying pixels; colour
blur, noise and compression. So that capsule bodies look less synthetic,
`Appearance` shades them, textures their skin and clothes, anti-aliases
their silhouettes and blurs their motion over the exposure.

    python -m tfds_ntu.synthetic.render --root=DIR [--actions=1,8,58]
        [--actions_per_performer=0]  # 0: each performer, every action
    python -m tfds_ntu.synthetic.render_benchmark  # Frames/s per core.
"""

import dataclasses
import json
import multiprocessing
import os
import shutil
import time
from typing import Optional

from absl import app
from absl import flags
from absl import logging
import cv2
import numpy as np

from tfds_ntu import kinect
from tfds_ntu import layout
from tfds_ntu import mjpg_avi
from tfds_ntu import skeleton_file
from tfds_ntu.synthetic import body_model
from tfds_ntu.synthetic import motions
from tfds_ntu.synthetic import rasterize
from tfds_ntu.synthetic import scene
from tfds_ntu.synthetic import sensor

ACTIONS = motions.ACTIONS
MODALITIES = ('rgb', 'depth', 'depth_masked')
# NTU performers turn between the two replications: R001 towards one side
# camera, R002 towards the other.
REPLICATION_YAW_DEG = {1: -20.0, 2: 20.0}
# Base for the 64-bit Kinect body IDs (real ones are 2**56 + a counter).
_BODY_ID_BASE = 72057594037927936
COMPLETION_MARKER = 'RENDERED'
# Part of the completion marker: bump it whenever the renderer's output
# changes, so that files rendered by older code are rendered again.
RENDERER_VERSION = 4
STATS_FILE = 'synthetic_stats.json'
# JPEG quality of the AVI's 1920x1080 frames: the frames are upscaled from
# the render scale and have been through the sensor's own (lower quality)
# JPEG, so more would only cost time and disk.
AVI_JPEG_QUALITY = 90
# Progress is logged at every tenth of the samples and at least this often.
PROGRESS_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Appearance:
  """How people look in colour; each feature can be turned off (False or 0)
  to measure what it does.

  Attributes:
    shading: light the bodies with the room's key light (Lambert) and darken
      their rims, which face away from the camera and the room; off: flat
      colours under the room's mean light.
    texture: amplitude of low-frequency albedo variation (folds, wear, skin
      tone) on clothes, half of it on skin; 0: uniform colours.
    soft_edges: anti-aliased silhouettes: a pixel on a person's outline
      mixes person and background by how much of it the person covers.
    exposure: the fraction of a frame interval the colour shutter is open;
      people are drawn at the start and end of it (their capsules moved
      along to the neighbouring frame) and averaged: motion blur. 0: one
      sharp rendering.
  """
  shading: bool = True
  texture: float = 0.1
  soft_edges: bool = True
  exposure: float = 0.5


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
  """What to render: one sample per (setup, camera, performer, replication,
  action), or a subset of the actions per performance (see
  `actions_per_performer`).

  Attributes:
    seed: all randomness derives from it (same seed -> identical files).
    setups: setup numbers; a setup fixes the room, its lighting and the
      cameras' height and distance.
    cameras: camera numbers, keys of `scene.CAMERA_AZIMUTH_DEG`.
    performers: performer numbers; include some in and some out of
      `layout.XSUB_TRAIN_PERFORMERS_120` so both cross-subject sides fill.
      Two-person actions take their partner from the same list.
    replications: replication numbers, keys of REPLICATION_YAW_DEG.
    actions: action numbers, keys of `motions.MOTIONS`.
    actions_per_performer: None: every performer performs every action in
      every (setup, replication). Else each performs this many of them per
      (setup, replication), picked by `performed_actions`, filmed by every
      camera, as NTU films each performance with its three cameras; a way
      to have many performers in few samples.
    num_frames: frames per sample.
    modalities: which files to write besides the skeleton (MODALITIES).
    rgb_render_scale: colour frames are rendered at this fraction of
      1920x1080 and upscaled (rendering at full size is ~16x slower).
    occluder_prob: chance that an object passes in front during a sample.
    noise: the sensors' faults, a `sensor.SensorNoise`.
    num_workers: processes rendering samples in parallel.
    appearance: how people look in colour, an `Appearance`.
  """
  seed: int = 0
  setups: tuple[int, ...] = (1,)
  cameras: tuple[int, ...] = (1, 2, 3)
  performers: tuple[int, ...] = (1, 3)
  replications: tuple[int, ...] = (1,)
  actions: tuple[int, ...] = (23, 24)
  actions_per_performer: Optional[int] = None
  num_frames: int = 12
  modalities: tuple[str, ...] = MODALITIES
  rgb_render_scale: float = 0.25
  occluder_prob: float = 0.6
  noise: sensor.SensorNoise = sensor.SensorNoise()
  num_workers: int = 2
  appearance: Appearance = Appearance()

  def sample_ids(self):
    """All samples, sorted by name."""
    return sorted(
        layout.SampleId(s, c, p, r, a) for s in self.setups
        for p in self.performers for r in self.replications
        for a in self.performed_actions(s, p, r) for c in self.cameras)

  def performed_actions(self, setup, performer, replication):
    """The actions `performer` performs in (setup, replication), sorted.

    With `actions_per_performer` k, the performers of each cross-subject
    side (in the order of `performers`) take consecutive runs of k from a
    cycle through the actions, shuffled by (seed, setup, replication,
    side). A side with at least len(actions) / k performers thus performs
    every action in every (setup, replication), each action about equally
    often, and no performer repeats one.
    """
    if self.actions_per_performer is None:
      return tuple(sorted(self.actions))
    side = performer in layout.XSUB_TRAIN_PERFORMERS_120
    mates = [p for p in self.performers
             if (p in layout.XSUB_TRAIN_PERFORMERS_120) == side]
    cycle = np.random.default_rng(
        [self.seed, 10, setup, replication, int(side)]).permutation(
            sorted(self.actions))
    first = mates.index(performer) * self.actions_per_performer
    return tuple(sorted(
        int(cycle[i % len(cycle)])
        for i in range(first, first + self.actions_per_performer)))

  def validate(self):
    """Raises ValueError naming whatever the renderer does not know."""
    unknown = {
        'actions': set(self.actions) - set(motions.MOTIONS),
        'cameras': set(self.cameras) - set(scene.CAMERA_AZIMUTH_DEG),
        'replications': set(self.replications) - set(REPLICATION_YAW_DEG),
        'modalities': set(self.modalities) - set(MODALITIES),
    }
    unknown = {k: sorted(v) for k, v in unknown.items() if v}
    if unknown:
      raise ValueError(f'the synthetic spec asks for what the renderer does '
                       f'not have: {unknown}')
    k = self.actions_per_performer
    if k is not None and not 1 <= k <= len(set(self.actions)):
      raise ValueError(f'actions_per_performer={k} is not between 1 and the '
                       f'{len(set(self.actions))} actions')
    look = self.appearance
    if not (0.0 <= look.exposure <= 1.0 and look.texture >= 0.0):
      raise ValueError(f'appearance out of range (exposure 0..1, texture '
                       f'>= 0): {look}')


@dataclasses.dataclass(frozen=True)
class Actor:
  """One person in one camera's view.

  Attributes:
    joints: [T, 25, 3] depth-camera-space metres.
    lean_y: [T] Kinect leanY (forward lean, -1..1).
    body_id: Kinect body ID.
    performer: the `body_model.Performer`.
  """
  joints: np.ndarray
  lean_y: np.ndarray
  body_id: int
  performer: body_model.Performer


@dataclasses.dataclass(frozen=True)
class Performance:
  """One sample seen by one camera, before any file is written.

  Attributes:
    actors: the performer, then the partner of a two-person action.
    capsules: every actor's body, camera space (owner: index into actors).
    setup: the `scene.Setup`.
    view: the camera's `scene.View`.
    props: static `scene.Boxes` brought in for the action (a chair).
    occluders: moving `scene.Boxes` ([T, N, 3] corners), N may be 0.
  """
  actors: tuple[Actor, ...]
  capsules: body_model.Capsules
  setup: scene.Setup
  view: scene.View
  props: scene.Boxes
  occluders: scene.Boxes


def _no_boxes(*lead):
  return scene.Boxes(np.zeros((*lead, 0, 3)), np.zeros((*lead, 0, 3)),
                     np.zeros((0, 3)))


def _partner(spec, sample):
  """The second person of a two-person action: another performer of the
  spec on the same cross-subject side when there is one."""
  side = layout.is_xsub_train(sample)
  others = [p for p in spec.performers if p != sample.performer]
  same = [p for p in others
          if layout.is_xsub_train(dataclasses.replace(sample, performer=p))
          == side]
  pool = same or others or [sample.performer + 1]
  rng = np.random.default_rng([spec.seed, 7, *dataclasses.astuple(sample)[2:]])
  return int(pool[rng.integers(len(pool))])


# Arm reach (scale x arm factor) of the bodies the two-person actions'
# gaps were set for; a pair stands apart in proportion to its own reach.
_REFERENCE_REACH = 1.7


def perform(spec, sample):
  """Poses the people of `sample` in its setup's room, seen by its camera.

  Everything but the camera depends on (seed, setup, performer, replication,
  action) only, so a sample's three cameras film the same performance, as in
  NTU. How the action is done combines the sample's own draws (amplitude,
  repetitions, pace, facing, place) with the performer's style: their speed,
  amplitude, handedness and posture (`body_model.Performer`), and a way of
  doing this action drawn once per (performer, action), the same in every
  setup and replication. In a two-person action the performer leads: the
  pair moves at their pace and amplitude.
  """
  motion = motions.MOTIONS[sample.action]
  setup = scene.make_setup(spec.seed, sample.setup)
  lead = body_model.make_performer(spec.seed, sample.performer)
  rng = np.random.default_rng(
      [spec.seed, 2, sample.setup, sample.performer, sample.replication,
       sample.action])
  habit = np.random.default_rng(
      [spec.seed, 8, sample.performer, sample.action])
  # Clipped to the range the motions were designed for: beyond it kicks and
  # pointing arms swing past what a body does.
  amp = np.clip(rng.uniform(0.8, 1.15) * lead.amplitude *
                habit.uniform(0.9, 1.1), 0.7, 1.3)
  pace = lead.speed * habit.uniform(0.93, 1.07)
  cycles = rng.uniform(1.5, 3.5) * pace
  # Speed varies by playing a window of the motion's phase: a quick
  # performer gets through more of it (and may finish early and hold), a
  # slow one less.
  start = rng.uniform(0.0, 0.1)
  s = np.linspace(start, start + rng.uniform(0.85, 0.9) * pace,
                  spec.num_frames)
  yaw = REPLICATION_YAW_DEG[sample.replication] + rng.uniform(-8.0, 8.0)
  offset = np.array([rng.uniform(-0.15, 0.15), 0.0, rng.uniform(-0.15, 0.15)])
  people = [(lead, motion.performer, 0.0)]
  gap = 0.0
  if motion.partner is not None:
    # Face to face across the gap: the performer on the pair's -X side.
    partner = body_model.make_performer(spec.seed, _partner(spec, sample))
    people = [(lead, motion.performer, -1.0),
              (partner, motion.partner, 1.0)]
    gap = motion.gap * np.mean([p.height * p.arms for p, _, _ in people]
                               ) / _REFERENCE_REACH
  view = scene.camera_view(scene.CAMERA_AZIMUTH_DEG[sample.camera],
                           setup.camera_height, setup.camera_distance)
  actors, worlds = [], []
  for i, (performer, trajectory, side) in enumerate(people):
    moves = trajectory(s, amp, cycles)
    # Interactions keep their hands: a handshake is right-handed.
    if performer.left_handed and motion.partner is None:
      moves = body_model.mirror(moves)
    pose = body_model.apply_posture(
        performer, {**body_model.POSE_DEFAULTS, **moves})
    pose = {k: np.broadcast_to(np.asarray(v, np.float64), s.shape)
            for k, v in pose.items()}
    body = body_model.pose_joints(performer, pose)
    if side:
      body = body @ body_model.rot_y(-90.0 * side).T + [
          side * gap / 2, 0.0, 0.0]
    world = body @ body_model.rot_y(yaw).T + offset
    worlds.append(world)
    actors.append(Actor(
        joints=view.to_camera(world),
        lean_y=np.sin(np.radians(pose['spine_bend'])),
        body_id=_BODY_ID_BASE + int(rng.integers(1, 10_000)) * 2 + i,
        performer=performer))
  props = _no_boxes()
  if motion.chair:
    seated = worlds[0][worlds[0][:, body_model.HIP_L, 1].argmin()]
    props = scene.chair(seated, actors[0].performer, rng)
  occluder_rng = np.random.default_rng(
      [spec.seed, 5, sample.setup, sample.performer, sample.replication,
       sample.action])
  occluders = _no_boxes(spec.num_frames)
  if occluder_rng.random() < spec.occluder_prob:
    occluders = scene.passing_occluder(occluder_rng, spec.num_frames)
  parts = [body_model.body_capsules(a.joints, a.performer, owner=i)
           for i, a in enumerate(actors)]
  capsules = body_model.Capsules(*(
      np.concatenate([getattr(p, f.name) for p in parts],
                     axis=1 if f.name == 'ends' else 0)
      for f in dataclasses.fields(body_model.Capsules)))
  return Performance(tuple(actors), capsules, setup, view, props, occluders)


def _occluder(performance, t):
  """The passing object in frame t as `scene.Boxes` and its [8, 3] camera
  space corners, or None when there is none or it reaches behind the
  camera (it is then not drawn)."""
  occ = performance.occluders
  if occ.lo.shape[1] == 0:
    return None
  frame = scene.Boxes(occ.lo[t], occ.hi[t], occ.colours)
  corners = performance.view.to_camera(frame.corners().reshape(-1, 3))
  if np.any(corners[:, 2] <= 0.05):
    return None
  return frame, corners


def _moving_boxes(performance, t, camera, height, width, shade):
  """`rasterize.Hits` of the occluders in frame t and the window they are
  over (None when off-screen)."""
  occluder = _occluder(performance, t)
  if occluder is None:
    return None
  frame, corners = occluder
  win = rasterize.window(camera, corners, height, width)
  if win is None:
    return None
  x0, y0, x1, y1 = win
  origin, dirs = performance.view.rays(camera, x0, y0, x1, y1)
  hits = rasterize.boxes(frame.lo, frame.hi, origin, dirs, shade=shade)
  return hits, (slice(y0, y1), slice(x0, x1))


def render_depth(performance):
  """Clean depth as the depth camera sees the scene.

  Returns:
    depth [T, 424, 512] float32 metres (inf where nothing is hit) and body
    [T, 424, 512] bool, where a person is the nearest surface.
  """
  height, width = layout.DEPTH_SIZE
  camera = kinect.DEPTH_CAMERA
  background, _ = scene.render_background(
      performance.setup, performance.props, performance.view, camera, height,
      width, shade=False)
  caps = performance.capsules
  depth = np.repeat(background[None], len(caps.ends), axis=0)
  index = np.full(depth.shape, -1, np.int32)
  for t in range(len(caps.ends)):
    moving = _moving_boxes(performance, t, camera, height, width, False)
    if moving is not None:
      hits, where = moving
      depth[t][where] = np.minimum(depth[t][where], hits.depth)
    for fragments in rasterize.capsule_fragments(caps.ends[t], caps.radii,
                                                 camera, height, width):
      rasterize.zbuffer(depth[t], index[t], fragments)
  return depth, index >= 0


def _joint_depths(performance):
  """The clean depth `render_depth` finds at each actor's joints' depth
  pixels, ray-cast at those pixels only: [A, T, 25] float32 metres."""
  camera = kinect.DEPTH_CAMERA
  actors = performance.actors
  pixels = np.floor(np.stack([camera.project(a.joints) for a in actors],
                             axis=1)).astype(int)  # [T, A, 25, 2]
  frames = pixels.shape[0]
  pixels = pixels.reshape(frames, -1, 2)
  depth = scene.background_depth_at(performance.setup, performance.props,
                                    performance.view, camera, pixels)
  for t in range(frames):
    occluder = _occluder(performance, t)
    if occluder is not None:
      origin, dirs = performance.view.rays_through(camera, pixels[t])
      hits = rasterize.boxes(occluder[0].lo, occluder[0].hi, origin, dirs)
      depth[t] = np.minimum(depth[t], hits.depth)
  caps = performance.capsules
  depth = np.minimum(depth, rasterize.capsule_depth_at(
      caps.ends, caps.radii, camera, pixels))
  return depth.reshape(frames, len(actors), -1).transpose(1, 0, 2)


def _pattern(caps, k, along, around):
  """[h, w] brightness factor of capsule k's stripes or checks, from its
  surface coordinates along and around it [h, w] (metres)."""
  if caps.pattern[k] == body_model.PLAIN:
    return np.float32(1.0)
  period = np.float32(caps.pattern_period[k])
  dark = np.floor(along / period)
  if caps.pattern[k] == body_model.CHECKS:
    dark += np.floor(around / period)
  return 1.0 - np.float32(0.35) * (dark % 2)


# Texture waves per capsule, and their wavelengths: folds and wear on
# clothes, blotches on skin, all longer than the sensor's noise.
_TEXTURE_WAVES = 3
_TEXTURE_WAVELENGTH_M = (0.1, 0.4)
_SKIN = body_model.MATERIALS.index('skin')


def _texture_waves(seed, performance, amplitude):
  """Capsules' texture: wave vectors [K, W, 2] (radians per metre along
  and around), phases [K, W] and amplitudes [K] (half on skin), from
  `seed`."""
  rng = np.random.default_rng(seed)
  caps = performance.capsules
  shape = (len(caps.radii), _TEXTURE_WAVES)
  direction = rng.uniform(0.0, np.pi, shape)
  number = 2 * np.pi / rng.uniform(*_TEXTURE_WAVELENGTH_M, shape)
  vectors = number[..., None] * np.stack([np.cos(direction),
                                          np.sin(direction)], axis=-1)
  # Skin is what is coloured as its owner's skin (bare arms and legs too).
  skin = np.array([
      np.array_equal(colour, performance.actors[owner].performer.palette[
          _SKIN]) for colour, owner in zip(caps.colours, caps.owner)])
  return (vectors.astype(np.float32),
          rng.uniform(0.0, 2 * np.pi, shape).astype(np.float32),
          np.where(skin, 0.5, 1.0).astype(np.float32) * amplitude)


def _texture(along, around, vectors, phases):
  """[h, w] float32, zero-mean unit-std variation over surface coordinates
  along and around [h, w] from a capsule's waves ([W, 2], [W])."""
  total = np.float32(0.0)
  for (a, b), phase in zip(vectors, phases):
    total = total + np.sin(along * a + around * b + phase)
  return total * np.float32(np.sqrt(2.0 / len(phases)))


def _ends_at(ends, t, offset):
  """[K, 2, 3] capsule ends `offset` frames after frame t (-1..1), moved
  linearly towards the neighbouring frame (away from the other one at the
  clip's ends)."""
  if offset == 0.0 or len(ends) == 1:
    return ends[t]
  before, after = max(t - 1, 0), min(t + 1, len(ends) - 1)
  if offset > 0:
    step = ends[after] - ends[t] if after > t else ends[t] - ends[before]
  else:
    step = ends[t] - ends[before] if before < t else ends[after] - ends[t]
  return ends[t] + offset * step


def _draw_people(ends, caps, camera, colour, depth, appearance, light,
                 waves):
  """Draws capsules `ends` [K, 2, 3] over the scenery in place.

  Args:
    ends: [K, 2, 3] the capsules' ends this (sub-)frame, camera space.
    caps: the `body_model.Capsules` (radii, colours, patterns).
    camera: `kinect.Intrinsics` at the render scale.
    colour: [h, w, 3] float32 scenery colour, drawn over.
    depth: [h, w] float32 scenery depth (unchanged).
    appearance: `Appearance`.
    light: (ambient, key, [3] key light direction in camera space, tint).
    waves: `_texture_waves`.
  """
  height, width = depth.shape
  people = depth.copy()
  index = np.full(depth.shape, -1, np.int32)
  # With soft edges: how much of each pixel the people cover.
  alpha = np.zeros(depth.shape, np.float32) if appearance.soft_edges else None
  scenery = colour.copy() if appearance.soft_edges else None
  ambient, key, towards, tint = light
  lengths = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=-1)
  rows = [height, 0]
  cols = [width, 0]
  for f in rasterize.capsule_fragments(ends, caps.radii, camera, height,
                                       width, 0.5 if alpha is not None else 0):
    where = f.rows, f.cols
    if alpha is not None:
      in_front = np.where(f.z < depth[where], f.coverage, np.float32(0))
      np.maximum(alpha[where], in_front, out=alpha[where])
    near = rasterize.zbuffer(people, index, f)
    if not near.any():
      continue
    rows = [min(rows[0], f.rows.start), max(rows[1], f.rows.stop)]
    cols = [min(cols[0], f.cols.start), max(cols[1], f.cols.stop)]
    k = f.k
    along, around = f.texture(lengths[k], caps.radii[k])
    albedo = _pattern(caps, k, along, around)
    if appearance.texture:
      vectors, phases, amplitude = (w[k] for w in waves)
      albedo = albedo * np.maximum(
          1 + amplitude * _texture(along, around, vectors, phases),
          np.float32(0.2))
    if appearance.shading:
      # n = (radial x, -radial y, -bulge) dotted with the light, in camera
      # space; the rims lose up to a fifth of the ambient light.
      lambert = np.maximum(
          f.radial_x * towards[0] - f.radial_y * towards[1] -
          f.bulge * towards[2], np.float32(0))
      lit = ambient * (0.8 + 0.2 * f.bulge) + key * lambert
    else:
      lit = np.float32(ambient + 0.5 * key)
    shaded = np.asarray(albedo * lit)[..., None] * (
        caps.colours[k] * tint).astype(np.float32)
    # Flat (unshaded, plain, untextured) capsules shade to one colour.
    colour[where][near] = np.broadcast_to(shaded, (*near.shape, 3))[near]
  if alpha is not None and rows[0] < rows[1]:
    where = slice(*rows), slice(*cols)
    colour[where] = scenery[where] + alpha[where][..., None] * (
        colour[where] - scenery[where])


def render_rgb(performance, scale, appearance=Appearance(), seed=0):
  """Clean colour frames at `scale` x 1920x1080.

  Args:
    performance: the `Performance`.
    scale: the render scale.
    appearance: `Appearance`.
    seed: seeds the texture (an int or a sequence of them).

  Returns:
    [T, h, w, 3] float32 RGB (0-255).
  """
  height = round(layout.RGB_SIZE[0] * scale)
  width = round(layout.RGB_SIZE[1] * scale)
  camera = kinect.COLOR_CAMERA.scaled(scale)
  setup, view = performance.setup, performance.view
  bg_depth, bg_colour = scene.render_background(
      setup, performance.props, view, camera, height, width, shade=True)
  caps = performance.capsules
  # Rows of `rotation` are the camera axes in world coordinates.
  light = (np.float32(setup.ambient), np.float32(setup.key),
           (view.rotation @ setup.light).astype(np.float32), setup.tint)
  waves = _texture_waves(seed, performance, appearance.texture)
  half = appearance.exposure / 2
  offsets = (-half, half) if half else (0.0,)
  frames = np.empty((len(caps.ends), height, width, 3), np.float32)
  for t in range(len(caps.ends)):
    depth, colour = bg_depth.copy(), bg_colour.copy()
    moving = _moving_boxes(performance, t, camera, height, width, True)
    if moving is not None:
      hits, where = moving
      near = hits.depth < depth[where]
      depth[where][near] = hits.depth[near]
      colour[where][near] = scene.shade_surface(
          performance.occluders.colours[hits.index[near]], hits.normal[near],
          setup)
    frames[t] = 0.0
    for offset in offsets:
      drawn = colour.copy()
      _draw_people(_ends_at(caps.ends, t, offset), caps, camera, drawn,
                   depth, appearance, light, waves)
      frames[t] += drawn
    frames[t] /= len(offsets)
  return frames


def tracking_states(performance, depth=None):
  """[A, T, 25] int per actor: 2 where a joint is visible in the clean
  depth buffer, 1 where something in front hides it (Kinect then infers it).

  Args:
    performance: the `Performance`.
    depth: its clean depth buffer [T, H, W] (`render_depth`), or None to
      ray-cast only the joints' pixels (the same result, much cheaper).
  """
  if depth is None:
    surfaces = _joint_depths(performance)
  else:
    t = np.arange(len(depth))[:, None]
    uvs = [np.floor(kinect.DEPTH_CAMERA.project(a.joints)).astype(int)
           for a in performance.actors]
    surfaces = [depth[t, uv[..., 1], uv[..., 0]] for uv in uvs]
  states = []
  for actor, surface in zip(performance.actors, surfaces):
    # A visible joint lies inside its own volume: up to its largest touching
    # capsule's radius behind the surface.
    slack = body_model.joint_slack(actor.performer)
    visible = surface >= actor.joints[..., 2] - slack - 0.03
    states.append(np.where(visible, 2, 1))
  return np.stack(states)


def skeleton_frames(performance, tracking):
  """The performance as `skeleton_file.Body` frames (one body per actor)."""
  frames = [[] for _ in range(len(performance.actors[0].joints))]
  for actor, states in zip(performance.actors, tracking):
    joints = actor.joints
    rows = np.concatenate([
        joints, kinect.DEPTH_CAMERA.project(joints),
        kinect.COLOR_CAMERA.project(joints),
        body_model.bone_quaternions(joints), states[..., None]], axis=-1)
    for t, frame in enumerate(frames):
      frame.append(skeleton_file.Body(
          body_id=actor.body_id, flags=(0, 1, 2, 1, 2, 0),
          lean=(0.0, float(actor.lean_y[t])), tracking_state=2,
          joints=rows[t]))
  return frames


def write_rgb_video(path, frames):
  """Writes [T, h, w, 3] uint8 RGB as a 1920x1080 30 FPS MJPG AVI."""
  height, width = layout.RGB_SIZE
  # Upscaled into one buffer: a fresh 6 MB array per frame costs as much in
  # page faults as the resize itself. Colours are swapped before, at the
  # render size.
  big = np.empty((height, width, 3), np.uint8)
  with mjpg_avi.Writer(path, width, height, layout.FPS) as writer:
    for frame in frames:
      cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), (width, height),
                 dst=big, interpolation=cv2.INTER_LINEAR)
      ok, jpeg = cv2.imencode('.jpg', big,
                              [cv2.IMWRITE_JPEG_QUALITY, AVI_JPEG_QUALITY])
      if not ok:
        raise RuntimeError(f'{path}: cv2 failed to JPEG-encode a frame')
      writer.write(jpeg)


def _check_in_view(sample, performance):
  for actor in performance.actors:
    for name, cam, (h, w) in (
        ('depth', kinect.DEPTH_CAMERA, layout.DEPTH_SIZE),
        ('colour', kinect.COLOR_CAMERA, layout.RGB_SIZE)):
      uv = cam.project(actor.joints)
      if not (np.all(uv >= 0) and np.all(uv[..., 0] < w) and
              np.all(uv[..., 1] < h)):
        raise ValueError(f'{sample.name}: joints leave the {name} image; the '
                         'setup places the cameras too close')


def _write_depth(frames, path_of):
  for t, frame in enumerate(frames):
    path = path_of(t)
    if not cv2.imwrite(path, frame):
      raise OSError(f'{path}: cv2 could not write the PNG')


def render_sample(root, spec, sample):
  """Writes one sample's files (per `spec.modalities`) under `root`.

  Returns:
    Its statistics: frames, bodies, occluder (0/1), joints and inferred
    joints over all bodies and frames.
  """
  performance = perform(spec, sample)
  _check_in_view(sample, performance)
  name = sample.name
  want_depth = {'depth', 'depth_masked'} & set(spec.modalities)
  if want_depth:
    depth, body = render_depth(performance)
    tracking = tracking_states(performance, depth)
  else:
    tracking = tracking_states(performance)
  skeleton_file.write_skeleton(layout.skeleton_path(root, name),
                               skeleton_frames(performance, tracking))
  rng = np.random.default_rng([spec.seed, 6, *dataclasses.astuple(sample)])
  if want_depth:
    sensed = np.stack([sensor.degrade_depth(d, rng, spec.noise)
                       for d in depth])
    if 'depth' in spec.modalities:
      os.makedirs(layout.depth_dir(root, name), exist_ok=True)
      _write_depth(sensed, lambda t: layout.depth_frame_path(root, name, t))
    if 'depth_masked' in spec.modalities:
      os.makedirs(layout.depth_masked_dir(root, name), exist_ok=True)
      _write_depth(np.where(body, sensed, 0).astype(np.uint16),
                   lambda t: layout.depth_masked_frame_path(root, name, t))
  if 'rgb' in spec.modalities:
    degradation = sensor.draw_colour(rng, spec.noise)
    clean = render_rgb(performance, spec.rgb_render_scale, spec.appearance,
                       [spec.seed, 8, *dataclasses.astuple(sample)])
    write_rgb_video(layout.rgb_path(root, name), [
        sensor.degrade_colour(f, rng, degradation, spec.rgb_render_scale)
        for f in clean])
  return {'frames': spec.num_frames, 'bodies': len(performance.actors),
          'occluder': int(performance.occluders.lo.shape[1] > 0),
          'joints': int(tracking.size), 'inferred': int((tracking == 1).sum())}


def _render_one(args):
  return args[2].name, render_sample(*args)


def _one_cv2_thread():
  # Workers render samples in parallel; OpenCV's own threads would only
  # contend with the other workers for the cores.
  cv2.setNumThreads(1)


def _log_progress(done, total, start, clock=time.perf_counter):
  """Consumes `done` ((name, stats) per rendered sample), logging samples
  done, frames/s and the time left at every tenth of `total` and at least
  every PROGRESS_SECONDS.

  Args:
    done: iterable of (name, stats) as samples finish.
    total: samples in all.
    start: `clock()` when rendering started.
    clock: seconds, monotonic.

  Returns:
    {name: stats}.
  """
  every = max(1, total // 10)
  stats = {}
  frames = 0
  logged = start
  for i, (name, sample_stats) in enumerate(done, 1):
    stats[name] = sample_stats
    frames += sample_stats['frames']
    now = clock()
    if i % every == 0 or i == total or now - logged >= PROGRESS_SECONDS:
      logged = now
      elapsed = max(now - start, 1e-9)
      left = round(elapsed / i * (total - i))
      logging.info('Rendered %d/%d samples (%.0f%%), %.1f frames/s, ETA '
                   '%d:%02d:%02d.', i, total, 100 * i / total,
                   frames / elapsed, left // 3600, left // 60 % 60, left % 60)
  return stats


def summarize(samples, stats, seconds, workers):
  """Dataset statistics: samples, frames, actions, two-person samples,
  samples with a passing object, inferred-joint fraction, frames/s/core."""
  per_sample = [stats[s.name] for s in samples]
  frames = sum(s['frames'] for s in per_sample)
  return {
      'samples': len(samples),
      'frames': frames,
      'actions': len({s.action for s in samples}),
      'two_person_samples': sum(s['bodies'] > 1 for s in per_sample),
      'samples_with_passing_object': sum(s['occluder'] for s in per_sample),
      'inferred_joint_fraction': round(
          sum(s['inferred'] for s in per_sample) /
          max(1, sum(s['joints'] for s in per_sample)), 4),
      'render_seconds': round(seconds, 1),
      'frames_per_second_per_core': round(frames / max(seconds, 1e-9) /
                                          workers, 1),
  }


def render_dataset(root, spec):
  """Renders every sample of `spec` under `root` in the NTU layout.

  Skips the work when `root` holds a completion marker written by an earlier
  call with the same spec and RENDERER_VERSION; the marker is written last,
  so an interrupted run renders again. Otherwise the NTU folders under `root`
  are emptied first, so that no sample of another spec is left behind.
  Statistics are logged and kept in `root/STATS_FILE`.

  Returns:
    The list of rendered `layout.SampleId`.
  """
  spec.validate()
  marker = os.path.join(root, COMPLETION_MARKER)
  stats_path = os.path.join(root, STATS_FILE)
  samples = spec.sample_ids()
  stamp = f'renderer {RENDERER_VERSION}: {spec!r}'
  if os.path.exists(marker):
    with open(marker) as f:
      if f.read() == stamp:
        with open(stats_path) as f:
          logging.info('Synthetic NTU data in %s (rendered earlier): %s',
                       root, f.read())
        return samples
    os.remove(marker)
  for folder in (layout.SKELETON_DIR, layout.RGB_DIR, layout.DEPTH_DIR,
                 layout.DEPTH_MASKED_DIR):
    shutil.rmtree(os.path.join(root, folder), ignore_errors=True)
  os.makedirs(os.path.join(root, layout.SKELETON_DIR))
  os.makedirs(os.path.join(root, layout.RGB_DIR))
  jobs = [(root, spec, sample) for sample in samples]
  logging.info('Rendering %d synthetic NTU samples into %s with %d workers.',
               len(jobs), root, spec.num_workers)
  start = time.perf_counter()
  if spec.num_workers > 1:
    # spawn, not fork: the caller (the trainer, tfds) may already run JAX or
    # TensorFlow threads, and forking a multithreaded process can deadlock.
    with multiprocessing.get_context('spawn').Pool(
        spec.num_workers, initializer=_one_cv2_thread) as pool:
      done = pool.imap_unordered(_render_one, jobs, chunksize=1)
      stats = _log_progress(done, len(jobs), start)
  else:
    stats = _log_progress(map(_render_one, jobs), len(jobs), start)
  summary = summarize(samples, stats, time.perf_counter() - start,
                      spec.num_workers)
  logging.info('Synthetic NTU data in %s: %s', root, json.dumps(summary))
  with open(stats_path, 'w') as f:
    json.dump(summary, f)
  with open(marker, 'w') as f:
    f.write(stamp)
  return samples



def _define_flags():
  # Defined only when run as a program: the builder imports this module.
  flags.DEFINE_string('root', None, 'Folder to write the NTU layout into.',
                      required=True)
  flags.DEFINE_integer('seed', 0, 'Same seed, byte-identical files.')
  flags.DEFINE_list('setups', ['1', '2', '3'], 'Setup numbers.')
  flags.DEFINE_list('cameras', ['1', '2', '3'], 'Camera numbers.')
  flags.DEFINE_list('performers', [str(p) for p in range(1, 41)],
                    'Performer numbers.')
  flags.DEFINE_list('replications', ['1'], 'Replication numbers (1, 2).')
  flags.DEFINE_list('actions', [str(a) for a in sorted(ACTIONS)],
                    'Action numbers.')
  flags.DEFINE_integer('actions_per_performer', 1,
                       'Actions each performer performs per setup and '
                       'replication; 0: every action.')
  flags.DEFINE_integer('num_frames', 24, 'Frames per sample.')
  flags.DEFINE_list('modalities', list(MODALITIES), 'Files to write.')
  flags.DEFINE_integer('num_workers', os.cpu_count() or 1,
                       'Processes rendering in parallel.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  f = flags.FLAGS
  ints = lambda values: tuple(int(v) for v in values)
  spec = SyntheticSpec(
      seed=f.seed, setups=ints(f.setups), cameras=ints(f.cameras),
      performers=ints(f.performers), replications=ints(f.replications),
      actions=ints(f.actions),
      actions_per_performer=f.actions_per_performer or None,
      num_frames=f.num_frames,
      modalities=tuple(f.modalities), num_workers=f.num_workers)
  render_dataset(f.root, spec)


if __name__ == '__main__':
  _define_flags()
  app.run(main)
