"""Runs MediaPipe's BlazePose models (detector + full landmark model) on video.

The two peer models (`../shared/peers/`, Apache-2.0, from the mediapipe
0.10.14 wheel) run under TensorFlow's TFLite interpreter; this module is the
glue MediaPipe's pose graphs put around them, written for NumPy and OpenCV:

  frame --letterbox 224--> detector --decode + weighted NMS--> best detection
        --keypoints 0, 1--> rotated square ROI --affine crop 256--> landmarks
        --aux landmarks 33, 34--> next frame's ROI (tracking)

Geometry is in frame pixels with pixel centres at integer coordinates (as
`bodypose_jax.data.roi` and NTU's colorX/colorY). MediaPipe's normalised
coordinates put 0 and 1 on the image's edges; a normalised x is therefore
pixel x * W - 0.5 in this convention, and every conversion below goes through
that one rule.

A rotated ROI is [4] = (cx, cy, size, angle): a square of side `size` frame
pixels centred on (cx, cy), turned by `angle` radians (clockwise on screen,
since y points down). Crop point p (offsets from the crop's centre, in frame
pixels before rotation) lies at frame point centre + R(angle) p, with
R = [[cos, -sin], [sin, cos]]; angle 0 is an upright person.

Parameters are MediaPipe's pose graphs' (pose_detection_cpu, pose_detection
_to_roi, pose_landmark_by_roi, tensors_to_pose_landmarks_and_segmentation,
pose_landmarks_to_roi), each named where it is used.
"""

import dataclasses
import math
import os
from typing import Iterable, Iterator

import cv2
import numpy as np

from bodypose_jax.data import roi as roi_lib

DETECTOR_INPUT = 224
LANDMARK_INPUT = 256
NUM_LANDMARKS = 33  # The pose landmarks; the model outputs 39 (33 + aux).
_MODEL_LANDMARKS = 39
# Auxiliary landmarks 33 (hip centre) and 34 (a point whose distance and
# direction from 33 encode the body's size and rotation): the next ROI.
_AUX_CENTRE, _AUX_SCALE = 33, 34

# SsdAnchorsCalculator options of pose_detection_cpu.pbtxt: 5 layers at these
# strides, aspect ratio 1 plus the interpolated-scale anchor (2 anchors per
# layer and cell), fixed anchor size (w = h = 1), offset 0.5 (cell centres).
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
_ANCHORS_PER_LAYER = 2
# TensorsToDetectionsCalculator: raw box / keypoint values are in input pixels
# (scale 224) relative to the anchor's centre; scores are logits, clipped to
# +-100 before the sigmoid (as MediaPipe's score_clipping_thresh).
_BOX_SCALE = 224.0
_SCORE_CLIP = 100.0
NUM_DETECTOR_KEYPOINTS = 4  # hip centre, full-body scale point, shoulder
#                             centre, upper-body scale point.

# pose_detection_to_roi / pose_landmarks_to_roi: the ROI's side is twice the
# distance between the two alignment points, times 1.25, and the body axis
# from point 0 to point 1 is turned to 90 degrees (pointing up).
ROI_SCALE = 1.25
_TARGET_ANGLE = math.pi / 2
# Heatmap refinement (RefineLandmarksFromHeatmapCalculator): a 7x7 window of
# sigmoid(heatmap) around each landmark, used where its peak reaches 0.5.
_REFINE_KERNEL = 7
_REFINE_MIN_CONFIDENCE = 0.5


def ssd_anchors(input_size: int = DETECTOR_INPUT,
                strides=ANCHOR_STRIDES) -> np.ndarray:
  """Anchor centres of MediaPipe's SSD layout: [N, 2] (x, y) in [0, 1].

  Consecutive layers with the same stride share one feature map and put all
  their anchors on each of its cells (as SsdAnchorsCalculator does), in the
  model's output order: map by map, row by row, cell by cell, then anchor.
  With fixed anchor size every anchor is 1 x 1, so only centres are needed.
  For 224 and strides (8, 16, 32, 32, 32): 28^2 * 2 + 14^2 * 2 + 7^2 * 6 =
  2254.
  """
  centres = []
  layer = 0
  while layer < len(strides):
    last = layer
    while last + 1 < len(strides) and strides[last + 1] == strides[layer]:
      last += 1
    per_cell = _ANCHORS_PER_LAYER * (last - layer + 1)
    size = math.ceil(input_size / strides[layer])
    ys, xs = np.meshgrid((np.arange(size) + 0.5) / size,
                         (np.arange(size) + 0.5) / size, indexing='ij')
    cells = np.stack([xs.ravel(), ys.ravel()], axis=-1)
    centres.append(np.repeat(cells, per_cell, axis=0))
    layer = last + 1
  return np.concatenate(centres).astype(np.float32)


@dataclasses.dataclass
class Detection:
  """One person detection, in the detector input's normalised coordinates.

  Attributes:
    box: [4] (x_centre, y_centre, width, height) in [0, 1] of the 224 input.
    keypoints: [4, 2] (x, y) in [0, 1] of the 224 input.
    score: sigmoid score.
  """
  box: np.ndarray
  keypoints: np.ndarray
  score: float


def decode_detections(raw_boxes, raw_scores, anchors,
                      min_score: float = 0.5) -> list[Detection]:
  """The detector's raw tensors as detections above `min_score`.

  Args:
    raw_boxes: [N, 12]: box centre x, y, width, height, then 4 keypoints'
      x, y; all in input pixels, centres relative to the anchor's centre.
    raw_scores: [N] or [N, 1] logits.
    anchors: [N, 2] from `ssd_anchors`.
    min_score: MediaPipe's `min_detection_confidence` (default 0.5).

  Returns:
    Detections, highest score first (before NMS).
  """
  raw_boxes = np.asarray(raw_boxes, np.float32).reshape(len(anchors), -1)
  logits = np.clip(np.asarray(raw_scores, np.float32).reshape(-1),
                   -_SCORE_CLIP, _SCORE_CLIP)
  scores = 1 / (1 + np.exp(-logits.astype(np.float64)))
  keep = np.flatnonzero(scores >= min_score)
  keep = keep[np.argsort(-scores[keep], kind='stable')]
  values = raw_boxes[keep] / _BOX_SCALE
  centre = anchors[keep]
  box = np.concatenate([values[:, :2] + centre, values[:, 2:4]], axis=-1)
  points = values[:, 4:4 + 2 * NUM_DETECTOR_KEYPOINTS].reshape(
      -1, NUM_DETECTOR_KEYPOINTS, 2) + centre[:, None]
  return [Detection(b, k, float(s))
          for b, k, s in zip(box, points, scores[keep])]


def _iou(box, boxes):
  """Intersection over union of one (cx, cy, w, h) box with [K, 4] boxes."""
  def corners(b):
    return b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
  lo, hi = corners(box)
  los, his = corners(boxes)
  inter = np.prod(np.clip(np.minimum(hi, his) - np.maximum(lo, los), 0, None),
                  axis=-1)
  union = np.prod(box[2:]) + np.prod(boxes[:, 2:], axis=-1) - inter
  return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def non_max_suppression(detections: list[Detection], iou_threshold=0.3,
                        weighted: bool = True) -> list[Detection]:
  """MediaPipe's NonMaxSuppressionCalculator (IoU overlap).

  Detections must be sorted by score (as `decode_detections` returns them).
  The best remaining detection takes every other one overlapping it by more
  than `iou_threshold`; `weighted` (MediaPipe's WEIGHTED algorithm, the pose
  graph's) replaces its box and keypoints with the score-weighted mean of the
  group, which steadies them; otherwise the group is simply dropped. The
  score stays the best one's.
  """
  remaining = list(detections)
  kept = []
  while remaining:
    best = remaining[0]
    boxes = np.stack([d.box for d in remaining])
    group = _iou(best.box, boxes) > iou_threshold
    group[0] = True
    if weighted and group.sum() > 1:
      w = np.array([d.score for d, g in zip(remaining, group) if g])
      members = [d for d, g in zip(remaining, group) if g]
      boxes_in = np.stack([d.box for d in members])
      box = np.einsum('k,kc->c', w, boxes_in) / w.sum()
      points = np.einsum('k,kpc->pc', w,
                         np.stack([d.keypoints for d in members])) / w.sum()
      best = Detection(box, points, best.score)
    kept.append(best)
    remaining = [d for d, g in zip(remaining, group) if not g]
  return kept


def letterbox_roi(frame_hw) -> np.ndarray:
  """The axis-aligned ROI (cx, cy, height) that letterboxes a whole frame
  into the detector's square input (`bodypose_jax.data.roi.whole_frame`: the
  project's one letterbox rule, zero padding as MediaPipe's BORDER_ZERO)."""
  return roi_lib.whole_frame(frame_hw, (DETECTOR_INPUT, DETECTOR_INPUT))


def detector_input(frame: np.ndarray) -> np.ndarray:
  """[H, W, 3] uint8 RGB -> [1, 224, 224, 3] float32 in [-1, 1], letterboxed."""
  whole = letterbox_roi(frame.shape[:2])
  m = roi_lib.affine(whole, (DETECTOR_INPUT, DETECTOR_INPUT))
  image = cv2.warpAffine(frame, m, (DETECTOR_INPUT, DETECTOR_INPUT),
                         flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
  # Padding is 0 in uint8, which is -1 after scaling: as MediaPipe, which
  # pads the image before converting it.
  return (image.astype(np.float32) / 127.5 - 1.0)[None]


def detection_to_frame(points_normalised, frame_hw) -> np.ndarray:
  """[..., 2] detector-normalised points -> frame pixels (undoes the
  letterbox)."""
  input_px = np.asarray(points_normalised, np.float32) * DETECTOR_INPUT - 0.5
  return roi_lib.to_frame(input_px, letterbox_roi(frame_hw),
                          (DETECTOR_INPUT, DETECTOR_INPUT))


def alignment_roi(centre, scale_point, scale: float = ROI_SCALE) -> np.ndarray:
  """The rotated square ROI from two alignment points (frame pixels).

  MediaPipe's AlignmentPointsRectsCalculator + RectTransformationCalculator:
  centre at `centre`, side 2 |scale_point - centre| * `scale`, rotated so
  that the direction centre -> scale_point points up in the crop.

  Returns:
    [4] (cx, cy, size, angle).
  """
  c = np.asarray(centre, np.float64)
  d = np.asarray(scale_point, np.float64) - c
  size = 2 * math.hypot(d[0], d[1]) * scale
  # atan2 of the upward (y flipped) direction; the angle that takes it to 90
  # degrees, wrapped to [-pi, pi).
  angle = _TARGET_ANGLE - math.atan2(-d[1], d[0])
  angle = (angle + math.pi) % (2 * math.pi) - math.pi
  return np.array([c[0], c[1], size, angle])


def crop_to_frame_matrix(roi, size: int = LANDMARK_INPUT) -> np.ndarray:
  """[2, 3] affine taking crop pixels (centres at integers) to frame pixels.

  Crop pixel u has normalised position (u + 0.5) / size, so its offset from
  the crop centre is ((u + 0.5) / size - 0.5) * roi side, before rotation.
  """
  cx, cy, side, angle = (float(v) for v in roi)
  k = side / size
  c, s = math.cos(angle), math.sin(angle)
  rot = np.array([[c, -s], [s, c]]) * k
  offset = (0.5 - size / 2)  # crop px of the centre is size/2 - 0.5
  t = np.array([cx, cy]) + rot @ np.array([offset, offset])
  return np.concatenate([rot, t[:, None]], axis=1)


def crop(frame: np.ndarray, roi, size: int = LANDMARK_INPUT) -> np.ndarray:
  """The ROI of a frame, upright, bilinear: [H, W, 3] -> [size, size, 3].

  Edges are replicated beyond the frame (MediaPipe's default border for the
  landmark crop), so a person cut by the frame's edge sees no black wall.
  """
  m = crop_to_frame_matrix(roi, size)
  return cv2.warpAffine(frame, m, (size, size),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_REPLICATE)


def crop_points_to_frame(points, roi, size: int = LANDMARK_INPUT):
  """[..., 2] points in the crop's `size`-unit coordinates (0 and `size` on
  its edges, as the landmark model outputs them) -> frame pixels."""
  m = crop_to_frame_matrix(roi, size)
  # Edge units -> crop pixel centres, then the affine.
  p = np.asarray(points, np.float64) - 0.5
  return p @ m[:, :2].T + m[:, 2]


def refine_from_heatmap(points, heatmap, kernel: int = _REFINE_KERNEL,
                        min_confidence: float = _REFINE_MIN_CONFIDENCE):
  """Landmarks moved to the mean of their heatmap's peak window.

  As RefineLandmarksFromHeatmapCalculator: sigmoid(heatmap) over a
  `kernel`-square window around each landmark's cell, used where the
  window's maximum reaches `min_confidence`; the new position is the
  weighted mean cell *index* / 64 (normalised), as MediaPipe computes it.
  That reads cell j as normalised j / 64, its left edge, not its centre
  (j + 0.5) / 64; measured on the real NTU clip (21 frames x 33 landmarks),
  the centre reading moves landmarks by +1.6, +1.4 crop px (mean x, y) away
  from the model's own regressed coordinates, the edge reading by -0.4, -0.5:
  the heatmaps were trained with the edge reading, so it stays.

  Args:
    points: [L, 2] in crop units of `LANDMARK_INPUT` (0..256 edge to edge).
    heatmap: [h, w, L] logits.

  Returns:
    [L, 2] refined points, same units.
  """
  h, w, _ = heatmap.shape
  out = np.array(points, np.float64)
  half = (kernel - 1) // 2
  for j, (x, y) in enumerate(points):
    col = int(math.floor(x / LANDMARK_INPUT * w))
    row = int(math.floor(y / LANDMARK_INPUT * h))
    if not (0 <= col < w and 0 <= row < h):
      continue
    r0, r1 = max(0, row - half), min(h, row + half + 1)
    c0, c1 = max(0, col - half), min(w, col + half + 1)
    conf = 1 / (1 + np.exp(-heatmap[r0:r1, c0:c1, j].astype(np.float64)))
    if conf.max() < min_confidence or conf.sum() <= 0:
      continue
    rows, cols = np.mgrid[r0:r1, c0:c1]
    out[j, 0] = (cols * conf).sum() / conf.sum() / w * LANDMARK_INPUT
    out[j, 1] = (rows * conf).sum() / conf.sum() / h * LANDMARK_INPUT
  return out


def _sigmoid(x):
  return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


class _Model:
  """A TFLite model on the TF interpreter; outputs picked by shape."""

  def __init__(self, path, num_threads: int):
    import tensorflow as tf  # Heavy; only the teacher needs it.
    if not os.path.isfile(path):
      raise FileNotFoundError(f'{path}: model file not found')
    self.interpreter = tf.lite.Interpreter(model_path=os.fspath(path),
                                           num_threads=num_threads)
    self.interpreter.allocate_tensors()
    self._input = self.interpreter.get_input_details()[0]['index']
    self.outputs = {tuple(d['shape']): d['index']
                    for d in self.interpreter.get_output_details()}

  def __call__(self, x):
    self.interpreter.set_tensor(self._input, x)
    self.interpreter.invoke()
    return {shape: self.interpreter.get_tensor(i)
            for shape, i in self.outputs.items()}


@dataclasses.dataclass
class FrameResult:
  """The teacher's output for one frame.

  Attributes:
    landmarks: [33, 2] frame pixels (NaN when no person).
    visibility: [33] sigmoid visibility (0 when no person).
    presence: [33] sigmoid landmark presence (0 when no person).
    score: pose presence score of the accepted crop (0 when no person).
    roi: [4] the crop the landmarks came from (NaN when no person).
    detected: whether the detector ran on this frame.
  """
  landmarks: np.ndarray
  visibility: np.ndarray
  presence: np.ndarray
  score: float
  roi: np.ndarray
  detected: bool


@dataclasses.dataclass
class Track:
  """`BlazePoseTeacher.track`'s output for T frames.

  Attributes:
    landmarks: [T, 33, 2] float32 frame pixels, NaN where no person.
    visibility: [T, 33] float32, 0 where no person.
    presence: [T, 33] float32 landmark presence, 0 where no person.
    score: [T] float32 pose presence score, 0 where no person.
    detected: [T] bool, frames on which the detector ran.
    frame_hw: (H, W) of the frames.
  """
  landmarks: np.ndarray
  visibility: np.ndarray
  presence: np.ndarray
  score: np.ndarray
  detected: np.ndarray
  frame_hw: tuple[int, int]


class BlazePoseTeacher:
  """BlazePose full: detector on the first frame and when lost, else the
  previous frame's landmarks give the crop (MediaPipe's tracking).

  Lost means: the landmark model's pose presence score on the tracked crop is
  below `presence_threshold` (MediaPipe's min_tracking_confidence, 0.5).
  MediaPipe then outputs nothing for that frame and detects on the next one;
  a teacher labels offline, so here the detector runs again on the same
  frame at once and the landmark model retries on the detected crop
  (counted in `redetections`). A frame whose detected crop is still below
  the threshold, or where the detector finds nobody, has no person.
  """

  def __init__(self, detector_path, landmark_path, num_threads: int = 1,
               min_detection_score: float = 0.5,
               presence_threshold: float = 0.5, nms_iou: float = 0.3,
               refine: bool = True):
    self.detector = _Model(detector_path, num_threads)
    self.landmark = _Model(landmark_path, num_threads)
    self.anchors = ssd_anchors()
    self.min_detection_score = min_detection_score
    self.presence_threshold = presence_threshold
    self.nms_iou = nms_iou
    self.refine = refine
    self.redetections = 0  # Detector runs after a lost track, all videos.
    self._next_roi = None

  def reset(self):
    """Forgets the track: the next frame starts with the detector."""
    self._next_roi = None

  def detect(self, frame: np.ndarray):
    """The best person's ROI [4] in frame pixels, or None."""
    out = self.detector(detector_input(frame))
    boxes = out[(1, len(self.anchors), 12)][0]
    scores = out[(1, len(self.anchors), 1)][0]
    found = non_max_suppression(
        decode_detections(boxes, scores, self.anchors,
                          self.min_detection_score), self.nms_iou)
    if not found:
      return None
    points = detection_to_frame(found[0].keypoints, frame.shape[:2])
    return alignment_roi(points[0], points[1])

  def landmarks(self, frame: np.ndarray, roi):
    """The landmark model on one ROI.

    Returns:
      ([39, 2] frame pixels (33 landmarks + 6 auxiliary), [39] visibility,
      [39] presence, pose presence score).
    """
    x = crop(frame, roi).astype(np.float32)[None] / 255.0
    out = self.landmark(x)
    raw = out[(1, _MODEL_LANDMARKS * 5)][0].reshape(_MODEL_LANDMARKS, 5)
    points = raw[:, :2]
    if self.refine:
      heatmap = out[(1, 64, 64, _MODEL_LANDMARKS)][0]
      points = refine_from_heatmap(points, heatmap)
    frame_points = crop_points_to_frame(points, roi)
    # The pose flag comes out of the model as a probability already
    # (MediaPipe's TensorsToFloats applies no activation to it).
    score = float(out[(1, 1)][0, 0])
    return frame_points, _sigmoid(raw[:, 3]), _sigmoid(raw[:, 4]), score

  def step(self, frame: np.ndarray) -> FrameResult:
    """One frame of the tracked loop."""
    detected = False
    roi = self._next_roi
    result = None
    if roi is not None:
      result = self.landmarks(frame, roi)
      if result[3] < self.presence_threshold:
        self.redetections += 1
        result = None
    if result is None:
      detected = True
      roi = self.detect(frame)
      if roi is not None:
        result = self.landmarks(frame, roi)
    if result is None or result[3] < self.presence_threshold:
      self._next_roi = None
      nan = np.full((NUM_LANDMARKS, 2), np.nan)
      zeros = np.zeros(NUM_LANDMARKS)
      return FrameResult(nan, zeros, zeros, 0.0, np.full(4, np.nan), detected)
    points, visibility, presence, score = result
    self._next_roi = alignment_roi(points[_AUX_CENTRE], points[_AUX_SCALE])
    return FrameResult(points[:NUM_LANDMARKS], visibility[:NUM_LANDMARKS],
                       presence[:NUM_LANDMARKS], score, np.asarray(roi),
                       detected)

  def track(self, frames: Iterable[np.ndarray]) -> Track:
    """Labels a sequence of [H, W, 3] uint8 RGB frames (one video).

    Raises:
      ValueError: when `frames` is empty.
    """
    results, frame_hw = [], None
    for frame, result in self.iter_steps(frames):
      frame_hw = tuple(frame.shape[:2])
      results.append(result)
    if not results:
      raise ValueError('no frame to label')
    return Track(
        landmarks=np.stack([r.landmarks for r in results]).astype(np.float32),
        visibility=np.stack([r.visibility for r in results]).astype(np.float32),
        presence=np.stack([r.presence for r in results]).astype(np.float32),
        score=np.array([r.score for r in results], np.float32),
        detected=np.array([r.detected for r in results]),
        frame_hw=frame_hw)

  def iter_steps(self, frames: Iterable[np.ndarray]
                 ) -> Iterator[tuple[np.ndarray, FrameResult]]:
    """(frame, `step(frame)`) over frames, from a fresh track."""
    self.reset()
    for frame in frames:
      yield frame, self.step(frame)
