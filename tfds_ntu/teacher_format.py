"""The teacher's annotation file: one `.teacher.npz` per labelled video.

A teacher model (BlazePose, `tfds_ntu/teacher.py`) labels real video; the
`teacher_*` builder configs read its files. One file per video,
`<video file name without extension>.teacher.npz`, written with
`np.savez_compressed`:

  keypoints     float32 [T, 25, 2]  (x, y) in the video's own frame pixels,
                                    NTU Kinect joint order and NTU's mirror
                                    convention; NaN where absent (no teacher
                                    counterpart, or no person in the frame)
  confidence    float32 [T, 25]     in [0, 1]; exactly 0 where absent
  person_score  float32 [T]         0 when no person was found
  frame_size    int32 [2]           (height, width) of the video's frames
  metadata      0-d unicode array   JSON: {"format": FORMAT, "teacher",
                                    "detector_sha256", "landmark_sha256",
                                    "mapping", "mirror_swapped": true,
                                    "video", "fps"}

Everything that reads the file goes through `read_annotation`, which checks
it and raises ValueError naming the file and the problem. This module is the
minimal reader and writer the builder needs; the teacher's own module is
expected to hold the same two functions (merged there later).
"""

import json
import os

import numpy as np

FORMAT = 'bodypose_jax.teacher/1'
SUFFIX = '.teacher.npz'
NUM_JOINTS = 25
_KEYS = ('keypoints', 'confidence', 'person_score', 'frame_size', 'metadata')
_METADATA_KEYS = ('format', 'teacher', 'mirror_swapped', 'video')


def annotation_name(video_path):
  """`S001C002P003R001A043_rgb.avi` -> `S001C002P003R001A043_rgb.teacher.npz`."""
  return os.path.splitext(os.path.basename(os.fspath(video_path)))[0] + SUFFIX


def write_annotation(path, keypoints, confidence, person_score, frame_size,
                     metadata):
  """Writes one annotation file, checked as `read_annotation` checks it.

  Args:
    path: where, normally `annotation_name(video)` beside the video.
    keypoints: [T, 25, 2] frame pixels, NaN where absent.
    confidence: [T, 25] in [0, 1], 0 where absent.
    person_score: [T].
    frame_size: (height, width).
    metadata: dict; 'format' is filled in when missing.

  Raises:
    ValueError: naming `path`, for anything `read_annotation` would refuse.
  """
  metadata = {'format': FORMAT, **metadata}
  arrays = {
      'keypoints': np.asarray(keypoints, np.float32),
      'confidence': np.asarray(confidence, np.float32),
      'person_score': np.asarray(person_score, np.float32),
      'frame_size': np.asarray(frame_size, np.int32),
      'metadata': np.array(json.dumps(metadata)),
  }
  _check(path, {**arrays, 'metadata': metadata})
  with open(path, 'wb') as f:
    np.savez_compressed(f, **arrays)


def read_annotation(path):
  """Reads and checks one annotation file.

  Returns:
    {'keypoints': [T, 25, 2] float32 (NaN where absent), 'confidence':
     [T, 25] float32, 'person_score': [T] float32, 'frame_size': (height,
     width) ints, 'metadata': dict}.

  Raises:
    ValueError: naming `path` when it is missing, not an npz, lacks a key,
      has a wrong shape, dtype or range, marks a joint present without a
      finite position, has unreadable metadata, another format, or labels
      not swapped to NTU's mirror convention.
  """
  try:
    with np.load(path, allow_pickle=False) as npz:
      missing = [k for k in _KEYS if k not in npz.files]
      if missing:
        raise ValueError(f'{path}: not a teacher annotation: keys {missing} '
                         f'missing (it has {sorted(npz.files)})')
      raw = {k: npz[k] for k in _KEYS}
  except (OSError, EOFError) as e:
    raise ValueError(f'{path}: cannot read the annotation: {e}') from None
  except ValueError as e:
    if str(e).startswith(f'{path}:'):
      raise
    raise ValueError(f'{path}: not a readable .npz annotation: {e}') from None
  metadata = raw['metadata']
  if metadata.shape != () or metadata.dtype.kind != 'U':
    raise ValueError(f'{path}: metadata must be a 0-d unicode array of JSON, '
                     f'got {metadata.dtype} {metadata.shape}')
  try:
    metadata = json.loads(str(metadata))
  except json.JSONDecodeError as e:
    raise ValueError(f'{path}: metadata is not JSON: {e}') from None
  for key in ('keypoints', 'confidence', 'person_score', 'frame_size'):
    kind = raw[key].dtype.kind
    if kind not in ('f', 'i', 'u'):
      raise ValueError(f'{path}: {key} must be numeric, got {raw[key].dtype}')
  out = {
      'keypoints': raw['keypoints'].astype(np.float32),
      'confidence': raw['confidence'].astype(np.float32),
      'person_score': raw['person_score'].astype(np.float32),
      'frame_size': raw['frame_size'],
      'metadata': metadata,
  }
  _check(path, out)
  out['frame_size'] = tuple(int(v) for v in out['frame_size'])
  return out


def _check(path, a):
  """Raises ValueError naming `path` for whatever breaks the format."""
  keypoints, confidence = a['keypoints'], a['confidence']
  person, size, metadata = a['person_score'], a['frame_size'], a['metadata']
  if keypoints.ndim != 3 or keypoints.shape[1:] != (NUM_JOINTS, 2):
    raise ValueError(f'{path}: keypoints must be [T, {NUM_JOINTS}, 2], got '
                     f'{keypoints.shape}')
  t = keypoints.shape[0]
  if t == 0:
    raise ValueError(f'{path}: no frame (keypoints {keypoints.shape})')
  if confidence.shape != (t, NUM_JOINTS):
    raise ValueError(f'{path}: confidence must be [{t}, {NUM_JOINTS}] like '
                     f'keypoints, got {confidence.shape}')
  if person.shape != (t,):
    raise ValueError(f'{path}: person_score must be [{t}], got '
                     f'{person.shape}')
  if not (np.all(np.isfinite(confidence)) and confidence.min() >= 0
          and confidence.max() <= 1):
    raise ValueError(f'{path}: confidence must be finite and in [0, 1]')
  if not np.all(np.isfinite(person)):
    raise ValueError(f'{path}: person_score is not finite')
  present = confidence > 0
  finite = np.all(np.isfinite(keypoints), axis=-1)
  if np.any(present & ~finite):
    t_bad, j_bad = np.argwhere(present & ~finite)[0]
    raise ValueError(f'{path}: frame {t_bad} joint {j_bad} has confidence '
                     f'{confidence[t_bad, j_bad]:g} but no finite position '
                     '(absent joints need confidence 0)')
  if np.shape(size) != (2,) or min(size) < 1:
    raise ValueError(f'{path}: frame_size must be (height, width) >= 1, got '
                     f'{np.asarray(size).tolist()}')
  if not isinstance(metadata, dict):
    raise ValueError(f'{path}: metadata must be a JSON object')
  missing = [k for k in _METADATA_KEYS if k not in metadata]
  if missing:
    raise ValueError(f'{path}: metadata lacks {missing}')
  if metadata['format'] != FORMAT:
    raise ValueError(f'{path}: format {metadata["format"]!r}, this reader '
                     f'knows {FORMAT!r}')
  if metadata['mirror_swapped'] is not True:
    raise ValueError(f'{path}: mirror_swapped is not true: left and right '
                     "are the teacher's, not NTU's mirror convention (swap "
                     'them, see DESIGN.md)')
