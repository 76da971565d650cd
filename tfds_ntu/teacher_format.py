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
it and raises ValueError naming the file and the problem. The labeller
(`teacher.py`) writes with `write_annotation`; the builder reads with it.
"""

import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

FORMAT = 'bodypose_jax.teacher/1'
SUFFIX = '.teacher.npz'
NUM_JOINTS = 25
_KEYS = {'keypoints', 'confidence', 'person_score', 'frame_size', 'metadata'}


def annotation_path(video, output_dir=None) -> pathlib.Path:
  """Where a video's annotation goes: beside it, or in `output_dir`."""
  video = pathlib.Path(video)
  folder = pathlib.Path(output_dir) if output_dir else video.parent
  return folder / (video.stem + SUFFIX)


def write_annotation(path, keypoints, confidence, person_score, frame_size,
                     metadata: dict):
  """Writes one annotation file atomically (temporary file, then rename).

  Args:
    path: the `.teacher.npz` file.
    keypoints: [T, 25, 2]; confidence: [T, 25]; person_score: [T].
    frame_size: (height, width).
    metadata: the JSON fields (see the module docstring); "format" is set.

  Raises:
    ValueError: naming `path` when the arrays break the format (checked by
      reading the written file back before it takes the final name).
  """
  path = pathlib.Path(path)
  metadata = dict(metadata, format=FORMAT)
  arrays = dict(
      keypoints=np.asarray(keypoints, np.float32),
      confidence=np.asarray(confidence, np.float32),
      person_score=np.asarray(person_score, np.float32),
      frame_size=np.asarray(frame_size, np.int32),
      metadata=np.array(json.dumps(metadata, sort_keys=True), dtype=np.str_))
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=path.name + '.', suffix='.tmp',
                             dir=path.parent)
  try:
    with os.fdopen(fd, 'wb') as f:
      np.savez_compressed(f, **arrays)
    try:
      read_annotation(tmp)
    except ValueError as e:
      raise ValueError(f'{path}: not written, {e}') from None
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def read_annotation(path) -> dict:
  """Reads and checks one annotation file.

  Returns:
    {'keypoints', 'confidence', 'person_score', 'frame_size': arrays as in
    the format; 'metadata': the parsed JSON dict}.

  Raises:
    ValueError: naming `path` and what is wrong (not an npz, missing or
      unexpected keys, dtypes, shapes, values, metadata).
  """
  def bad(problem):
    return ValueError(f'{path}: {problem}')
  try:
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
      raise ValueError('a single array, not an .npz archive')
    with loaded as z:
      data = {k: z[k] for k in z.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise bad(f'not a readable .npz file ({e})') from None
  if set(data) != _KEYS:
    missing, extra = _KEYS - set(data), set(data) - _KEYS
    raise bad(f'keys differ from the format: missing {sorted(missing)}, '
              f'unexpected {sorted(extra)}')
  expect = {'keypoints': np.float32, 'confidence': np.float32,
            'person_score': np.float32, 'frame_size': np.int32}
  for key, dtype in expect.items():
    if data[key].dtype != dtype:
      raise bad(f'{key} is {data[key].dtype}, expected {np.dtype(dtype)}')
  kp, conf, score = data['keypoints'], data['confidence'], data['person_score']
  if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2) or kp.shape[0] < 1:
    raise bad(f'keypoints has shape {kp.shape}, expected [T >= 1, 25, 2]')
  t = kp.shape[0]
  if conf.shape != (t, NUM_JOINTS):
    raise bad(f'confidence has shape {conf.shape}, expected [{t}, 25]')
  if score.shape != (t,):
    raise bad(f'person_score has shape {score.shape}, expected [{t}]')
  if data['frame_size'].shape != (2,) or (data['frame_size'] <= 0).any():
    raise bad(f'frame_size {data["frame_size"].tolist()} is not a positive '
              '(height, width)')
  if not (np.isfinite(conf).all() and (conf >= 0).all() and
          (conf <= 1).all()):
    raise bad('confidence outside [0, 1]')
  if not (np.isfinite(score).all() and (score >= 0).all() and
          (score <= 1).all()):
    raise bad('person_score outside [0, 1]')
  absent = np.isnan(kp).any(-1)
  if (conf[absent] != 0).any():
    raise bad('confidence is not 0 where keypoints are NaN')
  if np.isinf(kp).any():
    raise bad('keypoints hold infinities')
  meta = data['metadata']
  if meta.shape != () or meta.dtype.kind != 'U':
    raise bad(f'metadata is {meta.dtype} {meta.shape}, expected a 0-d '
              'unicode string')
  try:
    metadata = json.loads(str(meta))
  except json.JSONDecodeError as e:
    raise bad(f'metadata is not JSON ({e})') from None
  if not isinstance(metadata, dict) or metadata.get('format') != FORMAT:
    raise bad(f'metadata format is not {FORMAT!r}')
  if metadata.get('mirror_swapped') is not True:
    # Labels in the teacher's own left/right would train every limb on
    # the wrong side of NTU's mirror-image frames.
    raise bad('metadata mirror_swapped is not true: left/right are not in '
              "NTU's mirror convention")
  return dict(keypoints=kp, confidence=conf, person_score=score,
              frame_size=data['frame_size'], metadata=metadata)
