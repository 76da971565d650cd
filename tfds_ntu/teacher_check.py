"""Measures the teacher against Kinect on a real NTU clip, and its speed.

    python -m tfds_ntu.teacher_check \
        --video=../shared/ntu_samples/nturgb+d_rgb/S001C001P001R001A001_rgb.avi \
        --kinect=../shared/ntu_samples/nturgbd_skeletons/S001C001P001R001A001.skeleton

labels the clip with `blazepose.BlazePoseTeacher` (1 thread), maps it to the
Kinect joints with and without the left/right swap (`teacher.to_kinect`),
and prints, for every mapped joint, the median pixel distance to Kinect's
colorX/colorY over the frames where Kinect tracks the main actor, and the
median offset (teacher - Kinect, x and y): a systematic offset shows a joint
the two place differently. The summary line is the median over the 12 limb
joints (shoulders, elbows, wrists, hips, knees, ankles). It also reports the
frames/s with decoding and without.

`--static_frames=N` compares instead each joint's median position over the
first N frames of the video with that over the first N frames of the
skeleton: for a skeleton of *another take* of the same setup, camera and
performer (both begin standing still), when the take's own is unavailable.
That measures the mirror convention well and offsets only roughly (the
stance differs a little between takes).

P001 clips are test footage: this reads them, nothing here trains on them.
"""

import os
import time
import warnings

from absl import app
from absl import flags
import numpy as np

from bodypose_jax.model import skeleton
from tfds_ntu import blazepose
from tfds_ntu import skeleton_file
from tfds_ntu import teacher as teacher_lib
from tfds_ntu import video_io

# Kinect joints (0-based) of the 12 limb joints.
LIMB_JOINTS = tuple(skeleton.JOINT_INDEX[n] for n in (
    'shoulder_left', 'shoulder_right', 'elbow_left', 'elbow_right',
    'wrist_left', 'wrist_right', 'hip_left', 'hip_right', 'knee_left',
    'knee_right', 'ankle_left', 'ankle_right'))


def joint_errors(keypoints, kinect, valid):
  """Per-joint distances of the teacher's joints to Kinect's.

  Args:
    keypoints: [T, 25, 2] teacher (NaN where absent).
    kinect: [T, 25, 2] Kinect colour pixels.
    valid: [T, 25] bool, where Kinect's joint counts.

  Returns:
    {joint: dict(median=px, offset=(median dx, median dy), frames=n)} for
    joints with at least one frame where both exist.
  """
  out = {}
  for j in range(keypoints.shape[1]):
    ok = valid[:, j] & ~np.isnan(keypoints[:, j]).any(-1)
    if not ok.any():
      continue
    d = keypoints[ok, j] - kinect[ok, j]
    out[j] = dict(median=float(np.median(np.linalg.norm(d, axis=-1))),
                  offset=tuple(float(v) for v in np.median(d, axis=0)),
                  frames=int(ok.sum()))
  return out


def limb_median(keypoints, kinect, valid) -> float:
  """Median distance over all (frame, joint) pairs of the 12 limb joints."""
  k = list(LIMB_JOINTS)
  ok = valid[:, k] & ~np.isnan(keypoints[:, k]).any(-1)
  d = np.linalg.norm(keypoints[:, k] - kinect[:, k], axis=-1)
  return float(np.median(d[ok])) if ok.any() else float('nan')


def run(video, kinect_path, static_frames: int = 0,
        detector=teacher_lib.DEFAULT_DETECTOR,
        landmark=teacher_lib.DEFAULT_LANDMARK):
  """Labels `video`, compares with the `.skeleton`; returns a report dict."""
  start = time.perf_counter()
  frames = list(video_io.iter_rgb_frames(video))
  decode_s = time.perf_counter() - start
  model = blazepose.BlazePoseTeacher(detector, landmark, num_threads=1)
  start = time.perf_counter()
  track = model.track(frames)
  track_s = time.perf_counter() - start
  actor = skeleton_file.main_actor(skeleton_file.read_skeleton(kinect_path))
  kinect = actor.color_xy
  valid = actor.present[:, None] & (actor.tracking_state > 0)
  report = dict(frames=len(frames), kinect_frames=len(kinect),
                fps_model=len(frames) / track_s,
                fps_with_decode=len(frames) / (track_s + decode_s),
                redetections=model.redetections,
                mean_person_score=float(track.score.mean()))
  for swap in (True, False):
    kp, _ = teacher_lib.to_kinect(track.landmarks, track.visibility,
                                  track.presence, track.score, swap)
    if static_frames:
      n = static_frames
      with warnings.catch_warnings():  # Absent joints are all NaN.
        warnings.simplefilter('ignore', RuntimeWarning)
        kp = np.nanmedian(kp[:n], axis=0, keepdims=True)
      ref = np.median(kinect[:n][actor.present[:n]], axis=0, keepdims=True)
      ok = valid[:n].all(axis=0, keepdims=True)
    else:
      t = min(len(kp), len(kinect))
      kp, ref, ok = kp[:t], kinect[:t], valid[:t]
    report['swap' if swap else 'no_swap'] = dict(
        joints=joint_errors(kp, ref, ok), limbs=limb_median(kp, ref, ok))
  return report


def format_report(report) -> str:
  """The report as a table (one row per mapped joint)."""
  lines = [f"{report['frames']} video frames, {report['kinect_frames']} "
           f"Kinect frames; {report['redetections']} re-detections, mean "
           f"person score {report['mean_person_score']:.3f}",
           f"teacher {report['fps_model']:.1f} frames/s (1 thread, decoded "
           f"frames in), {report['fps_with_decode']:.1f} frames/s with "
           'decoding', '',
           f"{'joint':18s} {'swap px':>8s} {'offset dx,dy':>14s} "
           f"{'no swap px':>10s}"]
  swap, plain = report['swap'], report['no_swap']
  for j, e in swap['joints'].items():
    other = plain['joints'].get(j, {}).get('median', float('nan'))
    lines.append(f'{j + 1:2d} {skeleton.JOINT_NAMES[j]:15s} '
                 f"{e['median']:8.1f} {e['offset'][0]:6.1f},"
                 f"{e['offset'][1]:6.1f} {other:10.1f}")
  lines.append(f"12 limb joints, median: {swap['limbs']:.1f} px with the "
               f"swap, {plain['limbs']:.1f} px without")
  return '\n'.join(lines)


_VIDEO = flags.DEFINE_string('video', None, 'The NTU colour clip.')
_KINECT = flags.DEFINE_string('kinect', None, "Its .skeleton file.")
_STATIC = flags.DEFINE_integer(
    'static_frames', 0, 'Compare median positions over the first N frames '
    '(a skeleton of another take); 0: frame by frame.')
def main(argv):
  del argv
  if not (_VIDEO.value and _KINECT.value):
    raise app.UsageError('--video and --kinect are required')
  for path in (_VIDEO.value, _KINECT.value):
    if not os.path.isfile(path):
      raise app.UsageError(f'{path}: no such file')
  report = run(_VIDEO.value, _KINECT.value, _STATIC.value,
               teacher_lib.DETECTOR_FLAG.value,
               teacher_lib.LANDMARK_FLAG.value)
  print(format_report(report))


if __name__ == '__main__':
  app.run(main)
