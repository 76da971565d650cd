"""Reads and writes NTU RGB+D `.skeleton` text files (Kinect v2 bodies).

Format (one value group per line, CRLF line ends in the released files):

    frame_count
    per frame:  body_count
      per body: bodyID clippedEdges handLeftConfidence handLeftState
                handRightConfidence handRightState isRestricted leanX leanY
                trackingState
                joint_count (25)
                25 lines: x y z depthX depthY colorX colorY
                          orientationW orientationX orientationY orientationZ
                          trackingState

x, y, z are metres in the depth camera's space (Y up); depthX/Y are pixels in
the 512x424 depth image, colorX/Y pixels in the 1920x1080 colour image.
"""

import dataclasses
import os

import numpy as np

NUM_JOINTS = 25
JOINT_FIELDS = 12
# Columns of a joint row.
XYZ = slice(0, 3)
DEPTH_XY = slice(3, 5)
COLOR_XY = slice(5, 7)
ORIENTATION = slice(7, 11)
TRACKING = 11

# Bodies tracked in fewer frames than this fraction of the longest-tracked
# body's frames are treated as noise when picking the main actor (Kinect often
# briefly "sees" a body in furniture or a passer-by).
MIN_PRESENT_FRACTION = 0.25


@dataclasses.dataclass(frozen=True)
class Body:
  """One body in one frame, exactly the fields of the file.

  Attributes:
    body_id: Kinect tracking ID (a 64-bit integer, stable across frames).
    flags: (clippedEdges, handLeftConfidence, handLeftState,
      handRightConfidence, handRightState, isRestricted), integers.
    lean: (leanX, leanY).
    tracking_state: body tracking state.
    joints: [25, 12] float64 joint rows (tracking state in column 11).
  """
  body_id: int
  flags: tuple[int, int, int, int, int, int]
  lean: tuple[float, float]
  tracking_state: int
  joints: np.ndarray


@dataclasses.dataclass(frozen=True)
class Actor:
  """Per-frame arrays of one body; zeros in frames where it is absent.

  Attributes:
    body_id: the chosen Kinect body ID.
    joints_3d: [T, 25, 3] float32 metres, depth-camera space.
    depth_xy: [T, 25, 2] float32 pixels in the 512x424 depth image.
    color_xy: [T, 25, 2] float32 pixels in the 1920x1080 colour image.
    tracking_state: [T, 25] int32, 0 not tracked (or absent), 1 inferred,
      2 tracked.
    present: [T] bool, whether the body is in the frame.
  """
  body_id: int
  joints_3d: np.ndarray
  depth_xy: np.ndarray
  color_xy: np.ndarray
  tracking_state: np.ndarray
  present: np.ndarray


def parse_skeleton_text(text, source='<string>'):
  """Parses `.skeleton` text into frames of bodies.

  Args:
    text: the whole file content.
    source: name used in error messages (the file path).

  Returns:
    A list with one list of `Body` per frame.

  Raises:
    ValueError: naming `source` and the 1-based line when the text is
      truncated, malformed, or has data after the last frame.
  """
  lines = text.splitlines()
  pos = 0

  def fields(count, what):
    nonlocal pos
    if pos >= len(lines):
      raise ValueError(
          f'{source}: truncated at line {pos + 1}: expected {what}.')
    parts = lines[pos].split()
    if len(parts) != count:
      raise ValueError(
          f'{source}:{pos + 1}: expected {what} ({count} fields), got '
          f'{len(parts)} fields: {lines[pos]!r}')
    pos += 1
    return parts

  def to_int(part, what):
    try:
      return int(part)
    except ValueError:
      raise ValueError(
          f'{source}:{pos}: {what} is not an integer: {part!r}') from None

  num_frames = to_int(fields(1, 'frame count')[0], 'frame count')
  frames = []
  for _ in range(num_frames):
    num_bodies = to_int(fields(1, 'body count')[0], 'body count')
    if num_bodies < 0:
      raise ValueError(f'{source}:{pos}: negative body count {num_bodies}.')
    bodies = []
    for _ in range(num_bodies):
      head = fields(10, 'body line')
      ints = [to_int(p, 'body field') for p in head[:7]]
      try:
        lean = (float(head[7]), float(head[8]))
      except ValueError:
        raise ValueError(
            f'{source}:{pos}: lean is not numeric: {head[7:9]}') from None
      body_state = to_int(head[9], 'body trackingState')
      num_joints = to_int(fields(1, 'joint count')[0], 'joint count')
      if num_joints != NUM_JOINTS:
        raise ValueError(
            f'{source}:{pos}: expected {NUM_JOINTS} joints, got {num_joints}.')
      rows = []
      for _ in range(NUM_JOINTS):
        parts = fields(JOINT_FIELDS, 'joint line')
        try:
          rows.append([float(p) for p in parts])
        except ValueError:
          raise ValueError(
              f'{source}:{pos}: non-numeric joint value: {lines[pos - 1]!r}'
          ) from None
      joints = np.asarray(rows, dtype=np.float64)
      if not np.all(np.isfinite(joints)):
        raise ValueError(f'{source}:{pos - NUM_JOINTS + 1}-{pos}: non-finite '
                         'joint value.')
      bodies.append(Body(ints[0], tuple(ints[1:7]), lean, body_state, joints))
    frames.append(bodies)
  trailing = [i for i in range(pos, len(lines)) if lines[i].strip()]
  if trailing:
    raise ValueError(
        f'{source}:{trailing[0] + 1}: unexpected data after frame '
        f'{num_frames}.')
  return frames


def read_skeleton(path):
  """Reads a `.skeleton` file; see `parse_skeleton_text`."""
  with open(path, 'r', encoding='ascii', newline='') as f:
    return parse_skeleton_text(f.read(), source=os.fspath(path))


def _format_float(value):
  # The Kinect recorder printed .NET single-precision floats with 7
  # significant digits ("G7"): trailing zeros dropped, E-notation with a
  # two-digit exponent below 1e-4.  Adding 0.0 turns -0.0 into 0.
  return format(float(value) + 0.0, '.7g').replace('e', 'E')


def format_skeleton(frames):
  """Formats frames of bodies as `.skeleton` text (CRLF line ends)."""
  out = [str(len(frames))]
  for bodies in frames:
    out.append(str(len(bodies)))
    for body in bodies:
      out.append(' '.join(
          [str(body.body_id)] + [str(int(v)) for v in body.flags] +
          [_format_float(v) for v in body.lean] + [str(body.tracking_state)]))
      out.append(str(NUM_JOINTS))
      for row in body.joints:
        out.append(' '.join([_format_float(v) for v in row[:TRACKING]] +
                            [str(int(row[TRACKING]))]))
  return '\r\n'.join(out) + '\r\n'


def write_skeleton(path, frames):
  """Writes frames of bodies in the byte format of the released files.

  Args:
    path: output `.skeleton` path.
    frames: a list with one list of `Body` per frame.
  """
  with open(path, 'w', encoding='ascii', newline='') as f:
    f.write(format_skeleton(frames))


def body_counts(frames):
  """Returns [T] int32: number of bodies in each frame."""
  return np.asarray([len(bodies) for bodies in frames], dtype=np.int32)


def body_tracks(frames):
  """Gathers each body ID's joints over time.

  Returns:
    A dict from body ID (in order of first appearance) to a [T, 25, 12]
    float64 array that is NaN in frames where the body is absent.
  """
  tracks = {}
  for t, bodies in enumerate(frames):
    for body in bodies:
      if body.body_id not in tracks:
        tracks[body.body_id] = np.full(
            (len(frames), NUM_JOINTS, JOINT_FIELDS), np.nan)
      tracks[body.body_id][t] = body.joints
  return tracks


def main_actor_id(frames):
  """Picks the main actor's body ID, or None when no frame holds a body.

  Rule: bodies tracked in fewer than MIN_PRESENT_FRACTION of the frames of
  the longest-tracked body are noise; of the rest, the main actor is the one
  whose 3D joints move most (sum over joints and axes of the variance over its
  tracked frames), as in the dataset authors' denoising. Ties go to the body
  seen first.
  """
  tracks = body_tracks(frames)
  if not tracks:
    return None
  present = {i: ~np.isnan(j[:, 0, 0]) for i, j in tracks.items()}
  longest = max(p.sum() for p in present.values())
  best_id, best_motion = None, -1.0
  for body_id, joints in tracks.items():
    if present[body_id].sum() < MIN_PRESENT_FRACTION * longest:
      continue
    motion = float(np.var(joints[present[body_id], :, XYZ], axis=0).sum())
    if motion > best_motion:
      best_id, best_motion = body_id, motion
  return best_id


def actor_arrays(frames, body_id):
  """Per-frame arrays of one body ID (zeros where absent); see `Actor`."""
  joints = body_tracks(frames)[body_id]
  present = ~np.isnan(joints[:, 0, 0])
  joints = np.where(present[:, None, None], joints, 0.0)
  return Actor(
      body_id=body_id,
      joints_3d=joints[..., XYZ].astype(np.float32),
      depth_xy=joints[..., DEPTH_XY].astype(np.float32),
      color_xy=joints[..., COLOR_XY].astype(np.float32),
      tracking_state=joints[..., TRACKING].astype(np.int32),
      present=present)


def main_actor(frames):
  """The main actor's per-frame arrays (see `main_actor_id`).

  Raises:
    ValueError: when no frame holds a body.
  """
  body_id = main_actor_id(frames)
  if body_id is None:
    raise ValueError('no body in any frame')
  return actor_arrays(frames, body_id)
