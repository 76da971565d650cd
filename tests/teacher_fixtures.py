"""Teacher annotations for tests, made from rendered synthetic samples.

The synthetic renderer writes NTU-format colour videos with Kinect skeletons
whose colour-pixel joints are exact; an annotation made from them is what a
perfect teacher would write, with some joints made absent as a real one
leaves them.
"""

import dataclasses
import os

import numpy as np

from tfds_ntu import layout
from tfds_ntu import skeleton_file
from tfds_ntu.synthetic import render
from tfds_ntu import teacher_format

# Joints the fixture teacher never gives: BlazePose has no spine joints
# (spine_mid, spine_shoulder; spine_base stands for its hip centre here).
ABSENT_JOINTS = (1, 20)
# Frames in which the fixture teacher finds nobody.
NO_PERSON_FRAMES = (0,)
TRACKED_CONFIDENCE, INFERRED_CONFIDENCE = 0.9, 0.4

SPEC = render.SyntheticSpec(
    seed=0, setups=(1,), cameras=(1, 2), performers=(1, 3, 4),
    replications=(1,), actions=(23,), num_frames=6, modalities=('rgb',),
    num_workers=1)


def render_samples(root, **changes):
  """Renders `SPEC` (with `changes`) in NTU's layout under `root`."""
  return render.render_dataset(root, dataclasses.replace(SPEC, **changes))


def annotation_from_skeleton(skeleton_path):
  """The arrays a perfect teacher would write for the sample's video:
  keypoints, confidence, person_score, frame_size."""
  actor = skeleton_file.main_actor(skeleton_file.read_skeleton(skeleton_path))
  keypoints = actor.color_xy.astype(np.float32).copy()
  state = actor.tracking_state
  confidence = np.where(state == 2, TRACKED_CONFIDENCE,
                        np.where(state == 1, INFERRED_CONFIDENCE, 0.0))
  confidence[:, list(ABSENT_JOINTS)] = 0.0
  confidence[list(NO_PERSON_FRAMES)] = 0.0
  confidence = confidence.astype(np.float32)
  keypoints[confidence == 0] = np.nan
  person_score = np.where(confidence.max(-1) > 0, 0.95, 0.0)
  return keypoints, confidence, person_score, layout.RGB_SIZE


def write(path, video_name, keypoints, confidence, person_score, frame_size):
  teacher_format.write_annotation(
      path, keypoints, confidence, person_score, frame_size,
      {'teacher': 'fixture', 'mirror_swapped': True, 'video': video_name,
       'fps': 30.0, 'detector_sha256': '', 'landmark_sha256': '',
       'mapping': 'kinect skeleton'})


def label(root, name, out_dir=None):
  """Writes `name`'s annotation beside its video (or into `out_dir`);
  returns its path."""
  video = layout.rgb_path(root, name)
  path = os.path.join(out_dir or os.path.dirname(video),
                      teacher_format.annotation_path(video).name)
  write(path, os.path.basename(video),
        *annotation_from_skeleton(layout.skeleton_path(root, name)))
  return path
