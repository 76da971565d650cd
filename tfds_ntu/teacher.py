"""Labels real video with NTU's 25 Kinect joints, using BlazePose as teacher.

    python -m tfds_ntu.teacher --videos=DIR [--output_dir=DIR] \
        [--pattern=*_rgb.avi]

labels every video in DIR matching the pattern (`blazepose.BlazePoseTeacher`:
detector, then landmark tracking), one annotation file per video. Files
already there are skipped, so an interrupted run resumes; each file is
written to a temporary name and renamed, so none is ever half written. A
video that cannot be read is reported by name and skipped; the run ends with
the list of failures and exit status 1.

Annotation format "bodypose_jax.teacher/1"
------------------------------------------
One file per video, `<video name without extension>.teacher.npz` (e.g.
`S001C002P003R001A043_rgb.teacher.npz`), `np.savez_compressed` with:

- `keypoints`: float32 [T, 25, 2], (x, y) in the video's own frame pixels
  (origin top-left, pixel centres at integer coordinates, as NTU's
  colorX/colorY), NTU's Kinect joint order (`bodypose_jax.model.skeleton`) and
  NTU's mirror convention (the joint Kinect calls left lies on the image's
  left for a person facing the camera). NaN where the joint is absent: a
  joint `MAPPING` leaves out, or a frame without a person.
- `confidence`: float32 [T, 25] in [0, 1]; exactly 0 where absent.
- `person_score`: float32 [T], BlazePose's pose presence score for the
  frame's crop; 0 when no person was found (then every joint is absent).
- `frame_size`: int32 [2], (height, width) of the frames.
- `metadata`: 0-d unicode array holding JSON: {"format":
  "bodypose_jax.teacher/1", "teacher": "blazepose_full", "detector_sha256",
  "landmark_sha256", "mapping": MAPPING_VERSION, "mirror_swapped": true,
  "video": file name, "fps": the video's frame rate}.

`teacher_format.write_annotation` and `read_annotation` are the one writer
and reader.

BlazePose's 33 landmarks -> Kinect v2 joints (`MAPPING`)
--------------------------------------------------------
BlazePose names sides from the person's point of view; NTU's images are
mirrored, so Kinect's *left* joint is BlazePose's *right* landmark. Checked
on the real clip S001C001P001R001A001 (performer facing camera 1): BlazePose's
left shoulder lies on the image's right (x 1090 vs 1016 for its right
shoulder), while in the same setup, camera and performer's Kinect skeleton
(S001C001P001R001A011) the left shoulder lies on the image's left (1002 vs
1073). The clip's own skeleton (A001) is not in ../shared/ntu_samples, so
the two takes' first 10 (standing) frames are compared by median position
(`python -m tfds_ntu.teacher_check --static_frames=10`): the 12 limb joints
sit 6-26 px (median 16) from Kinect's with the swap, 27-114 px (median 46)
without.

  Kinect joint (1-based)     BlazePose source (0-based)      kind
  1  spine base              mean of hips 23, 24             derived
  5  shoulder left           12 right shoulder               direct
  6  elbow left              14 right elbow                  direct
  7  wrist left              16 right wrist                  direct
  9  shoulder right          11 left shoulder                direct
  10 elbow right             13 left elbow                   direct
  11 wrist right             15 left wrist                   direct
  13 hip left                24 right hip                    direct
  14 knee left               26 right knee                   direct
  15 ankle left              28 right ankle                  direct
  17 hip right               23 left hip                     direct
  18 knee right              25 left knee                    direct
  19 ankle right             27 left ankle                   direct
  2 spine mid, 3 neck, 4 head, 8/12 hands, 16/20 feet, 21 spine at
  shoulders, 22/24 hand tips, 23/25 thumbs: absent.

Why: shoulders, elbows, wrists, hips, knees and ankles name the same
anatomical joints in both. Kinect places its spine base at the midpoint of
its two hips (measured on the three real skeleton files in
../shared/ntu_samples: median 0.2, 0.4 and 0.4 px apart, 95th percentile at
most 1.4 px), so the midpoint of BlazePose's hips is its counterpart, up to
the hips' own offset. Kinect's hips are not BlazePose's exactly: in the
standing comparison above, once the takes' 8 px sideways shift (the mean of
the two hips' x offsets) is taken out, BlazePose's hips lie 6.6 px further
out on each side (Kinect's hips are 31 px apart) and 4-6 px lower; they are
still the same joints, so they stay. Only indicative: the takes differ a
little in stance (their vertical offsets grow from -11 px at the shoulders
to +25 px at the ankles).

The rest have no counterpart: BlazePose has no neck or spine points; its
shoulder midpoint is not Kinect's spine-at-shoulders (3, 9 and
24 px apart in the three files, torso 123-195 px, as the shoulders shrug and
turn); its head is a face (nose, eyes, ears, mouth) and Kinect's head is the
skull's centre; its hand points are knuckles (pinky and index MCP, thumb IP)
where Kinect has the palm centre, finger tip and thumb tip; its foot points
are heel and toe tip where Kinect's foot joint sits on the instep. Where the
offset could not be measured on the clip's own Kinect skeleton, the joint is
left out rather than guessed.

Confidence of a direct joint: visibility x presence of its landmark
(BlazePose's sigmoid outputs: presence, that the landmark is inside the
crop; visibility, that it is in view, not occluded). A derived joint takes
the smallest confidence of its sources. A frame without a person has
confidence 0 everywhere.
"""

import dataclasses
import fnmatch
import hashlib
import pathlib
import sys
import time

from absl import app
from absl import flags
import cv2
import numpy as np

from tfds_ntu import blazepose
from tfds_ntu import teacher_format
from tfds_ntu.teacher_format import NUM_JOINTS
from tfds_ntu import video_io

TEACHER = 'blazepose_full'
MAPPING_VERSION = 'blazepose33_kinect25/1'

_PEERS = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'peers'
DEFAULT_DETECTOR = _PEERS / 'blazepose_detector.tflite'
DEFAULT_LANDMARK = _PEERS / 'blazepose_landmark_full.tflite'

# Kinect joint (0-based) -> BlazePose landmarks (0-based, person's own
# left/right) whose mean it is; the mirror swap is applied by `to_kinect`.
# See the module docstring's table for why each is here and others are not.
MAPPING = {
    0: (23, 24),  # spine base: hips' midpoint (derived)
    4: (11,),  # shoulder left <- left shoulder (swapped to right below)
    5: (13,),  # elbow left
    6: (15,),  # wrist left
    8: (12,),  # shoulder right
    9: (14,),  # elbow right
    10: (16,),  # wrist right
    12: (23,),  # hip left
    13: (25,),  # knee left
    14: (27,),  # ankle left
    16: (24,),  # hip right
    17: (26,),  # knee right
    18: (28,),  # ankle right
}
# BlazePose's left/right landmark pairs (face, arms, hands, legs, feet).
_BLAZEPOSE_SWAP = np.arange(33)
for _a, _b in ((1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14),
               (15, 16), (17, 18), (19, 20), (21, 22), (23, 24), (25, 26),
               (27, 28), (29, 30), (31, 32)):
  _BLAZEPOSE_SWAP[_a], _BLAZEPOSE_SWAP[_b] = _b, _a



def to_kinect(landmarks, visibility, presence, person_score,
              mirror_swap: bool = True):
  """BlazePose's 33 landmarks -> NTU's 25 Kinect joints (`MAPPING`).

  Args:
    landmarks: [T, 33, 2] frame pixels (NaN where no person).
    visibility, presence: [T, 33] in [0, 1].
    person_score: [T]; 0 marks a frame without a person.
    mirror_swap: swap BlazePose's left and right into NTU's mirror
      convention (True for NTU's labels; False only to measure the swap).

  Returns:
    (keypoints [T, 25, 2] float32, NaN where absent; confidence [T, 25]
    float32, 0 where absent).
  """
  landmarks = np.asarray(landmarks, np.float32)
  conf33 = (np.asarray(visibility, np.float32) *
            np.asarray(presence, np.float32))
  if mirror_swap:
    landmarks = landmarks[:, _BLAZEPOSE_SWAP]
    conf33 = conf33[:, _BLAZEPOSE_SWAP]
  t = landmarks.shape[0]
  keypoints = np.full((t, NUM_JOINTS, 2), np.nan, np.float32)
  confidence = np.zeros((t, NUM_JOINTS), np.float32)
  for joint, sources in MAPPING.items():
    keypoints[:, joint] = landmarks[:, list(sources)].mean(axis=1)
    confidence[:, joint] = conf33[:, list(sources)].min(axis=1)
  person = np.asarray(person_score) > 0
  absent = ~person[:, None] | np.isnan(keypoints).any(-1)
  keypoints[absent] = np.nan
  confidence = np.where(absent, 0.0, np.clip(confidence, 0, 1))
  return keypoints, confidence.astype(np.float32)


def sha256(path) -> str:
  """Hex SHA-256 of a file (the model files' identity in the metadata)."""
  h = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      h.update(block)
  return h.hexdigest()


@dataclasses.dataclass
class Labelled:
  """What labelling one video did (for the summary)."""
  video: str
  frames: int
  mean_person_score: float
  redetections: int  # Tracks lost (crop's presence < threshold), re-detected.
  detector_runs: int  # Frames the detector ran on (first, lost, no person).
  seconds: float


def label_video(teacher: blazepose.BlazePoseTeacher, video, out_path,
                model_hashes: dict, progress=None) -> Labelled:
  """Labels one video and writes its annotation (see the module docstring).

  Args:
    teacher: the BlazePose teacher (its track is reset).
    video: the video file.
    out_path: the annotation file.
    model_hashes: {'detector_sha256', 'landmark_sha256'}.
    progress: optional fn(frames_done) called after each frame.

  Raises:
    ValueError: naming the video when it cannot be read or has no frame.
  """
  start = time.perf_counter()
  fps = video_io.video_fps(video)
  before = teacher.redetections
  results, frame_hw = [], None
  for frame, result in teacher.iter_steps(video_io.iter_rgb_frames(video)):
    frame_hw = frame.shape[:2]
    results.append(result)
    if progress:
      progress(len(results))
  if not results:  # iter_rgb_frames raises first; kept for safety.
    raise ValueError(f'{video}: no decodable frame')
  landmarks = np.stack([r.landmarks for r in results])
  visibility = np.stack([r.visibility for r in results])
  presence = np.stack([r.presence for r in results])
  score = np.array([r.score for r in results], np.float32)
  keypoints, confidence = to_kinect(landmarks, visibility, presence, score)
  metadata = dict(teacher=TEACHER, mapping=MAPPING_VERSION,
                  mirror_swapped=True, video=pathlib.Path(video).name,
                  fps=fps, **model_hashes)
  teacher_format.write_annotation(out_path, keypoints, confidence, score, frame_hw, metadata)
  return Labelled(pathlib.Path(video).name, len(results), float(score.mean()),
                  teacher.redetections - before,
                  sum(r.detected for r in results),
                  time.perf_counter() - start)


def find_videos(folder, pattern):
  """Video files in `folder` (not recursive) matching `pattern`, sorted."""
  folder = pathlib.Path(folder)
  if not folder.is_dir():
    raise ValueError(f'{folder}: not a folder')
  return sorted(p for p in folder.iterdir()
                if p.is_file() and fnmatch.fnmatch(p.name, pattern))


def label_folder(videos_dir, output_dir=None, pattern='*_rgb.avi',
                 detector=DEFAULT_DETECTOR, landmark=DEFAULT_LANDMARK,
                 num_threads: int = 1, log=print):
  """Labels every matching video without an annotation yet.

  Returns:
    (list of `Labelled`, list of skipped names, list of (video name, error
    message) failures).
  """
  videos = find_videos(videos_dir, pattern)
  if output_dir:
    # Up front: otherwise every video would fail on its own.
    try:
      pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
      raise ValueError(f'{output_dir}: cannot create the output folder '
                       f'({e.strerror or e})') from e
  teacher = blazepose.BlazePoseTeacher(detector, landmark,
                                       num_threads=num_threads)
  hashes = dict(detector_sha256=sha256(detector),
                landmark_sha256=sha256(landmark))
  done, skipped, failed = [], [], []
  todo = []
  for video in videos:
    if teacher_format.annotation_path(video, output_dir).exists():
      skipped.append(video.name)
    else:
      todo.append(video)
  log(f'{len(videos)} videos match {pattern!r} in {videos_dir}: '
      f'{len(skipped)} already labelled, {len(todo)} to label')
  total_frames, total_seconds = 0, 0.0
  for i, video in enumerate(todo):
    name = f'[{i + 1}/{len(todo)}] {video.name}'
    start = time.perf_counter()

    def progress(n, name=name, start=start):
      if n % 50 == 0:
        rate = n / max(time.perf_counter() - start, 1e-9)
        log(f'{name}: frame {n}, {rate:.1f} frames/s')

    try:
      result = label_video(teacher, video, teacher_format.annotation_path(video, output_dir),
                           hashes, progress)
    except (ValueError, OSError, cv2.error) as e:
      # Bad input (unreadable, empty, damaged video): name it, go on.
      log(f'{name}: FAILED: {e}')
      failed.append((video.name, str(e)))
      continue
    done.append(result)
    total_frames += result.frames
    total_seconds += result.seconds
    rate = total_frames / max(total_seconds, 1e-9)
    left = len(todo) - i - 1
    eta = total_seconds / len(done) * left
    log(f'{name}: {result.frames} frames, {result.frames / result.seconds:.1f}'
        f' frames/s, mean person score {result.mean_person_score:.3f}, '
        f'{result.redetections} re-detections, detector on '
        f'{result.detector_runs} frames; overall {rate:.1f} frames/s, '
        f'ETA {eta:.0f} s')
  return done, skipped, failed


_VIDEOS = flags.DEFINE_string('videos', None, 'Folder of videos to label.')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'Where annotations go (default: beside the videos).')
_PATTERN = flags.DEFINE_string('pattern', '*_rgb.avi',
                               'File name pattern of the videos (fnmatch).')
# Shared with tfds_ntu.teacher_check (absl flags are defined once).
DETECTOR_FLAG = flags.DEFINE_string('detector', str(DEFAULT_DETECTOR),
                                'BlazePose detector .tflite.')
LANDMARK_FLAG = flags.DEFINE_string('landmark', str(DEFAULT_LANDMARK),
                                'BlazePose full landmark .tflite.')
_THREADS = flags.DEFINE_integer('threads', 1, 'TFLite interpreter threads.')


def run_command(videos, output_dir=None, pattern='*_rgb.avi',
                detector=DEFAULT_DETECTOR, landmark=DEFAULT_LANDMARK,
                num_threads: int = 1, out=None, err=None) -> int:
  """The labelling command (`main` passes its flags): labels, prints the
  summary and the failures; returns the exit status (1 if any failed)."""
  out = out or sys.stdout
  err = err or sys.stderr
  try:
    done, skipped, failed = label_folder(
        videos, output_dir, pattern, detector, landmark, num_threads,
        log=lambda line: print(line, file=out, flush=True))
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=err)
    return 1
  print(f'labelled {len(done)}, skipped {len(skipped)} already labelled, '
        f'failed {len(failed)}', file=out)
  if failed:
    print('failures:', file=err)
    for name, message in failed:
      print(f'  {name}: {message}', file=err)
    return 1
  return 0


def main(argv):
  del argv
  if not _VIDEOS.value:
    raise app.UsageError('--videos=DIR is required')
  return run_command(_VIDEOS.value, _OUTPUT_DIR.value, _PATTERN.value,
                     DETECTOR_FLAG.value, LANDMARK_FLAG.value, _THREADS.value)


if __name__ == '__main__':
  app.run(main)
