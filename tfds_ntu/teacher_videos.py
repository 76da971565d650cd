"""Teacher-labelled real video for the `teacher_*` builder configs.

A folder (the build's `--manual_dir`) of videos, each with the teacher's
annotation `<video stem>.teacher.npz` (`teacher_format`) beside it or in
`<manual_dir>/teacher_labels/`:

    <manual_dir>/nturgb+d_rgb/S001C002P003R001A043_rgb.avi   (NTU names)
    <manual_dir>/train/any_name.mp4, <manual_dir>/test/...   (other videos)
    <manual_dir>/teacher_labels/<video stem>.teacher.npz     (or beside)

Any folder of videos may be a symlink (the shared clips are read-only).

Splits, `train` and `test`:
- a video under a top-level `train/` or `test/` folder is in that split;
- otherwise a video named NTU's way (`SsssCcccPpppRrrrAaaa`, with or
  without `_rgb`) is split by performer: `layout.TEACHER_TEST_PERFORMERS`
  (1, 4, 7, 11) test, every other performer trains;
- any other video is skipped (`no_split`).
Performer P001 is never trained on (`layout.NEVER_TRAIN_PERFORMERS`): an
NTU-named P001 video that would train (under `train/`, or with a config
whose test performers leave it out) is excluded with a warning and counted
as `never_train_performer`.

Found while listing, and counted in the build summary's
`skipped_before_reading`: `no_annotation` (a video without one), `no_video`
(an annotation without its video), `no_split`, `never_train_performer`.
Found while decoding, per split: `annotation` (unreadable or malformed),
`annotation_mismatch` (its frame count or frame size is not the video's),
`video`, `no_body` (no joint in any frame).
"""

import collections
import dataclasses
import json
import os

from absl import logging
import numpy as np

from tfds_ntu import build_summary
from tfds_ntu import layout
from tfds_ntu import teacher_format
from tfds_ntu import video_io

LABELS_DIR = 'teacher_labels'
SPLIT_FOLDERS = ('train', 'test')
VIDEO_SUFFIXES = ('.avi', '.mp4', '.mov', '.mkv', '.m4v', '.webm')
# The Kinect's "tracked" state: every joint the teacher found is stored as
# tracked, every other one as 0 (no ground truth); how sure the teacher was
# travels beside it as `confidence`, the joint's loss weight.
FOUND = 2


@dataclasses.dataclass(frozen=True, order=True)
class TeacherSample:
  """One labelled video.

  Attributes:
    key: the video's path relative to the manual dir (unique; the example's
      key).
    name: the NTU sample name (no `_rgb`), or the file's stem.
    video: the video's path.
    annotation: its `.teacher.npz`.
    train: in the train split (else test).
    performer: NTU performer number; 0 when the name is not NTU's.
    action: NTU action number; 0 when the name is not NTU's.
  """
  key: str
  name: str
  video: str
  annotation: str
  train: bool
  performer: int = 0
  action: int = 0


def ntu_id(stem):
  """The `layout.SampleId` of a video stem named NTU's way (an `_rgb`
  suffix allowed), else None."""
  name = stem[:-len('_rgb')] if stem.endswith('_rgb') else stem
  try:
    return layout.parse_name(name)
  except ValueError:
    return None


def _walk(root, keep):
  found = []
  for folder, dirs, files in os.walk(root, followlinks=True):
    dirs.sort()
    found += [os.path.join(folder, f) for f in sorted(files) if keep(f)]
  return found


def find_samples(root, test_performers):
  """The labelled videos under `root`, split (see the module docstring).

  Returns:
    The samples, sorted, and {reason: count} of those left out.

  Raises:
    ValueError: when no video has an annotation, saying where it looked.
  """
  if not os.path.isdir(root):
    raise ValueError(f'{root}: manual dir of teacher-labelled videos missing')
  videos = _walk(root, lambda f: f.lower().endswith(VIDEO_SUFFIXES))
  annotations = {os.path.normpath(p) for p in _walk(
      root, lambda f: f.endswith(teacher_format.SUFFIX))}
  labels = os.path.join(root, LABELS_DIR)
  skipped = collections.Counter()
  samples, used = [], set()
  for video in videos:
    rel = os.path.relpath(video, root)
    file_name = teacher_format.annotation_path(video).name
    beside = os.path.join(os.path.dirname(video), file_name)
    elsewhere = os.path.join(labels, file_name)
    annotation = next((p for p in (beside, elsewhere) if os.path.exists(p)),
                      None)
    if annotation is None:
      logging.warning('Skipping %s: no annotation %s or %s.', rel, beside,
                      elsewhere)
      skipped['no_annotation'] += 1
      continue
    used.add(os.path.normpath(annotation))
    stem = os.path.splitext(os.path.basename(video))[0]
    ident = ntu_id(stem)
    top = rel.split(os.sep)[0]
    if top in SPLIT_FOLDERS and rel != top:
      train = top == 'train'
    elif ident is not None:
      train = ident.performer not in test_performers
    else:
      logging.warning(
          'Skipping %s: no split for it: its name is not NTU\'s '
          'SsssCcccPpppRrrrAaaa and it is not under %s/ or %s/.', rel,
          *SPLIT_FOLDERS)
      skipped['no_split'] += 1
      continue
    if (train and ident is not None
        and ident.performer in layout.NEVER_TRAIN_PERFORMERS):
      logging.warning(
          'Excluding %s from training: performer P%03d is never trained on '
          '(layout.NEVER_TRAIN_PERFORMERS); move it under test/.', rel,
          ident.performer)
      skipped['never_train_performer'] += 1
      continue
    samples.append(TeacherSample(
        key=rel, name=ident.name if ident else stem, video=video,
        annotation=annotation, train=train,
        performer=ident.performer if ident else 0,
        action=ident.action if ident else 0))
  for path in sorted(annotations - used):
    logging.warning('Skipping %s: no video of that name (%s) beside it or, '
                    'for %s/, anywhere under %s.', path,
                    '|'.join(VIDEO_SUFFIXES), LABELS_DIR, root)
    skipped['no_video'] += 1
  if not samples:
    raise ValueError(
        f'no teacher-labelled video under {root}: looked for videos '
        f'({"|".join(VIDEO_SUFFIXES)}) with a <stem>{teacher_format.SUFFIX} '
        f'beside them or in {labels}; left out: {dict(skipped)} (the log '
        'names each file)')
  logging.info('%d teacher-labelled videos under %s (%d train, %d test); '
               'left out before reading: %s.', len(samples), root,
               sum(s.train for s in samples),
               sum(not s.train for s in samples), dict(skipped))
  return sorted(samples), skipped


def read_example(sample, height, width):
  """Decodes one labelled video into the teacher configs' feature dict.

  Frames are fitted into height x width with their aspect kept
  (`video_io.read_video_letterboxed`); joints follow them into stored
  pixels. Absent joints (confidence 0) are stored at (0, 0) with tracking
  state 0 and confidence 0, never as NaN.

  Raises:
    build_summary.SampleError: naming the file, for a malformed annotation,
      an undecodable video, an annotation whose frame count or frame size
      is not the video's, or no joint in any frame.
  """
  note = build_summary.stage(build_summary.ANNOTATION,
                             teacher_format.read_annotation, sample.annotation)
  frames, native, scale, offset = build_summary.stage(
      build_summary.VIDEO, video_io.read_video_letterboxed, sample.video,
      height, width)
  if tuple(native) != tuple(note['frame_size']):
    raise build_summary.SampleError(
        build_summary.ANNOTATION_MISMATCH,
        f'{sample.annotation}: frame_size '
        f'{tuple(int(v) for v in note["frame_size"])} but '
        f'the frames of {sample.video} are {tuple(native)}')
  keypoints, confidence = note['keypoints'], note['confidence']
  if len(keypoints) != len(frames):
    raise build_summary.SampleError(
        build_summary.ANNOTATION_MISMATCH,
        f'{sample.annotation}: {len(keypoints)} frames but {sample.video} '
        f'has {len(frames)}')
  found = confidence > 0
  if not found.any():
    raise build_summary.SampleError(
        build_summary.NO_BODY, f'{sample.annotation}: no joint in any frame')
  joints = np.where(found[..., None],
                    np.nan_to_num(keypoints) * scale + offset, 0.0)
  return {
      'frames': frames,
      'joints_2d': joints.astype(np.float32),
      'tracking_state': np.where(found, FOUND, 0).astype(np.int32),
      'confidence': np.where(found, confidence, 0.0).astype(np.float32),
      'person_score': note['person_score'],
      'frame_size': np.asarray(native, np.int32),
      'name': sample.name,
      'video': sample.key,
      'performer': sample.performer,
      'teacher': json.dumps(note['metadata'], sort_keys=True),
  }
