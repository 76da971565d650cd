"""The tracked streaming loop: crop the person, find the joints, follow them.

An app runs `make_tracked_step` once per frame. The first frame (and every
frame after tracking is judged lost) is the whole frame letterboxed into the
model's input; every next ROI comes from the current keypoints
(`roi.next_roi`). The recurrent state lives on the ROI's grid, so when the
ROI moves or rescales, the step brings the state onto the next ROI's grid
(`roi.warp_grid`) before handing it back: the app only crops.

A whole-frame view is good enough to find the person, not to place joints
(at the input's size the person is small), so with
`config.tracking.refine_whole_frame` such a frame gets a double take, as a
detector hands a landmark model its box: the step runs again on the same
frame cropped to the ROI the first pass found, from the state that came into
the frame moved onto that ROI, and the second pass gives the frame's pose,
next ROI and state. A first pass that judges the frame lost is kept.

The tracked step is the streaming step followed by `make_track`, the
tracker alone; the export converts the two apart (`step` and `track`
signatures), so that the tracker stays float32 when the step is int8, and
`HostTracker` runs them around the host's crop as an app does.

`rollout` runs the same loop over a whole video in one `lax.scan`, cropping
with `roi.crop` (the training pipeline crops with TensorFlow's projective
transform; a test holds the two equal).
"""

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bodypose_jax.data import roi
from bodypose_jax.deploy import one_euro as one_euro_lib
from bodypose_jax.deploy import streaming
from bodypose_jax.model import pose_net


def tracks(config) -> bool:
  """Whether `config`'s model follows the person (its crops come from ROIs)
  or looks at the whole frame every frame."""
  return config.input.crop.mode == "roi"


def oracle_rois(joints, tracking_state, frame_hw, config):
  """[N, 3] ROIs of a perfect tracker: each frame's bounds the previous
  frame's ground truth (frame 0: its own), by the training pipeline's rule;
  frames with no reference joint, and models that see the whole frame, get
  the whole frame.

  Args:
    joints: [N, J, 2] ground truth in frame pixels.
    tracking_state: [N, J].
    frame_hw: (H, W) of the frames.
    config: the run's config.
  """
  input_hw = tuple(config.input.input_size)
  whole = roi.whole_frame(frame_hw, input_hw)
  n = len(joints)
  if not tracks(config):
    return np.tile(whole, (n, 1)).astype(np.float32)
  cfg = config.input.crop
  fitted, has_reference = roi.follow_previous(
      joints, tracking_state > 0, frame_hw, input_hw, cfg.margin,
      cfg.min_height_fraction)
  return np.where(has_reference[:, None], fitted, whole).astype(np.float32)


def crop_video(frames, rois, input_hw, nearest: bool):
  """Each frame [N, H, W, C] cropped to its ROI [N, 3]: [N, h, w, C]."""
  crop = jax.jit(jax.vmap(
      lambda f, r: roi.crop(f, r, input_hw, nearest, jnp)))
  return np.asarray(crop(frames, rois))


def moves_state(config, fmt: streaming.StateFormat) -> bool:
  """Whether the tracker brings the state onto the next ROI's grid: models
  that follow the person and warp a state they have. A whole-frame model's
  grid never moves."""
  return tracks(config) and bool(config.model.warp_state) and bool(fmt.names)


def refines(config) -> bool:
  """Whether whole-frame views get a double take: models that follow the
  person, with `tracking.refine_whole_frame` (a whole-frame model sees every
  frame whole, and at one scale)."""
  return tracks(config) and bool(config.tracking.refine_whole_frame)


def make_move_state(config, cell_stride: int, fmt: streaming.StateFormat
                    ) -> Callable:
  """fn(state, roi_from [1, 3], roi_to [1, 3]) -> the state (a tuple in
  `fmt`) on `roi_to`'s grid, as `make_track` moves it; unchanged when
  `moves_state(config, fmt)` is False (int8 states are decoded, warped and
  encoded again)."""
  input_hw = tuple(config.input.input_size)
  if not moves_state(config, fmt):
    return lambda state, roi_from, roi_to: tuple(state)

  def move(state, roi_from, roi_to):
    return tuple(fmt.encode([
        roi.warp_grid(x, roi_from, roi_to, input_hw, cell_stride, jnp)
        for x in fmt.decode(state)
    ]))

  return move


def make_refine(config, cell_stride: int, fmt: streaming.StateFormat
                ) -> Callable | None:
  """`rollout`'s `refine`: the state mover when whole-frame views get the
  double take (`refines(config)`), else None (one pass per frame)."""
  if not refines(config):
    return None
  return make_move_state(config, cell_stride, fmt)


def make_track(config, cell_stride: int, fmt: streaming.StateFormat
               ) -> Callable:
  """The tracker's half of the tracked step, after the model: a pure
  function of the step's outputs, exported as the `track` signature.

  Args:
    config: the run's config (`input.input_size`, `tracking`, the crop mode,
      `model.warp_state`).
    cell_stride: input pixels per cell of the recurrent state's grid.
    fmt: the state's boundary format (int8 states are decoded, warped and
      encoded again with the same fixed scales).

  Returns:
    track(keypoints, confidences, roi, frame_hw, *state, next_roi=None)
    -> dict with keypoints [1, J, 2] in frame pixels; next_roi [1, 3] (the
    tracker's, or `next_roi` when given: an oracle's); lost [1] bool, whether
    the mean confidence fell below `tracking.lost_threshold` (next_roi is
    then the whole frame); and, when `moves_state(config, fmt)`, one
    `state_<name>` per state tensor on next_roi's grid, in `fmt`.
    keypoints [1, J, 2] are the step's, in input pixels of the crop of `roi`
    [1, 3]; confidences [1, J]; frame_hw [2] (height, width) of the frame in
    pixels; state is given exactly when `moves_state`.
  """
  input_hw = tuple(config.input.input_size)
  names = tuple(f"state_{n}" for n in fmt.names)
  follows, moves = tracks(config), moves_state(config, fmt)
  move = make_move_state(config, cell_stride, fmt)

  def track(keypoints, confidences, roi_, frame_hw, *state, next_roi=None):
    frame_hw = (frame_hw[0], frame_hw[1])
    keypoints = roi.to_frame(keypoints, roi_, input_hw)
    fitted, lost = roi.next_roi(keypoints, confidences, roi_, frame_hw,
                                input_hw, config.tracking, jnp)
    if next_roi is None:
      # A whole-frame model's next ROI is the whole frame, of this frame.
      next_roi = fitted if follows else jnp.broadcast_to(
          roi.whole_frame(frame_hw, input_hw, jnp), roi_.shape)
    out = {"keypoints": keypoints, "next_roi": next_roi, "lost": lost}
    if moves:
      out.update(zip(names, move(state, roi_, next_roi)))
    return out

  return track


def make_tracked_step(
    model: pose_net.PoseNet,
    variables,
    modality: str,
    config,
    fmt: streaming.StateFormat,
) -> Callable:
  """The tracked step as a pure function: the streaming step, then `track`.

  Returns:
    step(crop, roi, frame_hw, *state, next_roi=None) -> dict with
      keypoints [1, J, 2] and confidences [1, J] in frame pixels;
      next_roi [1, 3], the ROI to crop the next frame with (`next_roi` when
      given: an oracle's or a fixed one); lost [1] whether tracking was
      judged lost; and `state_<name>` on the next ROI's grid, in `fmt`.
    crop is [1, h, w, C] in sensor units, cut from the frame by `roi` [1, 3];
    frame_hw is [2] (height, width) of the frame in pixels.
  """
  core = streaming.make_step(model, variables, modality, config.input, fmt)
  track = make_track(config, model.cell_stride, fmt)
  names = tuple(f"state_{n}" for n in fmt.names)
  moves = moves_state(config, fmt)

  def step(crop_, roi_, frame_hw, *state, next_roi=None):
    out = core(crop_, *state)
    new_state = tuple(out[k] for k in names)
    tracked = track(out["keypoints"], out["confidences"], roi_, frame_hw,
                    *(new_state if moves else ()), next_roi=next_roi)
    return {**dict(zip(names, new_state)), **tracked,
            "confidences": out["confidences"]}

  return step


def rollout(step: Callable, fmt, frames, first_roi, state, input_hw,
            nearest: bool, rois=None, refine: Callable | None = None,
            first_whole=True):
  """Runs the tracked step over a video, as one scan.

  Args:
    step: from `make_tracked_step`.
    fmt: its StateFormat.
    frames: [N, H, W, C] whole frames in sensor units.
    first_roi: [3] the first frame's ROI (the whole frame for a stream's
      start, or where an earlier chunk left off).
    state: the state on `first_roi`'s grid.
    input_hw: the model's input size.
    nearest: nearest-neighbour crops (depth) instead of bilinear.
    rois: [N + 1, 3] to crop every frame with these instead of the
      tracker's own (oracle ROIs), the last one for the frame after the
      video; the state is still warped from each to the next.
    refine: `make_refine`'s state mover, to give every whole-frame view a
      double take; None: one pass per frame. Oracle
      ROIs (`rois`) are never refined.
    first_whole: [] bool, whether `first_roi` is a whole-frame view: a
      stream's start, or a chunk after one whose last frame was lost.

  Returns:
    The step's outputs stacked over the N frames, and the roi of each frame
    under 'roi' [N, 1, 3]: the ROI of the crop that gave the frame's
    keypoints (on a double take, the one the first pass found).
  """
  names = tuple(f"state_{n}" for n in fmt.names)
  frame_hw = jnp.asarray(frames.shape[1:3], jnp.float32)
  refine = None if rois is not None else refine

  def take(frame, roi_, state, next_given):
    c = roi.crop(frame, roi_[0], input_hw, nearest, jnp)[None]
    return {**step(c, roi_, frame_hw, *state, next_roi=next_given),
            "roi": roi_}

  def body(carry, xs):
    roi_, state, whole = carry
    frame, next_given = xs
    out = take(frame, roi_, state,
               None if rois is None else next_given[None])
    if refine is not None:
      # A cond, not a select: the second pass runs on whole-frame views
      # only. Its state is the one that came into the frame: the first
      # pass's saw another view of it.
      found = out["next_roi"]
      out = jax.lax.cond(
          whole & ~out["lost"][0],
          lambda: take(frame, found, refine(state, roi_, found), None),
          lambda: out)
    # A lost frame hands the next one the whole frame.
    return (out["next_roi"], tuple(out[k] for k in names),
            out["lost"][0]), out

  if rois is None:
    following = jnp.zeros((frames.shape[0], 3), jnp.float32)
  else:
    following = rois[1:]
  first = first_roi[None] if rois is None else rois[:1]
  carry = (first, tuple(state), jnp.asarray(first_whole, bool))
  _, outs = jax.lax.scan(body, carry, (frames, following))
  return outs


class HostTracker:
  """The tracked loop around an exported model, as an app runs it.

  Per frame: crop the frame to the ROI (the whole frame first), run the
  model's `step` on the crop, then its `track` signature, which maps the
  keypoints to frame pixels, decides the next ROI and brings the state onto
  it. When the sidecar's `tracking.refine_whole_frame` says so, a
  whole-frame view that is not lost gets the double take: `track` again
  with the state that came into the frame (moving it onto the ROI found),
  then `step` and `track` on the frame cropped to that ROI (the sidecar's
  `app_loop`). The host only crops, so evaluating or demoing a model
  exercises the tracker that ships inside it.

  With a One-Euro filter (`one_euro`), the keypoints it reports are
  filtered (`one_euro.step`, restarting on every whole-frame view); the ROI
  still comes from the raw keypoints inside `track`. The ROI must not lag:
  it has to hold the person in the next crop, and training taught the model
  crops that bound the previous frame's true pose (with noise), not a
  smoothed one trailing a fast limb; a filtered ROI would also make the
  model's inputs, and so its output, depend on the display's settings.

  Attributes:
    roi: the ROI the next frame is cropped with (None before the first).
    model_seconds: how long the last frame's `step` and `track` calls took
      (both passes of a double take, not the crop between them).
    nearest: whether crops sample the nearest pixel (depth) or bilinear.
    refine: whether whole-frame views get the double take.
    one_euro: the filter's `one_euro.Params`, or None (raw keypoints).
    fps: the frame rate the filter assumes when given no timestamps.
  """

  def __init__(self, model, one_euro: "one_euro_lib.Params | None" = None,
               fps: float = 30.0):
    """model: a `tflite_model.StreamingModel` with a `track` signature;
    one_euro: filter the reported keypoints with these settings (None: as
    they come); fps: the frame rate, when `__call__` is given no
    timestamps."""
    self._model = model
    self.nearest = model.sidecar["input"]["modality"] == "depth"
    tracking_meta = model.sidecar.get("tracking", {})
    # Sidecars written before the double take existed describe a loop
    # without it.
    self.refine = bool(tracking_meta.get("refine_whole_frame", False))
    self.one_euro = one_euro
    self.fps = float(fps)
    # The filter's object scale counts the joints the tracker's ROI does.
    self._min_joint_confidence = float(tracking_meta.get("rule", {}).get(
        "min_joint_confidence", 0.0))
    self.roi = None
    self._whole = True
    self._filter = None
    self._last_time = None
    self.model_seconds = 0.0

  @property
  def input_hw(self):
    return self._model.input_hw

  def reset(self):
    """A new video: the zero state, and the whole frame first."""
    self._model.reset()
    self.roi = None
    self._whole = True
    self._filter = None
    self._last_time = None

  def _take(self, frame, roi_, crop_fn):
    """`step` on the frame cropped to `roi_`, then `track`: (the step's
    outputs, track's, the seconds the two took)."""
    if crop_fn is None:
      crop = roi.crop(frame, roi_, self.input_hw, self.nearest)
    else:
      crop = crop_fn(frame, roi_)
    tick = time.perf_counter()
    out = self._model(crop)
    tracked = self._model.track(out["keypoints"], out["confidences"], roi_,
                                frame.shape[:2])
    return out, tracked, time.perf_counter() - tick

  def __call__(self, frame, crop_fn: Callable | None = None,
               timestamp: float | None = None) -> dict:
    """Runs one frame [H, W, C] (sensor units).

    Args:
      frame: the whole camera frame.
      crop_fn: fn(frame, roi) -> [h, w, C] float32 crop; default `roi.crop`.
      timestamp: the frame's time in seconds, for the filter; None: 1 / fps
        after the previous frame.

    Returns:
      keypoints [J, 2] in frame pixels (filtered when `one_euro` is set)
      and confidences [J], raw_keypoints [J, 2] (the model's, which the
      tracker follows), the frame's roi [3] (of the crop that gave them: on
      a double take, the one found), lost (whether the next frame starts
      from the whole frame again) and the model's heatmaps [gh, gw, J] on
      that crop.
    """
    frame_hw = frame.shape[:2]
    if self.roi is None:
      self.roi = roi.whole_frame(frame_hw, self.input_hw).astype(np.float32)
    restart = self._whole  # a whole-frame view: the filter starts afresh
    current = self.roi
    incoming = dict(self._model.state)
    out, tracked, self.model_seconds = self._take(frame, current, crop_fn)
    if self.refine and self._whole and not tracked["lost"]:
      # The second pass starts from the state that came into the frame,
      # moved onto the ROI found: the first pass's saw the whole frame.
      found = tracked["next_roi"]
      self._model.state = incoming
      if self._model.track_state_names:
        tick = time.perf_counter()
        self._model.track(out["keypoints"], out["confidences"], current,
                          frame_hw)
        self.model_seconds += time.perf_counter() - tick
      current = found
      out, tracked, seconds = self._take(frame, current, crop_fn)
      self.model_seconds += seconds
    self.roi = tracked["next_roi"]
    self._whole = tracked["lost"]
    raw = np.asarray(tracked["keypoints"])
    keypoints = self._smooth(raw, np.asarray(out["confidences"]), restart,
                             timestamp)
    return {"keypoints": keypoints, "raw_keypoints": raw,
            "confidences": out["confidences"], "roi": current,
            "lost": tracked["lost"], "heatmaps": out["heatmaps"]}

  def _smooth(self, keypoints, confidences, restart, timestamp):
    """This frame's One-Euro output (as `one_euro.filter_video` gives it
    over the whole video); the keypoints as they are without a filter."""
    if self.one_euro is None:
      return keypoints
    dt = 1.0 / self.fps
    if timestamp is not None and self._last_time is not None:
      if timestamp > self._last_time:
        dt = timestamp - self._last_time
    self._last_time = timestamp
    if self._filter is None:
      self._filter = one_euro_lib.init(keypoints.shape[:-2],
                                       keypoints.shape[-2])
    scale = one_euro_lib.object_scale(
        keypoints, confidences >= self._min_joint_confidence)
    out, self._filter = one_euro_lib.step(self._filter, keypoints, scale, dt,
                                          self.one_euro, restart)
    return out
