"""Renders a synthetic dataset in the real NTU RGB+D layout and file formats.

Articulated 25-joint Kinect v2 skeletons perform a few actions; their bodies
are drawn as capsules (limbs, torso) and spheres (head), z-buffered, seen by
three cameras at -45, 0 and +45 degrees around the performer. Each sample is
written exactly as NTU ships it (see `layout`): a 1920x1080 30 FPS colour AVI
(MJPG), masked 512x424 uint16 millimetre depth PNGs, and a `.skeleton` text
file with all fields, so the TFDS builder reads synthetic and real data
through one code path.

Geometry is Kinect v2 as measured on real NTU files (DESIGN.md): a joint at
camera-space (X, Y, Z) metres lies at depth pixel (fx X / Z + cx, -fy Y / Z +
cy) and colour pixel (fx (X + 0.053) / Z + cx, -fy Y / Z + cy) with the
intrinsics below. Lens distortion is not modelled: real depthX/Y match the
pinhole model within 1 px, real colorX/Y within ~6 px.

Mirror convention (as in NTU's images): a performer facing the camera has
joints named left on the image's left, i.e. at smaller camera X.
"""

import dataclasses
import multiprocessing
import os
import shutil
import time

from absl import logging
import cv2
import numpy as np

from tfds_ntu import layout
from tfds_ntu import skeleton_file


@dataclasses.dataclass(frozen=True)
class Intrinsics:
  """Pinhole camera: u = fx (X + offset_x) / Z + cx, v = -fy Y / Z + cy."""
  fx: float
  cx: float
  cy: float
  offset_x: float = 0.0

  def project(self, xyz):
    """[..., 3] camera-space metres -> [..., 2] pixels."""
    z = xyz[..., 2]
    return np.stack([self.fx * (xyz[..., 0] + self.offset_x) / z + self.cx,
                     -self.fx * xyz[..., 1] / z + self.cy], axis=-1)

  def scaled(self, scale):
    """The same camera for an image resized by `scale`."""
    return Intrinsics(self.fx * scale, self.cx * scale, self.cy * scale,
                      self.offset_x)


DEPTH_CAMERA = Intrinsics(fx=365.5, cx=256.4, cy=208.5)
COLOR_CAMERA = Intrinsics(fx=1055.0, cx=965.0, cy=565.0, offset_x=0.053)
# Physical camera azimuths around the performer; 0 faces them head on.
CAMERA_AZIMUTH_DEG = {1: 0.0, 2: -45.0, 3: 45.0}
# NTU performers turn between the two replications: R001 towards one side
# camera, R002 towards the other.
REPLICATION_YAW_DEG = {1: -20.0, 2: 20.0}
# Base for the 64-bit Kinect body IDs (real ones are 2**56 + a counter).
_BODY_ID_BASE = 72057594037927936

# Action IDs (NTU-120 labels) -> short names of the motions below.
ACTIONS = {
    10: 'clapping',
    23: 'hand waving',
    24: 'kicking something',
    27: 'jump up',
    31: 'pointing to something with finger',
    80: 'squat down',
}

COMPLETION_MARKER = 'RENDERED'


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
  """What to render; one sample per (setup, camera, performer, replication,
  action).

  Attributes:
    seed: all randomness derives from it (same seed -> identical files).
    setups: setup numbers; a setup fixes camera height and distance.
    cameras: camera numbers, keys of CAMERA_AZIMUTH_DEG.
    performers: performer numbers; include some in and some out of
      `layout.XSUB_TRAIN_PERFORMERS_120` so both cross-subject sides fill.
    replications: replication numbers, keys of REPLICATION_YAW_DEG.
    actions: action numbers, keys of ACTIONS.
    num_frames: frames per sample.
    modalities: which files to write besides the skeleton: 'rgb',
      'depth_masked'.
    rgb_render_scale: colour frames are rendered at this fraction of
      1920x1080 and upscaled (rendering at full size is ~16x slower).
    num_workers: processes rendering samples in parallel.
  """
  seed: int = 0
  setups: tuple[int, ...] = (1,)
  cameras: tuple[int, ...] = (1, 2, 3)
  performers: tuple[int, ...] = (1, 3)
  replications: tuple[int, ...] = (1,)
  actions: tuple[int, ...] = (23, 24)
  num_frames: int = 12
  modalities: tuple[str, ...] = ('rgb', 'depth_masked')
  rgb_render_scale: float = 0.25
  num_workers: int = 2

  def sample_ids(self):
    """All samples, sorted by name."""
    return sorted(
        layout.SampleId(s, c, p, r, a) for s in self.setups
        for c in self.cameras for p in self.performers
        for r in self.replications for a in self.actions)


# --- Skeleton: Kinect v2 joints (0-based here; DESIGN.md lists them 1-based).
(SPINE_BASE, SPINE_MID, NECK, HEAD, SHOULDER_L, ELBOW_L, WRIST_L, HAND_L,
 SHOULDER_R, ELBOW_R, WRIST_R, HAND_R, HIP_L, KNEE_L, ANKLE_L, FOOT_L, HIP_R,
 KNEE_R, ANKLE_R, FOOT_R, SPINE_SHOULDER, HAND_TIP_L, THUMB_L, HAND_TIP_R,
 THUMB_R) = range(25)

# Kinect stores at a joint the orientation of the bone to its (main) child;
# leaves (head, feet, hand tips, thumbs) carry zeros.
_BONE_CHILD = {
    SPINE_BASE: SPINE_MID, SPINE_MID: SPINE_SHOULDER, SPINE_SHOULDER: NECK,
    NECK: HEAD, SHOULDER_L: ELBOW_L, ELBOW_L: WRIST_L, WRIST_L: HAND_L,
    HAND_L: HAND_TIP_L, SHOULDER_R: ELBOW_R, ELBOW_R: WRIST_R,
    WRIST_R: HAND_R, HAND_R: HAND_TIP_R, HIP_L: KNEE_L, KNEE_L: ANKLE_L,
    ANKLE_L: FOOT_L, HIP_R: KNEE_R, KNEE_R: ANKLE_R, ANKLE_R: FOOT_R,
}

# Body volumes: (joint a, joint b, radius as a fraction of height, material,
# whether the radius scales with the performer's width).
_CAPSULES = (
    (SPINE_BASE, SPINE_SHOULDER, 0.085, 'shirt', True),
    (SHOULDER_L, SHOULDER_R, 0.045, 'shirt', True),
    (HIP_L, HIP_R, 0.06, 'pants', True),
    (NECK, HEAD, 0.03, 'skin', False),
    (HEAD, HEAD, 0.065, 'skin', False),
    (SHOULDER_L, ELBOW_L, 0.033, 'shirt', True),
    (SHOULDER_R, ELBOW_R, 0.033, 'shirt', True),
    (ELBOW_L, WRIST_L, 0.026, 'skin', False),
    (ELBOW_R, WRIST_R, 0.026, 'skin', False),
    (WRIST_L, HAND_TIP_L, 0.022, 'skin', False),
    (WRIST_R, HAND_TIP_R, 0.022, 'skin', False),
    (WRIST_L, THUMB_L, 0.012, 'skin', False),
    (WRIST_R, THUMB_R, 0.012, 'skin', False),
    (HIP_L, KNEE_L, 0.05, 'pants', True),
    (HIP_R, KNEE_R, 0.05, 'pants', True),
    (KNEE_L, ANKLE_L, 0.04, 'pants', True),
    (KNEE_R, ANKLE_R, 0.04, 'pants', True),
    (ANKLE_L, FOOT_L, 0.028, 'shoes', False),
    (ANKLE_R, FOOT_R, 0.028, 'shoes', False),
)
_MATERIALS = ('skin', 'shirt', 'pants', 'shoes')
_SKIN_TONES = ((224, 190, 160), (198, 150, 110), (160, 110, 75),
               (110, 75, 50))  # RGB.


@dataclasses.dataclass(frozen=True)
class Performer:
  """Body proportions and clothing of one performer."""
  height: float  # metres
  width: float  # torso and limb girth factor
  colors: dict  # material -> RGB uint8 triple


def make_performer(seed, performer):
  """A performer's looks, derived from (seed, performer number) only."""
  rng = np.random.default_rng([seed, 1, performer])
  shirt = rng.integers(30, 230, size=3)
  return Performer(
      height=float(rng.uniform(1.55, 1.85)),
      width=float(rng.uniform(0.9, 1.15)),
      colors={
          'skin': np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))]),
          'shirt': shirt,
          'pants': rng.integers(20, 120, size=3),
          'shoes': rng.integers(10, 60, size=3),
      })


# --- Motions: joint angles (degrees) and lift (metres) over phase s in [0, 1].
def _bump(s, center, width):
  """Raised cosine: 1 at `center`, 0 beyond `width` away."""
  x = np.clip((s - center) / width, -1.0, 1.0)
  return 0.5 * (1.0 + np.cos(np.pi * x))


def _hold(s, rise=0.25, fall=0.75):
  """Smoothly 0 -> 1 over [0, rise], 1, then 1 -> 0 over [fall, 1]."""
  up = np.clip(s / rise, 0.0, 1.0)
  down = np.clip((1.0 - s) / (1.0 - fall), 0.0, 1.0)
  x = np.minimum(up, down)
  return x * x * (3.0 - 2.0 * x)


def _clapping(s, amp, cycles):
  swing = 5.0 + 20.0 * amp * np.cos(2.0 * np.pi * cycles * s)
  return {'sh_pitch_l': 80.0, 'sh_pitch_r': 80.0, 'sh_abd_l': swing,
          'sh_abd_r': swing, 'elbow_l': 25.0, 'elbow_r': 25.0}


def _hand_waving(s, amp, cycles):
  up = _hold(s, 0.2, 0.85)
  wave = 35.0 + 30.0 * amp * np.sin(2.0 * np.pi * cycles * s)
  return {'sh_pitch_r': 15.0 * up, 'sh_abd_r': 10.0 + 125.0 * up,
          'elbow_r': wave * up}


def _kicking(s, amp, cycles):
  del cycles  # One kick per sample.
  return {'hip_pitch_r': 75.0 * amp * _bump(s, 0.55, 0.3),
          'knee_r': 80.0 * _bump(s, 0.4, 0.25),
          'sh_abd_l': 10.0 + 15.0 * _bump(s, 0.55, 0.35),
          'sh_abd_r': 10.0 + 15.0 * _bump(s, 0.55, 0.35)}


def _jump_up(s, amp, cycles):
  del cycles  # One jump per sample.
  crouch = _bump(s, 0.3, 0.18) + _bump(s, 0.72, 0.15)
  return {'hip_pitch_l': 55.0 * crouch, 'hip_pitch_r': 55.0 * crouch,
          'knee_l': 80.0 * crouch, 'knee_r': 80.0 * crouch,
          'spine_bend': 20.0 * crouch, 'lift': 0.22 * amp * _bump(s, 0.5, 0.13),
          'sh_pitch_l': 100.0 * _bump(s, 0.5, 0.2),
          'sh_pitch_r': 100.0 * _bump(s, 0.5, 0.2)}


def _pointing(s, amp, cycles):
  del cycles  # One gesture per sample.
  up = _hold(s, 0.3, 0.8)
  return {'sh_pitch_r': 85.0 * amp * up, 'sh_abd_r': 10.0 + 15.0 * up,
          'elbow_r': 5.0}


def _squat_down(s, amp, cycles):
  del cycles  # One squat per sample.
  down = amp * _hold(s, 0.4, 0.7)
  return {'hip_pitch_l': 95.0 * down, 'hip_pitch_r': 95.0 * down,
          'knee_l': 115.0 * down, 'knee_r': 115.0 * down,
          'spine_bend': 30.0 * down, 'sh_pitch_l': 70.0 * down,
          'sh_pitch_r': 70.0 * down}


_MOTIONS = {10: _clapping, 23: _hand_waving, 24: _kicking, 27: _jump_up,
            31: _pointing, 80: _squat_down}
_POSE_DEFAULTS = {
    'sh_pitch_l': 0.0, 'sh_pitch_r': 0.0, 'sh_abd_l': 10.0, 'sh_abd_r': 10.0,
    'elbow_l': 10.0, 'elbow_r': 10.0, 'hip_pitch_l': 0.0, 'hip_pitch_r': 0.0,
    'knee_l': 0.0, 'knee_r': 0.0, 'spine_bend': 0.0, 'lift': 0.0,
}


def _swing(v, toward, degrees):
  """Rotates unit vectors v [T, 3] towards `toward` by `degrees` [T].

  Where `toward` is (nearly) parallel to v the plane of rotation is
  undefined; there v swings towards +Y, or +X when v is vertical.
  """
  def perpendicular(hint):
    hint = np.broadcast_to(np.asarray(hint, np.float64), v.shape)
    w = hint - np.sum(hint * v, axis=-1, keepdims=True) * v
    return w, np.linalg.norm(w, axis=-1, keepdims=True)
  w, norm = perpendicular(toward)
  for hint in ([0.0, 1.0, 0.0], [1.0, 0.0, 0.0]):
    w_alt, norm_alt = perpendicular(hint)
    degenerate = norm < 1e-3
    w = np.where(degenerate, w_alt, w)
    norm = np.where(degenerate, norm_alt, norm)
  a = np.radians(np.broadcast_to(degrees, v.shape[:1]))[:, None]
  return np.cos(a) * v + np.sin(a) * w / norm


def pose_joints(performer, pose):
  """Forward kinematics in the body frame.

  Args:
    performer: a `Performer`.
    pose: dict of [T] arrays (see _POSE_DEFAULTS; degrees, lift in metres).

  Returns:
    [T, 25, 3] joints in metres; body frame: +X the performer's left, +Y up,
    +Z their front; feet on the floor y = 0 (plus `lift`), spine base over
    the origin.
  """
  h, w = performer.height, performer.width
  t = len(pose['lift'])
  j = np.zeros((t, 25, 3))
  up, down, fwd = np.eye(3)[1], -np.eye(3)[1], np.eye(3)[2]
  vec = lambda x: np.broadcast_to(np.asarray(x, np.float64), (t, 3))
  # Bending the spine pitches the whole upper body forward about the spine
  # base: a rotation about X taking +Y towards +Z.
  a = np.radians(pose['spine_bend'])
  bend = np.zeros((t, 3, 3))
  bend[:, 0, 0] = 1.0
  bend[:, 1, 1], bend[:, 1, 2] = np.cos(a), -np.sin(a)
  bend[:, 2, 1], bend[:, 2, 2] = np.sin(a), np.cos(a)
  torso = lambda p: np.einsum('tij,tj->ti', bend, p)
  spine = torso(vec(up))
  j[:, SPINE_MID] = 0.15 * h * spine
  j[:, SPINE_SHOULDER] = 0.255 * h * spine
  j[:, NECK] = 0.29 * h * spine
  j[:, HEAD] = 0.355 * h * spine
  elbow_toward = np.array([0., 1, 1]) / np.sqrt(2.0)
  for side, s in (('l', 1.0), ('r', -1.0)):
    shoulder, elbow, wrist, hand, tip, thumb, hip, knee, ankle, foot = (
        (SHOULDER_L, ELBOW_L, WRIST_L, HAND_L, HAND_TIP_L, THUMB_L, HIP_L,
         KNEE_L, ANKLE_L, FOOT_L) if side == 'l' else
        (SHOULDER_R, ELBOW_R, WRIST_R, HAND_R, HAND_TIP_R, THUMB_R, HIP_R,
         KNEE_R, ANKLE_R, FOOT_R))
    j[:, shoulder] = torso(vec([s * 0.09 * h * w, 0.235 * h, 0.0]))
    upper = _swing(vec(down), fwd, pose[f'sh_pitch_{side}'])
    upper = torso(_swing(upper, [s, 0.0, 0.0], pose[f'sh_abd_{side}']))
    fore = _swing(upper, torso(vec(elbow_toward)), pose[f'elbow_{side}'])
    j[:, elbow] = j[:, shoulder] + 0.165 * h * upper
    j[:, wrist] = j[:, elbow] + 0.15 * h * fore
    j[:, hand] = j[:, wrist] + 0.045 * h * fore
    j[:, tip] = j[:, hand] + 0.04 * h * fore
    # The thumb sits off the hand towards the body's front.
    j[:, thumb] = j[:, wrist] + 0.03 * h * fore + 0.03 * h * _swing(
        fore, torso(vec(fwd)), 90.0)
    j[:, hip] = [s * 0.05 * h * w, -0.02 * h, 0.0]
    thigh = _swing(vec(down), fwd, pose[f'hip_pitch_{side}'])
    shin = _swing(thigh, np.array([0., -1, -1]) / np.sqrt(2.0),
                  pose[f'knee_{side}'])
    j[:, knee] = j[:, hip] + 0.245 * h * thigh
    j[:, ankle] = j[:, knee] + 0.245 * h * shin
    j[:, foot] = j[:, ankle] + [0.0, -0.03 * h, 0.07 * h]
  # Stand on the lowest foot joint, then add the jump's lift.
  lowest = j[:, [ANKLE_L, FOOT_L, ANKLE_R, FOOT_R], 1].min(axis=1)
  j[..., 1] += (0.005 * h - lowest + pose['lift'])[:, None]
  return j


def _rot_y(degrees):
  a = np.radians(degrees)
  return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0],
                   [-np.sin(a), 0, np.cos(a)]])


def _world_to_camera(points, azimuth_deg, height, distance):
  """World [..., 3] -> camera space of a level camera on a circle.

  The camera stands at `distance` from the origin at `azimuth_deg` (0 on the
  world's +Z side), `height` above the floor, looking at the vertical axis.
  Camera axes (Kinect): +Z forward, +Y up, X = Y x Z.
  """
  r = _rot_y(azimuth_deg)
  center = r @ np.array([0.0, height, distance])
  z_axis = r @ np.array([0.0, 0.0, -1.0])
  x_axis = r @ np.array([-1.0, 0.0, 0.0])
  rel = points - center
  return np.stack([rel @ x_axis, rel[..., 1], rel @ z_axis], axis=-1)


def _bone_quaternions(joints):
  """[T, 25, 3] -> [T, 25, 4] (w, x, y, z) turning +Y onto each bone.

  Twist about the bone is not modelled; leaves get zeros as in real files.
  """
  q = np.zeros(joints.shape[:2] + (4,))
  for parent, child in _BONE_CHILD.items():
    b = joints[:, child] - joints[:, parent]
    b /= np.linalg.norm(b, axis=-1, keepdims=True)
    # Shortest arc from +Y to b: (1 + y.b, y x b).
    quat = np.stack([1.0 + b[:, 1], b[:, 2], 0.0 * b[:, 0], -b[:, 0]], -1)
    norm = np.linalg.norm(quat, axis=-1, keepdims=True)
    # b == -Y: a half turn about Z.
    quat = np.where(norm > 1e-6, quat / np.maximum(norm, 1e-12),
                    np.array([0.0, 0.0, 0.0, 1.0]))
    q[:, parent] = quat
  return q


def _capsule_geometry(joints, performer):
  """[T, 25, 3] joints -> [T, K, 2, 3] capsule ends, [K] radii, [K] material."""
  ends = joints[:, [[c[0], c[1]] for c in _CAPSULES]]
  radii = np.array([c[2] * performer.height * (performer.width if c[4] else 1)
                    for c in _CAPSULES])
  materials = np.array([_MATERIALS.index(c[3]) for c in _CAPSULES])
  return ends, radii, materials


def rasterize(ends, radii, camera, height, width):
  """Z-buffers capsules seen by a pinhole camera (screen-space approximation).

  Args:
    ends: [K, 2, 3] capsule end points, camera space (Z > 0).
    radii: [K] metres.
    camera: `Intrinsics` for this image size.
    height, width: image size.

  Returns:
    depth [H, W] float64 metres (inf where empty), index [H, W] int32 capsule
    index (-1 where empty), facing [H, W] in [0, 1] (1 where the surface faces
    the camera) for shading.
  """
  depth = np.full((height, width), np.inf)
  index = np.full((height, width), -1, np.int32)
  facing = np.zeros((height, width))
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
    dist = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
    r_t = pix_r[k, 0] + t * (pix_r[k, 1] - pix_r[k, 0])
    inside = dist < r_t
    bulge = np.sqrt(np.clip(1.0 - (dist / r_t) ** 2, 0.0, 1.0))
    z = ends[k, 0, 2] + t * (ends[k, 1, 2] - ends[k, 0, 2]) - radii[k] * bulge
    win = inside & (z < depth[y0:y1, x0:x1])
    depth[y0:y1, x0:x1][win] = z[win]
    index[y0:y1, x0:x1][win] = k
    facing[y0:y1, x0:x1][win] = bulge[win]
  return depth, index, facing


@dataclasses.dataclass(frozen=True)
class Performance:
  """One performed sample seen by one camera, before any file is written.

  Attributes:
    joints: [T, 25, 3] depth-camera-space metres.
    lean_y: [T] Kinect leanY (forward lean, -1..1).
    body_id: Kinect body ID.
    performer: the `Performer`.
    background: (wall, floor) RGB colours.
    horizon: colour image row where the floor meets the wall.
  """
  joints: np.ndarray
  lean_y: np.ndarray
  body_id: int
  performer: Performer
  background: tuple
  horizon: float


def perform(spec, sample):
  """Poses the performer of `sample` and places it in its camera's space.

  The performance depends on (seed, setup, performer, replication, action)
  only, so a sample's three cameras film the same movement, as in NTU.
  """
  performer = make_performer(spec.seed, sample.performer)
  rng = np.random.default_rng(
      [spec.seed, 2, sample.setup, sample.performer, sample.replication,
       sample.action])
  amp = rng.uniform(0.8, 1.15)
  cycles = rng.uniform(1.5, 3.5)
  # Speed varies by playing a random window of the motion's phase.
  start = rng.uniform(0.0, 0.1)
  s = np.linspace(start, start + rng.uniform(0.85, 0.9), spec.num_frames)
  pose = {k: np.broadcast_to(np.asarray(v, np.float64), s.shape)
          for k, v in {**_POSE_DEFAULTS,
                       **_MOTIONS[sample.action](s, amp, cycles)}.items()}
  body = pose_joints(performer, pose)
  yaw = REPLICATION_YAW_DEG[sample.replication] + rng.uniform(-8.0, 8.0)
  offset = np.array([rng.uniform(-0.15, 0.15), 0.0, rng.uniform(-0.15, 0.15)])
  world = body @ _rot_y(yaw).T + offset
  setup_rng = np.random.default_rng([spec.seed, 3, sample.setup])
  cam_height = setup_rng.uniform(0.95, 1.15)
  distance = setup_rng.uniform(3.0, 3.5)
  joints = _world_to_camera(world, CAMERA_AZIMUTH_DEG[sample.camera],
                            cam_height, distance)
  view_rng = np.random.default_rng([spec.seed, 4, sample.setup, sample.camera])
  wall = view_rng.integers(60, 220, size=3)
  floor = (wall * view_rng.uniform(0.4, 0.8)).astype(np.int64)
  # Where the floor 1.5 m behind the performer appears in the colour image.
  horizon = COLOR_CAMERA.cy + COLOR_CAMERA.fx * cam_height / (distance + 1.5)
  return Performance(
      joints=joints, lean_y=np.sin(np.radians(pose['spine_bend'])),
      body_id=_BODY_ID_BASE + int(rng.integers(1, 10_000)),
      performer=performer, background=(wall, floor), horizon=horizon)


def _tracking_states(performance, depth_frames):
  """[T, 25] int: 2 where a joint is visible in the depth buffer, 1 where
  the body hides it (Kinect then infers it)."""
  joints = performance.joints
  _, radii, _ = _capsule_geometry(joints, performance.performer)
  # A visible joint lies inside its own volume: up to its largest touching
  # capsule's radius behind the surface.
  slack = np.full(25, 0.0)
  for (a, b, *_), r in zip(_CAPSULES, radii):
    slack[a] = max(slack[a], r)
    slack[b] = max(slack[b], r)
  uv = np.floor(DEPTH_CAMERA.project(joints)).astype(int)
  t = np.arange(len(joints))[:, None]
  surface = depth_frames[t, uv[..., 1], uv[..., 0]]
  visible = surface >= joints[..., 2] - slack - 0.03
  return np.where(visible, 2, 1)


def skeleton_frames(performance, tracking):
  """The performance as `skeleton_file.Body` frames (one body per frame)."""
  joints = performance.joints
  rows = np.concatenate([
      joints, DEPTH_CAMERA.project(joints), COLOR_CAMERA.project(joints),
      _bone_quaternions(joints), tracking[..., None]], axis=-1)
  return [[skeleton_file.Body(
      body_id=performance.body_id, flags=(0, 1, 2, 1, 2, 0),
      lean=(0.0, float(performance.lean_y[t])), tracking_state=2,
      joints=rows[t])] for t in range(len(joints))]


def render_depth(performance):
  """[T, 424, 512] float64 metres, inf off the body."""
  ends, radii, _ = _capsule_geometry(performance.joints, performance.performer)
  height, width = layout.DEPTH_SIZE
  return np.stack([rasterize(e, radii, DEPTH_CAMERA, height, width)[0]
                   for e in ends])


def render_rgb(performance, scale):
  """[T, H, W, 3] uint8 RGB at `scale` x 1920x1080."""
  ends, radii, materials = _capsule_geometry(performance.joints,
                                             performance.performer)
  height = round(layout.RGB_SIZE[0] * scale)
  width = round(layout.RGB_SIZE[1] * scale)
  camera = COLOR_CAMERA.scaled(scale)
  palette = np.array([performance.performer.colors[m] for m in _MATERIALS],
                     np.float64)[materials]
  wall, floor = performance.background
  rows = np.arange(height)[:, None, None]
  # A soft wall-to-floor gradient around the horizon.
  blend = np.clip((rows - performance.horizon * scale) / (0.05 * height) + 0.5,
                  0.0, 1.0)
  background = np.broadcast_to(
      wall + blend * (floor - wall), (height, width, 3)).astype(np.uint8)
  frames = np.repeat(background[None], len(ends), axis=0)
  for frame, e in zip(frames, ends):
    _, index, facing = rasterize(e, radii, camera, height, width)
    body = index >= 0
    shaded = palette[index[body]] * (0.55 + 0.45 * facing[body])[:, None]
    frame[body] = np.clip(shaded, 0, 255).astype(np.uint8)
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


def render_sample(root, spec, sample):
  """Writes one sample's files (per `spec.modalities`) under `root`."""
  performance = perform(spec, sample)
  for name, uv, size in (
      ('depth', DEPTH_CAMERA.project(performance.joints), layout.DEPTH_SIZE),
      ('colour', COLOR_CAMERA.project(performance.joints), layout.RGB_SIZE)):
    if not (np.all(uv >= 0) and np.all(uv[..., 0] < size[1]) and
            np.all(uv[..., 1] < size[0])):
      raise ValueError(f'{sample.name}: joints leave the {name} image; the '
                       'spec places cameras too close')
  depth = render_depth(performance)
  tracking = _tracking_states(performance, depth)
  name = sample.name
  skeleton_file.write_skeleton(layout.skeleton_path(root, name),
                               skeleton_frames(performance, tracking))
  if 'depth_masked' in spec.modalities:
    os.makedirs(layout.depth_masked_dir(root, name), exist_ok=True)
    millimetres = np.where(np.isfinite(depth), np.round(depth * 1000.0), 0)
    for t, frame in enumerate(millimetres.astype(np.uint16)):
      cv2.imwrite(layout.depth_masked_frame_path(root, name, t), frame)
  if 'rgb' in spec.modalities:
    write_rgb_video(layout.rgb_path(root, name),
                    render_rgb(performance, spec.rgb_render_scale))


def _render_one(args):
  render_sample(*args)


def _log_progress(done, total, start):
  """Consumes `done` (one item per rendered sample), logging ~10 times."""
  every = max(1, total // 10)
  for i, _ in enumerate(done, 1):
    if i % every == 0 or i == total:
      elapsed = time.perf_counter() - start
      logging.info('Rendered %d/%d samples (%.1f samples/s).', i, total,
                   i / max(elapsed, 1e-9))


def render_dataset(root, spec):
  """Renders every sample of `spec` under `root` in the NTU layout.

  Skips the work when `root` holds a completion marker written by an earlier
  call with the same spec; the marker is written last, so an interrupted run
  renders again. Otherwise the NTU folders under `root` are emptied first, so
  that no sample of another spec is left behind.

  Returns:
    The list of rendered `layout.SampleId`.
  """
  marker = os.path.join(root, COMPLETION_MARKER)
  samples = spec.sample_ids()
  if os.path.exists(marker):
    with open(marker) as f:
      if f.read() == repr(spec):
        return samples
  unknown = (set(spec.actions) - set(_MOTIONS), set(spec.cameras) -
             set(CAMERA_AZIMUTH_DEG), set(spec.replications) -
             set(REPLICATION_YAW_DEG),
             set(spec.modalities) - {'rgb', 'depth_masked'})
  if any(unknown):
    raise ValueError(f'unsupported (actions, cameras, replications, '
                     f'modalities) in the spec: {unknown}')
  if os.path.exists(marker):
    os.remove(marker)
  for folder in (layout.SKELETON_DIR, layout.RGB_DIR, layout.DEPTH_MASKED_DIR):
    shutil.rmtree(os.path.join(root, folder), ignore_errors=True)
    os.makedirs(os.path.join(root, folder))
  jobs = [(root, spec, sample) for sample in samples]
  logging.info('Rendering %d synthetic NTU samples into %s with %d workers.',
               len(jobs), root, spec.num_workers)
  start = time.perf_counter()
  if spec.num_workers > 1:
    # spawn, not fork: the caller (the trainer, tfds) may already run JAX or
    # TensorFlow threads, and forking a multithreaded process can deadlock.
    with multiprocessing.get_context('spawn').Pool(spec.num_workers) as pool:
      done = pool.imap_unordered(_render_one, jobs, chunksize=1)
      _log_progress(done, len(jobs), start)
  else:
    _log_progress(map(_render_one, jobs), len(jobs), start)
  with open(marker, 'w') as f:
    f.write(repr(spec))
  return samples
