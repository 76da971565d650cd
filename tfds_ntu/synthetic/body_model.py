"""Volumetric performers driven by the 25-joint Kinect v2 skeleton.

A performer has a stature, proportions (legs, arms, shoulders, head), girth,
posture, clothes, hair and a way of moving; `pose_joints` turns joint angles
into the 25 Kinect joints, and `body_capsules` dresses them in capsules
(torso halves, pelvis, limbs, hands, feet, head, hair) that the renderer
z-buffers.

`make_performer(seed, performer)` draws each performer from these
distributions (U: uniform), from (seed, performer number) only:

  stature      floor to the top of the head, standing: the piecewise-linear
               quantiles `_STATURE_QUANTILES`, 10% children 1.10-1.40 m,
               10% 1.40-1.56 m, 60% 1.56-1.81 m, 15% 1.81-1.92 m and 5%
               1.92-2.00 m. Stratified over each block of 40 performer
               numbers (1-40, 41-80, ...): each number of a block gets its
               own 1/40 of the quantiles, so every block spans children to
               tall adults, as NTU's 40 performers per 40 numbers would.
  maturity m   (stature - 1.15 m) / 0.45 m clipped to 0..1: 0 for a
               six-year-old, 1 from adult stature on. Proportions move with
               it, as they do from childhood to adulthood:
  head size    (1.28 - 0.28 m) x U(0.95, 1.05): a child's head is ~1/6 of
               its stature, an adult's ~1/7.5.
  legs         (0.90 + 0.10 m) x U(0.95, 1.05): children have short legs
               for their height.
  shoulders    (0.92 + 0.08 m) x U(0.92, 1.08), width.
  arms         (0.96 + 0.04 m) x U(0.95, 1.05), length.
  girth        triangular(0.80, 1.00, 1.45), thin to heavy: torso, pelvis
               and limb thickness.
  posture      slouch U(-3, 12) degrees of forward spine bend, forward head
               U(0, 18) degrees of head pitch, one shoulder (either side)
               dropped by U(0, 0.015) x scale; offsets added to every pose.
  clothes      shirt fit U(0.95, 1.30) and trousers fit U(0.95, 1.35),
               tight to loose: factors on those capsules' radii (`fit`,
               per material); long sleeves 60%, shorts 20%, which take the
               shirt's or trousers' fit, or the skin's (1).
  hair         none 10%; short 55%: a cap on the crown; long 35%: the cap
               and a capsule behind the head reaching U(0.3, 1.0) of the way
               from the neck to mid-back.
  movement     speed U(0.85, 1.15) and amplitude U(0.88, 1.12) factors on
               every action; 12% left-handed (one-person actions mirrored).

Lengths are fractions of `Performer.height`, the body's scale; the stature
follows from the scale and the proportions.
"""

import dataclasses

import numpy as np

# Kinect v2 joints, 0-based (DESIGN.md lists them 1-based).
(SPINE_BASE, SPINE_MID, NECK, HEAD, SHOULDER_L, ELBOW_L, WRIST_L, HAND_L,
 SHOULDER_R, ELBOW_R, WRIST_R, HAND_R, HIP_L, KNEE_L, ANKLE_L, FOOT_L, HIP_R,
 KNEE_R, ANKLE_R, FOOT_R, SPINE_SHOULDER, HAND_TIP_L, THUMB_L, HAND_TIP_R,
 THUMB_R) = range(25)
NUM_JOINTS = 25

# Kinect stores at a joint the orientation of the bone to its (main) child;
# leaves (head, feet, hand tips, thumbs) carry zeros.
_BONE_CHILD = {
    SPINE_BASE: SPINE_MID, SPINE_MID: SPINE_SHOULDER, SPINE_SHOULDER: NECK,
    NECK: HEAD, SHOULDER_L: ELBOW_L, ELBOW_L: WRIST_L, WRIST_L: HAND_L,
    HAND_L: HAND_TIP_L, SHOULDER_R: ELBOW_R, ELBOW_R: WRIST_R,
    WRIST_R: HAND_R, HAND_R: HAND_TIP_R, HIP_L: KNEE_L, KNEE_L: ANKLE_L,
    ANKLE_L: FOOT_L, HIP_R: KNEE_R, KNEE_R: ANKLE_R, ANKLE_R: FOOT_R,
}

# Surface points that are not joints, as weights over the joints: the two
# halves of the torso (a flat chest is two capsules side by side) and the top
# of the head where hair sits.
_EXTRA_POINTS = {
    'chest_l': {SPINE_SHOULDER: 0.6, SHOULDER_L: 0.4},
    'chest_r': {SPINE_SHOULDER: 0.6, SHOULDER_R: 0.4},
    'belly_l': {SPINE_BASE: 0.45, HIP_L: 0.55},
    'belly_r': {SPINE_BASE: 0.45, HIP_R: 0.55},
    'crown': {HEAD: 1.3, NECK: -0.3},
}
_POINT = {name: NUM_JOINTS + i for i, name in enumerate(_EXTRA_POINTS)}
_EXTRA_WEIGHTS = np.zeros((len(_EXTRA_POINTS), NUM_JOINTS))
for _i, _w in enumerate(_EXTRA_POINTS.values()):
  for _j, _v in _w.items():
    _EXTRA_WEIGHTS[_i, _j] = _v
# Long hair hangs behind the head and back, off the plane of the joints, so
# its two ends are placed by `_hair_points` rather than by weights.
_POINT['hair_top'] = NUM_JOINTS + len(_EXTRA_POINTS)
_POINT['hair_end'] = _POINT['hair_top'] + 1

# Materials a capsule can be made of. 'sleeve' and 'shin' are shirt/pants or
# skin depending on the performer's clothes.
MATERIALS = ('skin', 'shirt', 'pants', 'shoes', 'hair', 'sleeve', 'shin')
# Hair styles (Performer.hair).
NO_HAIR, SHORT_HAIR, LONG_HAIR = range(3)
# Body volumes: (point a, point b, radius as a fraction of height, material,
# whether the radius scales with girth). Radii of the head and the hair
# scale with the head's size, clothes' with their fit.
_CAPSULES = (
    (_POINT['chest_l'], _POINT['belly_l'], 0.062, 'shirt', True),
    (_POINT['chest_r'], _POINT['belly_r'], 0.062, 'shirt', True),
    (SHOULDER_L, SHOULDER_R, 0.04, 'shirt', True),
    (HIP_L, HIP_R, 0.058, 'pants', True),
    (NECK, HEAD, 0.03, 'skin', False),
    (HEAD, HEAD, 0.062, 'skin', False),
    (_POINT['crown'], _POINT['crown'], 0.05, 'hair', False),
    (_POINT['hair_top'], _POINT['hair_end'], 0.04, 'hair', False),
    (SHOULDER_L, ELBOW_L, 0.032, 'shirt', True),
    (SHOULDER_R, ELBOW_R, 0.032, 'shirt', True),
    (ELBOW_L, WRIST_L, 0.025, 'sleeve', True),
    (ELBOW_R, WRIST_R, 0.025, 'sleeve', True),
    (WRIST_L, HAND_TIP_L, 0.02, 'skin', False),
    (WRIST_R, HAND_TIP_R, 0.02, 'skin', False),
    (WRIST_L, THUMB_L, 0.01, 'skin', False),
    (WRIST_R, THUMB_R, 0.01, 'skin', False),
    (HIP_L, KNEE_L, 0.048, 'pants', True),
    (HIP_R, KNEE_R, 0.048, 'pants', True),
    (KNEE_L, ANKLE_L, 0.036, 'shin', True),
    (KNEE_R, ANKLE_R, 0.036, 'shin', True),
    (ANKLE_L, FOOT_L, 0.026, 'shoes', False),
    (ANKLE_R, FOOT_R, 0.026, 'shoes', False),
)
_HEAD_SIZED = frozenset((HEAD, _POINT['crown'], _POINT['hair_top']))
_SKIN_TONES = ((232, 196, 168), (210, 160, 120), (168, 116, 80),
               (120, 80, 56), (88, 58, 40))  # RGB
_HAIR = ((30, 24, 20), (70, 45, 25), (140, 100, 60), (200, 180, 140),
         (120, 120, 120))
# Clothing patterns (index into Performer.pattern).
PLAIN, STRIPES, CHECKS = range(3)
# (quantile, stature in metres), linearly interpolated.
_STATURE_QUANTILES = ((0.0, 1.10), (0.10, 1.40), (0.20, 1.56), (0.50, 1.70),
                      (0.80, 1.81), (0.95, 1.92), (1.0, 2.00))
# Performer numbers are stratified in blocks of this many.
STATURE_BLOCK = 40


@dataclasses.dataclass(frozen=True)
class Performer:
  """Body, clothes and way of moving of one performer.

  Attributes:
    height: the body's scale, metres: segment lengths and capsule radii are
      fractions of it.
    stature: metres from the floor to the top of the head, standing.
    girth: torso and limb thickness factor.
    legs, arms, shoulders: segment length / width factors.
    head: head size factor.
    slouch: degrees added to the pose's forward spine bend.
    head_forward: degrees added to the pose's head pitch.
    shoulder_drop: the pose's `shoulder_drop` offset (fraction of height;
      > 0 lowers the left shoulder, < 0 the right).
    fit: [len(MATERIALS)] radius factors: loose clothes > 1.
    hair: NO_HAIR, SHORT_HAIR or LONG_HAIR.
    hair_length: how far long hair reaches from the neck towards mid-back,
      0..1.
    palette: [len(MATERIALS), 3] RGB colours, float.
    pattern: [len(MATERIALS)] PLAIN, STRIPES or CHECKS.
    pattern_period: metres between stripes.
    speed: factor on the pace of every action.
    amplitude: factor on every action's amplitude.
    left_handed: whether one-handed (one-person) actions are mirrored.
  """
  height: float
  stature: float
  girth: float
  legs: float
  arms: float
  shoulders: float
  head: float
  slouch: float
  head_forward: float
  shoulder_drop: float
  fit: np.ndarray
  hair: int
  hair_length: float
  palette: np.ndarray
  pattern: np.ndarray
  pattern_period: float
  speed: float
  amplitude: float
  left_handed: bool


def _stature(seed, performer, rng):
  """A stature stratified over the block of STATURE_BLOCK numbers."""
  block, index = divmod(performer - 1, STATURE_BLOCK)
  rank = np.random.default_rng([seed, 9, block]).permutation(STATURE_BLOCK)
  u = (rank[index] + rng.random()) / STATURE_BLOCK
  quantiles, statures = zip(*_STATURE_QUANTILES)
  return float(np.interp(u, quantiles, statures))


def make_performer(seed, performer):
  """A performer's body, looks and way of moving, derived from (seed,
  performer number) only; the distributions are in the module docstring."""
  rng = np.random.default_rng([seed, 1, performer])
  stature = _stature(seed, performer, rng)
  maturity = float(np.clip((stature - 1.15) / 0.45, 0.0, 1.0))
  skin = np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], np.float64)
  shirt = rng.integers(25, 235, size=3).astype(np.float64)
  pants = rng.integers(15, 140, size=3).astype(np.float64)
  long_sleeves, shorts = rng.random() < 0.6, rng.random() < 0.2
  colours = {
      'skin': skin, 'shirt': shirt, 'pants': pants,
      'shoes': rng.integers(10, 90, size=3).astype(np.float64),
      'hair': np.array(_HAIR[rng.integers(len(_HAIR))], np.float64),
      'sleeve': shirt if long_sleeves else skin,
      'shin': skin if shorts else pants,
  }
  shirt_fit, pants_fit = rng.uniform(0.95, 1.3), rng.uniform(0.95, 1.35)
  fits = {'shirt': shirt_fit, 'pants': pants_fit,
          'sleeve': shirt_fit if long_sleeves else 1.0,
          'shin': 1.0 if shorts else pants_fit}
  shirt_pattern = rng.choice([PLAIN, STRIPES, CHECKS], p=[0.5, 0.3, 0.2])
  pattern = np.full(len(MATERIALS), PLAIN)
  pattern[MATERIALS.index('shirt')] = shirt_pattern
  if long_sleeves:
    pattern[MATERIALS.index('sleeve')] = shirt_pattern
  drop = rng.uniform(0.0, 0.015) * rng.choice([-1.0, 1.0])
  performer = Performer(
      height=1.0, stature=stature,
      girth=float(rng.triangular(0.8, 1.0, 1.45)),
      legs=float((0.9 + 0.1 * maturity) * rng.uniform(0.95, 1.05)),
      arms=float((0.96 + 0.04 * maturity) * rng.uniform(0.95, 1.05)),
      shoulders=float((0.92 + 0.08 * maturity) * rng.uniform(0.92, 1.08)),
      head=float((1.28 - 0.28 * maturity) * rng.uniform(0.95, 1.05)),
      slouch=float(rng.uniform(-3.0, 12.0)),
      head_forward=float(rng.uniform(0.0, 18.0)),
      shoulder_drop=float(drop),
      fit=np.array([fits.get(m, 1.0) for m in MATERIALS]),
      hair=int(rng.choice([NO_HAIR, SHORT_HAIR, LONG_HAIR],
                          p=[0.1, 0.55, 0.35])),
      hair_length=float(rng.uniform(0.3, 1.0)),
      palette=np.stack([colours[m] for m in MATERIALS]),
      pattern=pattern,
      pattern_period=float(rng.uniform(0.04, 0.1)),
      speed=float(rng.uniform(0.85, 1.15)),
      amplitude=float(rng.uniform(0.88, 1.12)),
      left_handed=bool(rng.random() < 0.12))
  # Every length scales with `height`: the unit body's stature gives it.
  return dataclasses.replace(performer,
                             height=stature / standing_stature(performer))


def standing_stature(performer):
  """Metres from the floor to the top of the head of `performer` standing
  in its own posture (pattern periods aside, everything scales with
  `performer.height`)."""
  pose = {k: np.full(1, v) for k, v in
          apply_posture(performer, dict(POSE_DEFAULTS)).items()}
  joints = pose_joints(performer, pose)[0]
  head = performer.height * 0.062 * performer.head
  return float(joints[HEAD, 1] + head)


def apply_posture(performer, pose):
  """`pose` (a dict of POSE_DEFAULTS keys) with the performer's posture
  offsets added."""
  return {**pose, 'spine_bend': pose['spine_bend'] + performer.slouch,
          'head_pitch': pose['head_pitch'] + performer.head_forward,
          'shoulder_drop': pose['shoulder_drop'] + performer.shoulder_drop}


def mirror(pose):
  """A pose dict with left and right swapped (a left-handed performer)."""
  swap = {'_l': '_r', '_r': '_l'}
  return {(k[:-2] + swap[k[-2:]] if k[-2:] in swap else k): v
          for k, v in pose.items()}


# Joint angles (degrees) and root motion (metres) `pose_joints` takes; a
# motion overrides some of them. feet_anchor 1 keeps the feet where they are
# and moves the hips (sitting, squatting), 0 keeps the spine base over the
# origin (kicking on one leg). shoulder_drop lowers the left shoulder (> 0)
# or the right (< 0) by that fraction of the height.
POSE_DEFAULTS = {
    'sh_pitch_l': 0.0, 'sh_pitch_r': 0.0, 'sh_abd_l': 10.0, 'sh_abd_r': 10.0,
    'elbow_l': 10.0, 'elbow_r': 10.0, 'hip_pitch_l': 0.0, 'hip_pitch_r': 0.0,
    'knee_l': 0.0, 'knee_r': 0.0, 'spine_bend': 0.0, 'spine_twist': 0.0,
    'head_pitch': 0.0, 'shoulder_drop': 0.0, 'lift': 0.0, 'step': 0.0,
    'turn': 0.0, 'feet_anchor': 0.0,
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


def rot_y(degrees):
  """[..., 3, 3] rotations about +Y (taking +Z towards +X)."""
  a = np.radians(np.asarray(degrees, np.float64))
  c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
  return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                   np.stack([-s, z, c], -1)], -2)


def _rot_x(degrees):
  """[T, 3, 3] rotations about +X taking +Y towards +Z."""
  a = np.radians(degrees)
  c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
  return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                   np.stack([z, s, c], -1)], -2)


def pose_joints(performer, pose):
  """Forward kinematics in the body frame.

  Args:
    performer: a `Performer`.
    pose: dict of [T] arrays, the keys of POSE_DEFAULTS.

  Returns:
    [T, 25, 3] joints in metres; body frame: +X the performer's left, +Y up,
    +Z their front; the lowest foot joint on the floor y = 0 (plus `lift`).
  """
  p = performer
  h = p.height
  t = len(pose['lift'])
  j = np.zeros((t, NUM_JOINTS, 3))
  down, fwd = -np.eye(3)[1], np.eye(3)[2]
  vec = lambda x: np.broadcast_to(np.asarray(x, np.float64), (t, 3))
  apply = lambda m, v: np.einsum('tij,tj->ti', m, v)
  # Bending pitches the upper body forward about the spine base; twisting
  # turns it about the spine.
  upper = np.einsum('tij,tjk->tik', _rot_x(pose['spine_bend']),
                    rot_y(pose['spine_twist']))
  torso = lambda v: apply(upper, v)
  j[:, SPINE_MID] = torso(vec([0.0, 0.15 * h, 0.0]))
  j[:, SPINE_SHOULDER] = torso(vec([0.0, 0.255 * h, 0.0]))
  j[:, NECK] = torso(vec([0.0, 0.29 * h, 0.0]))
  head_dir = torso(apply(_rot_x(pose['head_pitch']), vec([0.0, 1.0, 0.0])))
  j[:, HEAD] = j[:, NECK] + 0.065 * h * p.head * head_dir
  elbow_toward = np.array([0., 1, 1]) / np.sqrt(2.0)
  arm, leg = 0.165 * h * p.arms, 0.245 * h * p.legs
  for side, s in (('l', 1.0), ('r', -1.0)):
    shoulder, elbow, wrist, hand, tip, thumb, hip, knee, ankle, foot = (
        (SHOULDER_L, ELBOW_L, WRIST_L, HAND_L, HAND_TIP_L, THUMB_L, HIP_L,
         KNEE_L, ANKLE_L, FOOT_L) if side == 'l' else
        (SHOULDER_R, ELBOW_R, WRIST_R, HAND_R, HAND_TIP_R, THUMB_R, HIP_R,
         KNEE_R, ANKLE_R, FOOT_R))
    drop = np.maximum(s * pose['shoulder_drop'], 0.0) * h
    j[:, shoulder] = torso(np.stack([
        np.full(t, s * 0.095 * h * p.shoulders), 0.24 * h - drop,
        np.zeros(t)], -1))
    up_arm = _swing(vec(down), fwd, pose[f'sh_pitch_{side}'])
    up_arm = torso(_swing(up_arm, [s, 0.0, 0.0], pose[f'sh_abd_{side}']))
    fore = _swing(up_arm, torso(vec(elbow_toward)), pose[f'elbow_{side}'])
    j[:, elbow] = j[:, shoulder] + arm * up_arm
    j[:, wrist] = j[:, elbow] + 0.91 * arm * fore
    j[:, hand] = j[:, wrist] + 0.045 * h * fore
    j[:, tip] = j[:, hand] + 0.04 * h * fore
    # The thumb sits off the hand towards the body's front.
    j[:, thumb] = j[:, wrist] + 0.03 * h * fore + 0.03 * h * _swing(
        fore, torso(vec(fwd)), 90.0)
    j[:, hip] = [s * 0.05 * h * p.girth, -0.02 * h, 0.0]
    thigh = _swing(vec(down), fwd, pose[f'hip_pitch_{side}'])
    shin = _swing(thigh, np.array([0., -1, -1]) / np.sqrt(2.0),
                  pose[f'knee_{side}'])
    j[:, knee] = j[:, hip] + leg * thigh
    j[:, ankle] = j[:, knee] + leg * shin
    j[:, foot] = j[:, ankle] + [0.0, -0.03 * h, 0.07 * h]
  feet = j[:, [ANKLE_L, FOOT_L, ANKLE_R, FOOT_R]]
  anchor = pose['feet_anchor'][:, None] * feet[:, [0, 2]].mean(axis=1)
  j[..., 0] -= anchor[:, None, 0]
  j[..., 2] -= anchor[:, None, 2] - pose['step'][:, None]
  j[..., 1] += (0.005 * h - feet[..., 1].min(axis=1) + pose['lift'])[:, None]
  return np.einsum('tij,tkj->tki', rot_y(pose['turn']), j)


def bone_quaternions(joints):
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


@dataclasses.dataclass(frozen=True)
class Capsules:
  """A set of capsules (or spheres: both ends equal) to rasterise.

  Attributes:
    ends: [T, K, 2, 3] end points, metres.
    radii: [K] metres.
    colours: [K, 3] RGB, float.
    pattern: [K] PLAIN, STRIPES or CHECKS.
    pattern_period: [K] metres.
    owner: [K] int, which body (0, 1, ...) or object each capsule belongs to.
  """
  ends: np.ndarray
  radii: np.ndarray
  colours: np.ndarray
  pattern: np.ndarray
  pattern_period: np.ndarray
  owner: np.ndarray


def _hair_points(joints, performer):
  """[T, 2, 3] ends of the long-hair capsule: behind the back of the head,
  and behind the upper back, `hair_length` of the way from the neck to
  mid-back."""
  p = performer
  across = joints[:, SHOULDER_L] - joints[:, SHOULDER_R]
  up = joints[:, NECK] - joints[:, SPINE_MID]
  front = np.cross(across, up)
  front /= np.linalg.norm(front, axis=-1, keepdims=True)
  head = 0.062 * p.height * p.head
  top = joints[:, HEAD] - 0.45 * head * front
  # The hair lies on the back of the shirt.
  back = 0.062 * p.height * p.girth * p.fit[MATERIALS.index('shirt')]
  end = (joints[:, NECK] + p.hair_length * (joints[:, SPINE_MID] -
                                            joints[:, NECK])
         - (back + 0.01 * p.height) * front)
  return np.stack([top, end], axis=1)


def _radius(capsule, performer):
  """A capsule's radius in metres for `performer`."""
  a, _, r, material, girth = capsule
  p = performer
  r *= p.height * (p.girth if girth else 1.0) * p.fit[MATERIALS.index(
      material)]
  return r * p.head if a in _HEAD_SIZED else r


def _worn(performer):
  """The capsules `performer` is made of (hair as its style has it)."""
  drop = {NO_HAIR: {_POINT['crown'], _POINT['hair_top']},
          SHORT_HAIR: {_POINT['hair_top']}, LONG_HAIR: set()}[performer.hair]
  return [c for c in _CAPSULES if c[0] not in drop]


def body_capsules(joints, performer, owner=0):
  """Dresses [T, 25, 3] joints of `performer` in `Capsules`."""
  p = performer
  capsules = _worn(p)
  points = np.concatenate(
      [joints, np.einsum('ej,tjc->tec', _EXTRA_WEIGHTS, joints),
       _hair_points(joints, p)], axis=1)
  material = np.array([MATERIALS.index(c[3]) for c in capsules])
  return Capsules(
      ends=points[:, [[c[0], c[1]] for c in capsules]],
      radii=np.array([_radius(c, p) for c in capsules]),
      colours=p.palette[material],
      pattern=p.pattern[material],
      pattern_period=np.full(len(capsules), p.pattern_period),
      owner=np.full(len(capsules), owner))


def joint_slack(performer):
  """[25] metres a visible joint may lie behind its body's surface: the
  largest radius of a capsule that ends at it."""
  slack = np.zeros(NUM_JOINTS)
  for capsule in _worn(performer):
    a, b = capsule[:2]
    r = _radius(capsule, performer)
    # The hand joints lie inside the wrist-to-tip capsules.
    inner = {WRIST_L: (HAND_L,), WRIST_R: (HAND_R,)}.get(a, ()) if b in (
        HAND_TIP_L, HAND_TIP_R) else ()
    for point in (a, b, *inner):
      if point < NUM_JOINTS:
        slack[point] = max(slack[point], r)
  # Joints along the spine, hips and shoulders sit inside the two torso
  # halves, which bulge in front of them.
  torso = 0.07 * performer.height * performer.girth * performer.fit[
      MATERIALS.index('shirt')]
  for joint in (SPINE_BASE, SPINE_MID, SPINE_SHOULDER, NECK, HIP_L, HIP_R,
                SHOULDER_L, SHOULDER_R):
    slack[joint] = max(slack[joint], torso)
  return slack
