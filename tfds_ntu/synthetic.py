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
blur, noise and compression.

    python -m tfds_ntu.synthetic --root=DIR [--actions=1,8,58]
        [--actions_per_performer=0]  # 0: each performer, every action
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

from tfds_ntu import body_model
from tfds_ntu import kinect
from tfds_ntu import layout
from tfds_ntu import motions
from tfds_ntu import rasterize
from tfds_ntu import scene
from tfds_ntu import sensor
from tfds_ntu import skeleton_file

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
RENDERER_VERSION = 3
STATS_FILE = 'synthetic_stats.json'


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


def _moving_boxes(performance, t, camera, height, width, shade):
  """`rasterize.Hits` of the occluders in frame t (None when off-screen)."""
  occ = performance.occluders
  if occ.lo.shape[1] == 0:
    return None
  frame = scene.Boxes(occ.lo[t], occ.hi[t], occ.colours)
  corners = performance.view.to_camera(frame.corners().reshape(-1, 3))
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
    depth [T, 424, 512] metres (inf where nothing is hit) and body
    [T, 424, 512] bool, where a person is the nearest surface.
  """
  height, width = layout.DEPTH_SIZE
  camera = kinect.DEPTH_CAMERA
  background, _ = scene.render_background(
      performance.setup, performance.props, performance.view, camera, height,
      width, shade=False)
  caps = performance.capsules
  depths, bodies = [], []
  for t in range(len(caps.ends)):
    depth = background.copy()
    moving = _moving_boxes(performance, t, camera, height, width, False)
    if moving is not None:
      hits, where = moving
      depth[where] = np.minimum(depth[where], hits.depth)
    people = rasterize.capsules(caps.ends[t], caps.radii, camera, height,
                                width)
    body = people.depth < depth
    depths.append(np.where(body, people.depth, depth))
    bodies.append(body)
  return np.stack(depths), np.stack(bodies)


def _pattern(caps, index, texture):
  """[N] brightness factor of the clothes' stripes or checks."""
  along, around = (texture / caps.pattern_period[index][:, None]).T
  stripes = np.floor(along) % 2
  checks = (np.floor(along) + np.floor(around)) % 2
  pattern = caps.pattern[index]
  return 1.0 - 0.35 * np.where(pattern == body_model.STRIPES, stripes,
                               np.where(pattern == body_model.CHECKS, checks,
                                        0.0))


def render_rgb(performance, scale):
  """Clean colour frames [T, h, w, 3] float RGB (0-255) at `scale` x
  1920x1080."""
  height = round(layout.RGB_SIZE[0] * scale)
  width = round(layout.RGB_SIZE[1] * scale)
  camera = kinect.COLOR_CAMERA.scaled(scale)
  setup, view = performance.setup, performance.view
  bg_depth, bg_colour = scene.render_background(
      setup, performance.props, view, camera, height, width, shade=True)
  caps = performance.capsules
  frames = []
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
    people = rasterize.capsules(caps.ends[t], caps.radii, camera, height,
                                width, shade=True)
    near = people.depth < depth
    index = people.index[near]
    albedo = caps.colours[index] * _pattern(caps, index,
                                            people.texture[near])[:, None]
    # Capsule normals are in camera space; rows of `rotation` map to world.
    colour[near] = scene.shade_surface(albedo,
                                       people.normal[near] @ view.rotation,
                                       setup)
    frames.append(colour)
  return np.stack(frames)


def tracking_states(performance, depth):
  """[A, T, 25] int per actor: 2 where a joint is visible in the clean
  depth buffer [T, H, W], 1 where something in front hides it (Kinect then
  infers it)."""
  states = []
  t = np.arange(len(depth))[:, None]
  for actor in performance.actors:
    # A visible joint lies inside its own volume: up to its largest touching
    # capsule's radius behind the surface.
    slack = body_model.joint_slack(actor.performer)
    uv = np.floor(kinect.DEPTH_CAMERA.project(actor.joints)).astype(int)
    surface = depth[t, uv[..., 1], uv[..., 0]]
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
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), layout.FPS,
                           (width, height))
  if not writer.isOpened():
    raise RuntimeError(f'cv2 cannot open an MJPG AVI writer for {path}')
  for frame in frames:
    big = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    writer.write(cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
  writer.release()


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
  depth, body = render_depth(performance)
  tracking = tracking_states(performance, depth)
  skeleton_file.write_skeleton(layout.skeleton_path(root, name),
                               skeleton_frames(performance, tracking))
  rng = np.random.default_rng([spec.seed, 6, *dataclasses.astuple(sample)])
  if {'depth', 'depth_masked'} & set(spec.modalities):
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
    frames = [sensor.degrade_colour(f, rng, degradation, spec.rgb_render_scale)
              for f in render_rgb(performance, spec.rgb_render_scale)]
    write_rgb_video(layout.rgb_path(root, name), frames)
  return {'frames': spec.num_frames, 'bodies': len(performance.actors),
          'occluder': int(performance.occluders.lo.shape[1] > 0),
          'joints': int(tracking.size), 'inferred': int((tracking == 1).sum())}


def _render_one(args):
  return args[2].name, render_sample(*args)


def _log_progress(done, total, start):
  """Consumes `done` ((name, stats) per rendered sample), logging ~10 times.

  Returns:
    {name: stats}.
  """
  every = max(1, total // 10)
  stats = {}
  for i, (name, sample_stats) in enumerate(done, 1):
    stats[name] = sample_stats
    if i % every == 0 or i == total:
      elapsed = time.perf_counter() - start
      logging.info('Rendered %d/%d samples (%.1f samples/s).', i, total,
                   i / max(elapsed, 1e-9))
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
    with multiprocessing.get_context('spawn').Pool(spec.num_workers) as pool:
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
