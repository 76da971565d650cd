"""Per-video pose metrics: PCK curves, jitter and recovery after occlusion.

Everything here is plain numpy over one video at a time:

  pred            [N, J, 2] predicted keypoints, input pixels
  gt              [N, J, 2] ground-truth keypoints, input pixels
  tracking_state  [N, J]    0 no ground truth, 1 inferred (the Kinect could
                            not see the joint: occluded), 2 tracked (visible)

Distances are normalised by the frame's torso length as in metrics.py (spine
base to spine-at-shoulders, or where a spine joint is missing the hips'
midpoint to the shoulders' midpoint; a frame counts only when one of them is
known and the torso is at least one pixel long). `video_sums` turns one
video into additive sums and counts, `merge` adds two such dicts and
`finalize` divides once, so a metric over many videos weights every
joint-frame equally instead of averaging per-video averages. `VideoMetrics`
wraps the three.
"""

from typing import Mapping, Sequence

import numpy as np

from bodypose_jax.evaluators import metrics
from bodypose_jax.model import skeleton

# The PCK curve's thresholds, fractions of the torso: 0, 0.01, ..., 0.5.
# Rounded so that each is the float nearest its decimal (0.15, not
# 0.15000000000000002), which keeps hits at a threshold exact.
PCK_GRID = np.round(np.linspace(0.0, 0.5, 51), 2)
# The threshold of per-joint PCK and of "recovered" after an occlusion.
PCK_JOINT_THRESHOLD = 0.2
SUBSETS = ("all", "visible", "occluded")
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.5)

_INFERRED, _TRACKED = 1, 2


def torso_lengths(gt, tracking_state) -> tuple[np.ndarray, np.ndarray]:
  """The torso length of each frame and whether it can normalise.

  Args:
    gt: [N, J, 2] ground truth, pixels.
    tracking_state: [N, J].

  Returns:
    torso [N] in pixels and frame_ok [N] bool, by metrics.torso_lengths.
  """
  torso, frame_ok = metrics.torso_lengths(gt, tracking_state)
  return np.asarray(torso), np.asarray(frame_ok)


def joint_errors(pred, gt, tracking_state) -> dict:
  """Per joint-frame errors and the masks of the subsets they belong to.

  Args:
    pred: [N, J, 2].
    gt: [N, J, 2].
    tracking_state: [N, J].

  Returns:
    dict of [N, J] arrays: 'pixel' (distance in pixels), 'normalised'
    (distance / torso; inf where the frame has no valid torso), and bool
    masks 'all' (state > 0 in a frame with a valid torso), 'visible'
    (state 2) and 'occluded' (state 1), each within 'all'.
  """
  pred = np.asarray(pred, np.float64)
  gt = np.asarray(gt, np.float64)
  state = np.asarray(tracking_state)
  torso, frame_ok = torso_lengths(gt, state)
  pixel = np.linalg.norm(pred - gt, axis=-1)
  with np.errstate(divide="ignore", invalid="ignore"):
    normalised = np.where(
        frame_ok[:, None], pixel / np.maximum(torso, 1.0)[:, None], np.inf
    )
  valid = (state > 0) & frame_ok[:, None]
  return {
      "pixel": pixel,
      "normalised": normalised,
      "all": valid,
      "visible": valid & (state == _TRACKED),
      "occluded": valid & (state == _INFERRED),
  }


def followed_actor(pred, actors, near: float = 0.5) -> int:
  """Which performer of a video a one-person tracker followed.

  A tracker that starts from the whole frame of a two-person action may
  lock on to either performer, and it has no way to know which one the
  dataset lists first; scoring it only against the first would count a
  well-tracked second performer as a miss on every frame. A video is
  scored against the performer the predictions were on for the most
  joint-frames (within `near` torso lengths of that performer's joint): a
  performer in view for a few frames cannot outvote one followed for the
  rest of the video. One choice per video: a tracker that jumps from one
  performer to the other is scored wrong after the jump.

  Args:
    pred: [N, J, 2] predicted keypoints.
    actors: sequence of (gt [N, J, 2], tracking_state [N, J]), the first
      the dataset's main performer.
    near: the distance, in torso lengths, that counts as on a performer.

  Returns:
    The index into `actors`; ties go to the earlier performer.
  """
  votes = []
  for gt, state in actors:
    e = joint_errors(pred, gt, state)
    votes.append(int(((e["normalised"] <= near) & e["all"]).sum()))
  return int(np.argmax(votes))


def pck(normalised, mask, thresholds: Sequence[float]) -> np.ndarray:
  """PCK of one subset at each threshold: [T] in [0, 1] (nan if empty).

  Args:
    normalised: [N, J] errors in torso lengths (`joint_errors`).
    mask: [N, J] bool, the joint-frames to count.
    thresholds: T fractions of the torso; a joint is correct at <= thr.
  """
  hits = _hits(normalised, mask, thresholds)
  count = mask.sum()
  return hits / count if count else np.full(len(hits), np.nan)


def curve_auc(curve) -> float:
  """Area under a PCK curve on PCK_GRID, divided by the grid's range.

  Trapezoids between grid points; 1.0 for a perfect model.
  """
  curve = np.asarray(curve, np.float64)
  widths = np.diff(PCK_GRID)
  area = np.sum(widths * (curve[1:] + curve[:-1]) / 2.0)
  return float(area / (PCK_GRID[-1] - PCK_GRID[0]))


def _hits(normalised, mask, thresholds) -> np.ndarray:
  thr = np.asarray(thresholds, np.float64)
  return ((normalised[..., None] <= thr) & mask[..., None]).sum(
      axis=(0, 1), dtype=np.float64
  )


def acceleration_sums(pred, gt, tracking_state) -> dict:
  """Jitter: second differences of the predictions against ground truth.

  At every interior frame t the acceleration is p[t+1] - 2 p[t] + p[t-1];
  a joint counts there when it has ground truth (state > 0) in all three
  frames. No torso normalisation: jitter is a pixel quantity on screen.

  Args:
    pred: [N, J, 2].
    gt: [N, J, 2].
    tracking_state: [N, J].

  Returns:
    sums over the counted joint-frames: 'count', 'accel_error' (|pred accel
    - gt accel|), 'pred_accel' (|pred accel|), 'gt_accel' (|gt accel|).
  """
  pred = np.asarray(pred, np.float64)
  gt = np.asarray(gt, np.float64)
  known = np.asarray(tracking_state) > 0
  if len(pred) < 3:
    return dict.fromkeys(
        ("count", "accel_error", "pred_accel", "gt_accel"), 0.0
    )
  second = lambda x: x[2:] - 2.0 * x[1:-1] + x[:-2]
  a_pred, a_gt = second(pred), second(gt)
  mask = known[2:] & known[1:-1] & known[:-2]
  norm = lambda x: np.linalg.norm(x, axis=-1)[mask].sum()
  return {
      "count": float(mask.sum()),
      "accel_error": float(norm(a_pred - a_gt)),
      "pred_accel": float(norm(a_pred)),
      "gt_accel": float(norm(a_gt)),
  }


def occlusion_ends(tracking_state, min_occluded: int = 3) -> list:
  """Where joints become visible again after a full occlusion.

  Args:
    tracking_state: [N, J].
    min_occluded: shortest run of consecutive occluded (state 1) frames that
      counts as an occlusion.

  Returns:
    (joint, t) pairs, t the first visible (state 2) frame right after a run
    of >= `min_occluded` occluded frames; sorted by joint, then t.
  """
  state = np.asarray(tracking_state)
  ends = []
  for j in range(state.shape[1]):
    occluded = np.concatenate([[0], state[:, j] == _INFERRED, [0]]).astype(int)
    change = np.diff(occluded)
    starts, stops = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    for start, stop in zip(starts, stops):
      if stop - start >= min_occluded and stop < len(state):
        if state[stop, j] == _TRACKED:
          ends.append((j, int(stop)))
  return ends


def recovery_frames(errors: dict, ends, horizon: int = 30) -> list:
  """Frames until each joint is found again after an occlusion ends.

  Args:
    errors: from `joint_errors`.
    ends: from `occlusion_ends`.
    horizon: frames to wait; a joint not within PCK_JOINT_THRESHOLD torso of
      the ground truth at any of frames t .. t + horizon - 1 is never
      recovered and counts as `horizon`.

  Returns:
    Per end: k >= 0 (recovered at frame t + k), `horizon` (never recovered),
    or None (censored: the video or its ground truth stops before either
    is decided).
  """
  normalised, valid = errors["normalised"], errors["all"]
  n = len(normalised)
  out = []
  for j, t in ends:
    window = slice(t, min(t + horizon, n))
    hit = valid[window, j] & (normalised[window, j] <= PCK_JOINT_THRESHOLD)
    if hit.any():
      out.append(int(np.argmax(hit)))
    elif t + horizon <= n:
      out.append(horizon)
    else:
      out.append(None)
  return out


def video_sums(
    pred,
    gt,
    tracking_state,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    min_occluded: int = 3,
    horizon: int = 30,
    window: tuple[int, int] = (-10, 20),
) -> dict:
  """One video's additive sums for `finalize`.

  Args:
    pred: [N, J, 2] predicted keypoints, pixels.
    gt: [N, J, 2] ground truth, pixels.
    tracking_state: [N, J].
    thresholds: PCK thresholds (torso fractions) reported by name.
    min_occluded: see `occlusion_ends`.
    horizon: see `recovery_frames`.
    window: first and last offset, inclusive, of the error-over-time curve
      around occlusion ends (0 = the first visible frame).

  Returns:
    A flat dict of float64 scalars and arrays, all of them sums or counts;
    `merge` adds two.
  """
  pred, gt = np.asarray(pred), np.asarray(gt)
  state = np.asarray(tracking_state)
  if not pred.shape == gt.shape == (*state.shape, 2):
    raise ValueError(
        f"Shapes disagree: pred {pred.shape}, gt {gt.shape}, tracking_state "
        f"{state.shape}; expected [N, J, 2], [N, J, 2], [N, J]."
    )
  err = joint_errors(pred, gt, state)
  sums = {"videos": 1.0, "frames": float(len(pred))}
  for name in SUBSETS:
    mask = err[name]
    sums[f"{name}/count"] = float(mask.sum())
    sums[f"{name}/pixel_error"] = float(err["pixel"][mask].sum())
    sums[f"{name}/normalised_error"] = float(err["normalised"][mask].sum())
    sums[f"{name}/hits"] = _hits(err["normalised"], mask, thresholds)
    sums[f"{name}/curve_hits"] = _hits(err["normalised"], mask, PCK_GRID)
    sums[f"{name}/joint_count"] = mask.sum(0).astype(np.float64)
    sums[f"{name}/joint_hits"] = (
        mask & (err["normalised"] <= PCK_JOINT_THRESHOLD)
    ).sum(0, dtype=np.float64)
  for k, v in acceleration_sums(pred, gt, state).items():
    sums[f"jitter/{k}"] = v

  ends = occlusion_ends(state, min_occluded)
  # Histogram of recovery frames 0 .. horizon, the last bin "never": the
  # median stays exact without keeping every event.
  histogram = np.zeros(horizon + 1)
  censored = 0
  for k in recovery_frames(err, ends, horizon):
    if k is None:
      censored += 1
    else:
      histogram[k] += 1
  sums["recovery/histogram"] = histogram
  sums["recovery/censored"] = float(censored)

  offsets = np.arange(window[0], window[1] + 1)
  around_sum, around_count = np.zeros(len(offsets)), np.zeros(len(offsets))
  for j, t in ends:
    frames = t + offsets
    inside = (frames >= 0) & (frames < len(pred))
    frames = np.where(inside, frames, 0)
    ok = inside & err["all"][frames, j]
    around_sum += np.where(ok, err["normalised"][frames, j], 0.0)
    around_count += ok
  sums["around_end/offsets"] = offsets  # not a sum: `merge` keeps it
  sums["around_end/error"] = around_sum
  sums["around_end/count"] = around_count
  sums["config/thresholds"] = np.asarray(thresholds, np.float64)
  sums["config/min_occluded"] = float(min_occluded)
  sums["config/horizon"] = float(horizon)
  return sums


def merge(a: Mapping | None, b: Mapping) -> dict:
  """The sums of two sets of videos (a may be None: the empty set)."""
  if a is None:
    return dict(b)
  if a.keys() != b.keys():
    raise ValueError("Cannot merge sums with different keys.")
  out = {}
  for k in a:
    if k.startswith("config/") or k == "around_end/offsets":
      if not np.array_equal(a[k], b[k]):
        raise ValueError(f"Cannot merge sums computed with different {k}.")
      out[k] = a[k]
    else:
      out[k] = a[k] + b[k]
  return out


def _ratio(num, den):
  """num / den as JSON-ready floats; None where den is 0."""
  num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
  with np.errstate(divide="ignore", invalid="ignore"):
    r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
  if r.ndim == 0:
    return None if np.isnan(r) else float(r)
  return [None if np.isnan(x) else float(x) for x in r]


def finalize(sums: Mapping) -> dict:
  """The metrics of accumulated sums, as JSON-ready data.

  Returns:
    {'num_videos', 'num_frames',
     'all' | 'visible' | 'occluded': {'count', 'pixel_error' (mean px),
       'normalised_error' (mean, torso), 'pck@<thr>' ..., 'pck_curve' [51],
       'pck_auc', 'per_joint_pck@0.2' {joint name: PCK or None}},
     'pck_curve_thresholds': PCK_GRID,
     'jitter': {'count', 'accel_error_px', 'pred_accel_px', 'gt_accel_px'},
     'recovery': {'events', 'mean_frames', 'median_frames', 'recovered',
       'never_recovered', 'censored', 'horizon', 'min_occluded',
       'threshold'},
     'around_occlusion_end': {'offsets', 'mean_normalised_error', 'count'}}
    Means over nothing are None. Recovery means and medians count a joint
    that never recovers as `horizon` frames; censored events (the video
    ends first) are left out.
  """
  thresholds = sums["config/thresholds"]
  out = {"num_videos": int(sums["videos"]), "num_frames": int(sums["frames"])}
  for name in SUBSETS:
    count = sums[f"{name}/count"]
    curve = _ratio(sums[f"{name}/curve_hits"], count)
    res = {
        "count": int(count),
        "pixel_error": _ratio(sums[f"{name}/pixel_error"], count),
        "normalised_error": _ratio(sums[f"{name}/normalised_error"], count),
    }
    for thr, value in zip(thresholds, _ratio(sums[f"{name}/hits"], count)):
      res[f"pck@{thr:g}"] = value
    res["pck_curve"] = curve
    res["pck_auc"] = None if count == 0 else curve_auc(curve)
    per_joint = _ratio(sums[f"{name}/joint_hits"], sums[f"{name}/joint_count"])
    res[f"per_joint_pck@{PCK_JOINT_THRESHOLD:g}"] = dict(
        zip(skeleton.JOINT_NAMES, per_joint)
    )
    out[name] = res
  out["pck_curve_thresholds"] = [float(t) for t in PCK_GRID]

  count = sums["jitter/count"]
  out["jitter"] = {
      "count": int(count),
      "accel_error_px": _ratio(sums["jitter/accel_error"], count),
      "pred_accel_px": _ratio(sums["jitter/pred_accel"], count),
      "gt_accel_px": _ratio(sums["jitter/gt_accel"], count),
  }

  histogram = sums["recovery/histogram"]
  horizon = int(sums["config/horizon"])
  events = int(histogram.sum())
  frames = np.repeat(np.arange(horizon + 1), histogram.astype(np.int64))
  out["recovery"] = {
      "events": events,
      "mean_frames": float(frames.mean()) if events else None,
      "median_frames": float(np.median(frames)) if events else None,
      "recovered": int(histogram[:-1].sum()),
      "never_recovered": int(histogram[-1]),
      "censored": int(sums["recovery/censored"]),
      "horizon": horizon,
      "min_occluded": int(sums["config/min_occluded"]),
      "threshold": PCK_JOINT_THRESHOLD,
  }
  out["around_occlusion_end"] = {
      "offsets": [int(o) for o in sums["around_end/offsets"]],
      "mean_normalised_error": _ratio(
          sums["around_end/error"], sums["around_end/count"]
      ),
      "count": [int(c) for c in sums["around_end/count"]],
  }
  return out


class VideoMetrics:
  """Accumulates `video_sums` over videos; `result()` finalises.

  Usage:
    acc = VideoMetrics()
    for pred, gt, state in videos:
      acc.add(pred, gt, state)
    metrics = acc.result()
  """

  def __init__(
      self,
      thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
      min_occluded: int = 3,
      horizon: int = 30,
      window: tuple[int, int] = (-10, 20),
  ):
    self._options = dict(
        thresholds=tuple(thresholds),
        min_occluded=min_occluded,
        horizon=horizon,
        window=window,
    )
    self.sums = None

  def add(self, pred, gt, tracking_state) -> dict:
    """Adds one video; returns its own sums."""
    sums = video_sums(pred, gt, tracking_state, **self._options)
    self.sums = merge(self.sums, sums)
    return sums

  def result(self) -> dict:
    if self.sums is None:
      raise ValueError("No video was added.")
    return finalize(self.sums)
