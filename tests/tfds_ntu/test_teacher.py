"""The BlazePose teacher: anchors, decoding, ROI geometry, the 33 -> 25
mapping, the annotation format, the labelling command and the real clip."""

import io
import math

import cv2
import numpy as np
import pytest

import commands
import real_samples
from bodypose_jax.model import skeleton
from tfds_ntu import blazepose
from tfds_ntu import mjpg_avi
from tfds_ntu import teacher
from tfds_ntu import teacher_check
from tfds_ntu import teacher_format

_PEERS = real_samples.REPO.parent / 'shared' / 'peers'


def _models():
  """(detector, landmark) paths; skips when the peer models are absent."""
  paths = (_PEERS / 'blazepose_detector.tflite',
           _PEERS / 'blazepose_landmark_full.tflite')
  for p in paths:
    if not p.is_file():
      pytest.skip(f'{p}: the BlazePose peer model is absent (MediaPipe '
                  'files are not shipped with the project)')
  return paths


def _real_clip():
  path = (real_samples.samples_dir() / 'nturgb+d_rgb' /
          'S001C001P001R001A001_rgb.avi')
  if not path.exists():
    pytest.skip(f'{path}: the real NTU video is absent')
  return path


# --- anchors and detector decoding -----------------------------------------


def test_anchors_count_and_layout():
  a = blazepose.ssd_anchors()
  assert a.shape == (2254, 2)
  # Stride 8: 28 x 28 cells x 2 anchors, row-major, both anchors of a cell
  # at its centre.
  np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
  np.testing.assert_allclose(a[1], a[0])
  np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
  np.testing.assert_allclose(a[2 * 28], [0.5 / 28, 1.5 / 28])
  # Stride 16 starts after 1568: 14 x 14 x 2.
  np.testing.assert_allclose(a[1567], [27.5 / 28, 27.5 / 28])
  np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
  # The three stride-32 layers share one 7 x 7 map, 6 anchors a cell.
  np.testing.assert_allclose(a[1960:1966], [[0.5 / 7, 0.5 / 7]] * 6)
  np.testing.assert_allclose(a[1966], [1.5 / 7, 0.5 / 7])
  np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def _raw(anchors, entries):
  """Raw detector tensors with detections at given anchors.

  entries: (anchor index, logit, box centre offset (px), size (px),
  keypoint offsets [4, 2] (px)).
  """
  boxes = np.zeros((len(anchors), 12), np.float32)
  scores = np.full((len(anchors), 1), -10.0, np.float32)
  for i, logit, offset, size, kps in entries:
    boxes[i, :2] = offset
    boxes[i, 2:4] = size
    boxes[i, 4:] = np.asarray(kps, np.float32).ravel()
    scores[i] = logit
  return boxes, scores


def test_decode_detections_synthetic():
  anchors = blazepose.ssd_anchors()
  kps = [[0, 10], [0, -40], [0, -30], [5, -60]]
  boxes, scores = _raw(anchors, [(100, 3.0, (4.48, -2.24), (44.8, 89.6), kps),
                                 (2000, 0.1, (0, 0), (20, 20), kps)])
  found = blazepose.decode_detections(boxes, scores, anchors, min_score=0.5)
  assert len(found) == 2  # sigmoid(0.1) = 0.525 passes, -10 does not.
  best = found[0]
  assert best.score == pytest.approx(1 / (1 + math.exp(-3.0)))
  np.testing.assert_allclose(best.box, [anchors[100, 0] + 0.02,
                                        anchors[100, 1] - 0.01, 0.2, 0.4],
                             atol=1e-6)
  np.testing.assert_allclose(best.keypoints,
                             anchors[100] + np.array(kps) / 224, atol=1e-6)
  assert len(blazepose.decode_detections(boxes, scores, anchors, 0.6)) == 1
  # Logits beyond the clip (+-100) do not overflow.
  scores[5] = 1e6
  assert blazepose.decode_detections(boxes, scores, anchors)[0].score == 1.0


def test_non_max_suppression_weighted_and_plain():
  kp = np.zeros((4, 2))
  a = blazepose.Detection(np.array([0.5, 0.5, 0.2, 0.2]), kp + 0.5, 0.9)
  b = blazepose.Detection(np.array([0.52, 0.5, 0.2, 0.2]), kp + 0.6, 0.6)
  far = blazepose.Detection(np.array([0.1, 0.1, 0.1, 0.1]), kp, 0.7)
  dets = sorted([a, b, far], key=lambda d: -d.score)
  weighted = blazepose.non_max_suppression(dets, 0.3, weighted=True)
  assert len(weighted) == 2 and weighted[0].score == 0.9
  np.testing.assert_allclose(weighted[0].box[0], (0.9 * 0.5 + 0.6 * 0.52) /
                             1.5)
  np.testing.assert_allclose(weighted[0].keypoints, kp + 0.54)
  plain = blazepose.non_max_suppression(dets, 0.3, weighted=False)
  assert len(plain) == 2
  np.testing.assert_allclose(plain[0].box, a.box)
  assert plain[1] is far


# --- ROI geometry ----------------------------------------------------------


def test_alignment_roi_angles():
  up = blazepose.alignment_roi((100, 200), (100, 150))
  np.testing.assert_allclose(up, [100, 200, 2 * 50 * 1.25, 0], atol=1e-9)
  # Head to the image's right: the crop turns by +90 degrees.
  right = blazepose.alignment_roi((100, 200), (140, 200))
  assert right[3] == pytest.approx(math.pi / 2)
  assert right[2] == pytest.approx(100)


@pytest.mark.parametrize('angle', [0.0, 0.6, -2.0])
def test_crop_and_back(angle):
  """A dot in the frame lands where crop_points_to_frame says it does."""
  yy, xx = np.mgrid[:300, :400]
  dot = np.array([230.0, 120.0])
  blob = 255 * np.exp(-((xx - dot[0])**2 + (yy - dot[1])**2) / (2 * 6.0**2))
  frame = np.repeat(blob[..., None], 3, axis=-1).astype(np.uint8)
  roi = np.array([200.0, 150.0, 160.0, angle])
  image = blazepose.crop(frame, roi, size=64).astype(np.float64)[..., 0]
  v, u = np.mgrid[:64, :64]
  centroid = np.array([(u * image).sum(), (v * image).sum()]) / image.sum()
  # Crop pixel centres sit at + 0.5 in the crop's edge units.
  back = blazepose.crop_points_to_frame(centroid[None] + 0.5, roi, size=64)[0]
  assert np.linalg.norm(back - dot) < 0.5


def test_detector_letterbox_round_trip():
  """A frame point through the letterbox input and back is unchanged."""
  m = blazepose.roi_lib.affine(blazepose.letterbox_roi((1080, 1920)),
                               (224, 224))
  point = np.array([1500.0, 300.0])
  input_px = m[:, :2] @ point + m[:, 2]
  back = blazepose.detection_to_frame((input_px[None] + 0.5) / 224,
                                      (1080, 1920))[0]
  np.testing.assert_allclose(back, point, atol=1e-3)


# --- mapping -----------------------------------------------------------------


def _landmarks(t=3):
  rng = np.random.default_rng(0)
  lm = rng.uniform(0, 500, (t, 33, 2)).astype(np.float32)
  vis = rng.uniform(0.2, 1, (t, 33)).astype(np.float32)
  pres = rng.uniform(0.2, 1, (t, 33)).astype(np.float32)
  return lm, vis, pres


def test_mapping_swaps_sides_and_leaves_the_rest_absent():
  lm, vis, pres = _landmarks()
  score = np.array([0.9, 0.0, 0.8], np.float32)  # frame 1: no person.
  kp, conf = teacher.to_kinect(lm, vis, pres, score)
  assert kp.shape == (3, 25, 2) and conf.shape == (3, 25)
  assert kp.dtype == np.float32 and conf.dtype == np.float32
  j = skeleton.JOINT_INDEX
  # Kinect's left is BlazePose's right (12 right shoulder, 24 right hip).
  np.testing.assert_array_equal(kp[0, j['shoulder_left']], lm[0, 12])
  np.testing.assert_array_equal(kp[0, j['ankle_right']], lm[0, 27])
  assert conf[0, j['hip_left']] == pytest.approx(vis[0, 24] * pres[0, 24])
  np.testing.assert_allclose(kp[0, j['spine_base']],
                             (lm[0, 23] + lm[0, 24]) / 2)
  assert conf[0, j['spine_base']] == pytest.approx(
      min(vis[0, 23] * pres[0, 23], vis[0, 24] * pres[0, 24]))
  mapped = sorted(teacher.MAPPING)
  absent = [i for i in range(25) if i not in teacher.MAPPING]
  assert [skeleton.JOINT_NAMES[i] for i in absent] == [
      'spine_mid', 'neck', 'head', 'hand_left', 'hand_right', 'foot_left',
      'foot_right', 'spine_shoulder', 'hand_tip_left', 'thumb_left',
      'hand_tip_right', 'thumb_right']
  assert np.isnan(kp[:, absent]).all() and (conf[:, absent] == 0).all()
  assert np.isnan(kp[1]).all() and (conf[1] == 0).all()
  assert np.isfinite(kp[np.ix_([0, 2], mapped)]).all()
  assert (conf[np.ix_([0, 2], mapped)] > 0).all()
  plain, _ = teacher.to_kinect(lm, vis, pres, score, mirror_swap=False)
  np.testing.assert_array_equal(plain[0, j['shoulder_left']], lm[0, 11])


# --- annotation format ------------------------------------------------------


def _write(path, t=4, **overrides):
  lm, vis, pres = _landmarks(t)
  score = np.linspace(0, 1, t).astype(np.float32)
  kp, conf = teacher.to_kinect(lm, vis, pres, score)
  args = dict(keypoints=kp, confidence=conf, person_score=score,
              frame_size=(1080, 1920),
              metadata=dict(video='x_rgb.avi', fps=30.0, mirror_swapped=True))
  args.update(overrides)
  teacher_format.write_annotation(path, **args)
  return args


def test_annotation_round_trip(tmp_path):
  path = tmp_path / 'x_rgb.teacher.npz'
  args = _write(path)
  got = teacher_format.read_annotation(path)
  np.testing.assert_array_equal(got['keypoints'], args['keypoints'])
  np.testing.assert_array_equal(got['confidence'], args['confidence'])
  np.testing.assert_array_equal(got['frame_size'], [1080, 1920])
  assert got['frame_size'].dtype == np.int32
  assert got['metadata']['format'] == 'bodypose_jax.teacher/1'
  assert got['metadata']['fps'] == 30.0
  # No temporary file is left beside it.
  assert [p.name for p in tmp_path.iterdir()] == [path.name]
  with np.load(path) as z:
    assert z['metadata'].shape == () and z['metadata'].dtype.kind == 'U'


def test_write_annotation_refuses_bad_arrays_and_keeps_old_file(tmp_path):
  path = tmp_path / 'x_rgb.teacher.npz'
  args = _write(path)
  conf = args['confidence'].copy()
  conf[0, 0] = 1.5
  with pytest.raises(ValueError, match='x_rgb.teacher.npz.*confidence'):
    _write(path, confidence=conf)
  teacher_format.read_annotation(path)  # The earlier file is intact.
  assert len(list(tmp_path.iterdir())) == 1


def _save(path, **arrays):
  with open(path, 'wb') as f:
    np.savez_compressed(f, **arrays)


@pytest.mark.parametrize('damage, message', [
    (lambda a: a.pop('person_score'), 'missing.*person_score'),
    (lambda a: a.update(extra=np.zeros(1)), 'unexpected.*extra'),
    (lambda a: a.update(keypoints=a['keypoints'].astype(np.float64)),
     'keypoints is float64'),
    (lambda a: a.update(confidence=a['confidence'][:, :24]),
     'confidence has shape'),
    (lambda a: a.update(confidence=np.where(np.isnan(a['keypoints'][..., 0]),
                                            np.float32(0.5), a['confidence'])),
     'not 0 where keypoints are NaN'),
    (lambda a: a.update(metadata=np.array('{"format": "other"}')),
     'metadata format'),
    (lambda a: a.update(frame_size=np.array([0, 5], np.int32)),
     'frame_size'),
])
def test_read_annotation_errors(tmp_path, damage, message):
  good = tmp_path / 'good.teacher.npz'
  _write(good)
  with np.load(good) as z:
    arrays = {k: z[k] for k in z.files}
  damage(arrays)
  bad = tmp_path / 'bad_rgb.teacher.npz'
  _save(bad, **arrays)
  with pytest.raises(ValueError, match=f'bad_rgb.teacher.npz: .*{message}'):
    teacher_format.read_annotation(bad)


def test_read_annotation_not_an_npz(tmp_path):
  bad = tmp_path / 'junk.teacher.npz'
  bad.write_text('not a zip')
  with pytest.raises(ValueError, match='junk.teacher.npz: not a readable'):
    teacher_format.read_annotation(bad)


# --- the labelling command ---------------------------------------------------


def _tiny_video(path, frames=3, hw=(48, 64)):
  with mjpg_avi.Writer(str(path), hw[1], hw[0], 30) as w:
    for i in range(frames):
      image = np.full(hw + (3,), 40 * i, np.uint8)
      w.write(cv2.imencode('.jpg', image)[1].tobytes())


def _bad_and_good_folder(tmp_path):
  videos = tmp_path / 'videos'
  videos.mkdir()
  _tiny_video(videos / 'good_rgb.avi')
  (videos / 'broken_rgb.avi').write_bytes(b'RIFF' + bytes(100))
  (videos / 'notes.txt').write_text('not matched by the pattern')
  return videos, tmp_path / 'labels'


def _check_labelled(returncode, stdout, stderr, out):
  assert returncode == 1, stderr[-2000:]
  assert 'broken_rgb.avi' in stderr.split('failures:')[-1]
  assert 'labelled 1, skipped 0 already labelled, failed 1' in stdout
  assert sorted(p.name for p in out.iterdir()) == ['good_rgb.teacher.npz']
  got = teacher_format.read_annotation(out / 'good_rgb.teacher.npz')
  # A blank video: 3 frames, nobody in them.
  assert got['keypoints'].shape == (3, 25, 2)
  assert np.isnan(got['keypoints']).all() and (got['person_score'] == 0).all()
  np.testing.assert_array_equal(got['frame_size'], [48, 64])
  meta = got['metadata']
  assert meta['video'] == 'good_rgb.avi' and meta['mirror_swapped'] is True
  assert meta['mapping'] == teacher.MAPPING_VERSION
  assert meta['fps'] == 30.0 and len(meta['landmark_sha256']) == 64


def test_labelling_command_reports_bad_video_and_resumes(tmp_path):
  detector, landmark = _models()
  videos, out = _bad_and_good_folder(tmp_path)
  stdout, stderr = io.StringIO(), io.StringIO()
  code = teacher.run_command(videos, out, detector=detector,
                             landmark=landmark, out=stdout, err=stderr)
  _check_labelled(code, stdout.getvalue(), stderr.getvalue(), out)
  # Run again: the labelled video is skipped, the broken one fails again.
  logged = []
  done, skipped, failed = teacher.label_folder(
      videos, out, detector=detector, landmark=landmark, log=logged.append)
  assert (done, skipped) == ([], ['good_rgb.avi'])
  assert [name for name, _ in failed] == ['broken_rgb.avi']
  assert 'broken_rgb.avi' in failed[0][1]
  assert '1 already labelled, 1 to label' in logged[0]


@pytest.mark.slow
def test_labelling_command_as_a_user_runs_it(tmp_path):
  _models()
  videos, out = _bad_and_good_folder(tmp_path)
  result = commands.run_module('tfds_ntu.teacher', f'--videos={videos}',
                               f'--output_dir={out}', check=False,
                               timeout=300)
  _check_labelled(result.returncode, result.stdout, result.stderr, out)


# --- the real clip -----------------------------------------------------------


def test_real_clip_mirror_convention():
  """The swap puts the teacher on Kinect's joints; without it, far off.

  The clip's own skeleton (A001) is compared frame by frame where present;
  otherwise the same setup, camera and performer's A011 skeleton, median
  standing position over the first 10 frames of each."""
  detector, landmark = _models()
  root = real_samples.samples_dir()
  video = _real_clip()
  own = root / 'nturgbd_skeletons' / 'S001C001P001R001A001.skeleton'
  other = root / 'nturgbd_skeletons' / 'S001C001P001R001A011.skeleton'
  if own.exists():
    report = teacher_check.run(video, own, 0, detector, landmark)
    assert report['swap']['limbs'] < 20, teacher_check.format_report(report)
  elif other.exists():
    report = teacher_check.run(video, other, 10, detector, landmark)
    assert report['swap']['limbs'] < 25, teacher_check.format_report(report)
  else:
    pytest.skip(f'no skeleton of S001C001P001 in {root}')
  assert report['no_swap']['limbs'] > 35, teacher_check.format_report(report)
  assert report['frames'] == 103 and report['mean_person_score'] > 0.9
