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

The reader refuses, with the file and line, anything that cannot have come
from the recorder, so that damage it can see never becomes a silently wrong
array: lines must all end in CRLF (or all in LF), the last one included;
counts are non-negative and match the data; bodyID is an unsigned 64-bit
integer; the flags are in the ranges of their Kinect SDK types; tracking
states are integers 0 (not tracked), 1 (inferred) or 2 (tracked); every float
is finite and within single precision, the recorder's type.
"""

import dataclasses
import os
import re

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

# Kinect tracking IDs are unsigned 64-bit integers.
_MAX_BODY_ID = 2**64 - 1
# The six integer flags of a body line and the ranges of their Kinect v2 SDK
# types: a FrameEdges bit mask (right, left, top, bottom), TrackingConfidence
# (low, high), HandState (unknown, not tracked, open, closed, lasso), bool.
_FLAG_RANGES = (('clippedEdges', 0, 15), ('handLeftConfidence', 0, 1),
                ('handLeftState', 0, 4), ('handRightConfidence', 0, 1),
                ('handRightState', 0, 4), ('isRestricted', 0, 1))
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Characters Python's int() and float() would accept but the format has no
# spelling for ('1_000', non-ASCII digits), and whitespace other than spaces,
# tabs and line ends, which str.split() would take as a separator.  Any other
# letter or sign simply fails to convert, with a message saying which field.
_BAD_CHAR = re.compile(r'[^\t\n\r -~]|_')
_STRAY_IN_CRLF = re.compile(r'\r(?!\n)|(?<!\r)\n')
_STRAY_IN_LF = re.compile(r'\r')


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

  Returns only what the text says: every count, flag and value is checked
  against the format (see the module docstring), so damage a reader could
  notice is an error rather than a wrong array.

  Args:
    text: the whole file content.
    source: name used in error messages (the file path).

  Returns:
    A list with one list of `Body` per frame.

  Raises:
    ValueError: naming `source` and the 1-based line when the text is
      truncated (including a last line without its line end), has a
      character no number is spelled with, mixes or lacks line ends, has a
      count, flag or tracking state out of its range, a non-finite value or
      one beyond single precision, or has data after the last frame.
  """
  def line_of(index):
    return text.count('\n', 0, index) + 1

  bad = _BAD_CHAR.search(text)
  if bad:
    row = line_of(bad.start())
    column = bad.start() - text.rfind('\n', 0, bad.start())
    line = text[bad.start() - column + 1:].split('\n', 1)[0].rstrip('\r')
    raise ValueError(
        f'{source}:{row}: non-numeric character {bad.group()!r} at column '
        f'{column} (the format holds ASCII numbers, spaces, tabs and line '
        f'ends): {_clip(line)!r}')
  # The line end of the first line (CRLF in the released files, LF after a
  # conversion) must end every line: a lone CR or LF elsewhere is damage, and
  # a CR-only file would otherwise read as one line.
  first_end = text.find('\n')
  newline = '\r\n' if first_end > 0 and text[first_end - 1] == '\r' else '\n'
  stray = (_STRAY_IN_CRLF if newline == '\r\n' else _STRAY_IN_LF).search(text)
  if stray:
    what = ('carriage return without line feed' if stray.group() == '\r' else
            'line feed without carriage return')
    ending = 'CRLF' if newline == '\r\n' else 'LF'
    first = '' if first_end < 0 else f' (line 1 ends in {ending})'
    raise ValueError(
        f'{source}:{line_of(stray.start())}: {what}; line ends must be CRLF '
        f'or LF, the same on every line{first}.')
  lines = text.split(newline)
  # Every line ends with a line end, so a file cut inside its last line is
  # seen as truncated even where the cut leaves the right number of fields.
  if lines.pop():
    raise ValueError(
        f'{source}: truncated at line {len(lines) + 1}: the line has no line '
        'end.')
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
          f'{len(parts)} fields: {_clip(lines[pos])!r}')
    pos += 1
    return parts

  def to_int(part, what, low=None, high=None):
    try:
      value = int(part)
    except ValueError:
      # int() also refuses integers of thousands of digits.
      problem = 'has too many digits' if part.lstrip('+-').isdigit() else (
          'is not an integer')
      raise ValueError(
          f'{source}:{pos}: {what} {problem}: {_clip(part)!r}') from None
    if low is not None and value < low or high is not None and value > high:
      bounds = f'below {low}' if high is None else f'outside {low}..{high}'
      raise ValueError(f'{source}:{pos}: {what} {_clip(part)} is {bounds}.')
    return value

  def single(value):
    # The recorder wrote .NET single-precision floats: a larger magnitude
    # means damage, and would turn into inf in the float32 arrays of
    # `actor_arrays`.  Also false for NaN.
    return abs(value) <= _FLOAT32_MAX

  num_frames = to_int(fields(1, 'frame count')[0], 'frame count', 0)
  frames = []
  for _ in range(num_frames):
    num_bodies = to_int(fields(1, 'body count')[0], 'body count', 0)
    bodies = []
    for _ in range(num_bodies):
      head = fields(10, 'body line')
      body_id = to_int(head[0], 'bodyID', 0, _MAX_BODY_ID)
      flags = tuple(to_int(p, name, low, high)
                    for p, (name, low, high) in zip(head[1:7], _FLAG_RANGES))
      try:
        lean = (float(head[7]), float(head[8]))
      except ValueError:
        raise ValueError(
            f'{source}:{pos}: lean is not numeric: {head[7:9]}') from None
      if not all(single(v) for v in lean):
        raise ValueError(
            f'{source}:{pos}: lean is non-finite or beyond single precision: '
            f'{_clip(" ".join(head[7:9]))!r}')
      body_state = to_int(head[9], 'body trackingState', 0, 2)
      num_joints = to_int(fields(1, 'joint count')[0], 'joint count')
      if num_joints != NUM_JOINTS:
        raise ValueError(
            f'{source}:{pos}: expected {NUM_JOINTS} joints, got {num_joints}.')
      first = pos + 1
      rows = []
      for _ in range(NUM_JOINTS):
        parts = fields(JOINT_FIELDS, 'joint line')
        try:
          row = [float(p) for p in parts[:TRACKING]]
        except ValueError:
          raise ValueError(
              f'{source}:{pos}: non-numeric joint value: '
              f'{_clip(lines[pos - 1])!r}') from None
        # An integer, not any number: '1.5' or '2e0' is no tracking state.
        row.append(to_int(parts[TRACKING], 'joint trackingState', 0, 2))
        rows.append(row)
      joints = np.asarray(rows, dtype=np.float64)
      out_of_range = ~(np.abs(joints) <= _FLOAT32_MAX)
      if out_of_range.any():
        j, column = np.argwhere(out_of_range)[0]
        what = ('non-finite joint value' if not np.isfinite(joints[j, column])
                else 'joint value beyond single precision')
        raise ValueError(
            f'{source}:{first}-{pos}: {what} at line {first + j}, field '
            f'{column + 1}: {_clip(lines[first + j - 1])!r}')
      bodies.append(Body(body_id, flags, lean, body_state, joints))
    frames.append(bodies)
  trailing = [i for i in range(pos, len(lines)) if lines[i].strip()]
  if trailing:
    raise ValueError(
        f'{source}:{trailing[0] + 1}: unexpected data after frame '
        f'{num_frames}.')
  return frames


def read_skeleton(path):
  """Reads a `.skeleton` file; see `parse_skeleton_text`.

  Raises:
    ValueError: naming the path, also for a file that is not ASCII text.
    OSError: when the file cannot be read.
  """
  source = os.fspath(path)
  with open(path, 'rb') as f:
    data = f.read()
  try:
    text = data.decode('ascii')
  except UnicodeDecodeError as e:
    line = data.count(b'\n', 0, e.start) + 1
    raise ValueError(
        f'{source}:{line}: not ASCII text (byte 0x{data[e.start]:02x} at '
        f'offset {e.start}); .skeleton files are ASCII.') from None
  return parse_skeleton_text(text, source=source)


def _clip(text, limit=120):
  # Keeps error messages readable when damage has merged lines or inflated a
  # number to thousands of digits.
  return text if len(text) <= limit else text[:limit] + '...'


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


def actor_ids(frames):
  """The actors' body IDs, the main actor first.

  Rule: bodies tracked in fewer than MIN_PRESENT_FRACTION of the frames of
  the longest-tracked body are noise; the rest are ordered by how much their
  3D joints move (sum over joints and axes of the variance over their
  tracked frames), as in the dataset authors' denoising. Ties go to the body
  seen first.

  Returns:
    A list of body IDs, empty when no frame holds a body.
  """
  tracks = body_tracks(frames)
  if not tracks:
    return []
  present = {i: ~np.isnan(j[:, 0, 0]) for i, j in tracks.items()}
  longest = max(p.sum() for p in present.values())
  motion = {
      body_id: float(np.var(joints[present[body_id], :, XYZ], axis=0).sum())
      for body_id, joints in tracks.items()
      if present[body_id].sum() >= MIN_PRESENT_FRACTION * longest
  }
  # sorted() is stable: equal motion keeps the order of first appearance.
  return sorted(motion, key=lambda body_id: -motion[body_id])


def main_actor_id(frames):
  """The main actor's body ID (`actor_ids`), or None when no frame holds a
  body."""
  ids = actor_ids(frames)
  return ids[0] if ids else None


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
