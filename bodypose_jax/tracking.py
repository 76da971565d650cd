"""The tracked streaming loop: crop the person, find the joints, follow them.

An app runs `make_tracked_step` once per frame. The first frame (and every
frame after tracking is judged lost) is the whole frame letterboxed into the
model's input; every next ROI comes from the current keypoints
(`roi.next_roi`). The recurrent state lives on the ROI's grid, so when the
ROI moves or rescales, the step brings the state onto the next ROI's grid
(`roi.warp_grid`) before handing it back: the app only crops.

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

from bodypose_jax import models
from bodypose_jax import roi
from bodypose_jax import streaming


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
      out.update(zip(names, fmt.encode([
          roi.warp_grid(x, roi_, next_roi, input_hw, cell_stride, jnp)
          for x in fmt.decode(state)
      ])))
    return out

  return track


def make_tracked_step(
    model: models.PoseNet,
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
            nearest: bool, rois=None):
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

  Returns:
    The step's outputs stacked over the N frames, and the roi of each frame
    under 'roi' [N, 1, 3].
  """
  names = tuple(f"state_{n}" for n in fmt.names)
  frame_hw = jnp.asarray(frames.shape[1:3], jnp.float32)

  def body(carry, xs):
    roi_, state = carry
    frame, next_given = xs
    c = roi.crop(frame, roi_[0], input_hw, nearest, jnp)[None]
    out = step(c, roi_, frame_hw, *state,
               next_roi=None if rois is None else next_given[None])
    return (out["next_roi"], tuple(out[k] for k in names)), {**out,
                                                             "roi": roi_}

  if rois is None:
    following = jnp.zeros((frames.shape[0], 3), jnp.float32)
  else:
    following = rois[1:]
  first = first_roi[None] if rois is None else rois[:1]
  _, outs = jax.lax.scan(body, (first, tuple(state)), (frames, following))
  return outs


class HostTracker:
  """The tracked loop around an exported model, as an app runs it.

  Per frame: crop the frame to the ROI (the whole frame first), run the
  model's `step` on the crop, then its `track` signature, which maps the
  keypoints to frame pixels, decides the next ROI and brings the state onto
  it. The host only crops, so evaluating or demoing a model exercises the
  tracker that ships inside it.

  Attributes:
    roi: the ROI the next frame is cropped with (None before the first).
    model_seconds: how long the last frame's `step` and `track` took.
    nearest: whether crops sample the nearest pixel (depth) or bilinear.
  """

  def __init__(self, model):
    """model: a `tflite_model.StreamingModel` with a `track` signature."""
    self._model = model
    self.nearest = model.sidecar["input"]["modality"] == "depth"
    self.roi = None
    self.model_seconds = 0.0

  @property
  def input_hw(self):
    return self._model.input_hw

  def reset(self):
    """A new video: the zero state, and the whole frame first."""
    self._model.reset()
    self.roi = None

  def __call__(self, frame, crop_fn: Callable | None = None) -> dict:
    """Runs one frame [H, W, C] (sensor units).

    Args:
      frame: the whole camera frame.
      crop_fn: fn(frame, roi) -> [h, w, C] float32 crop; default `roi.crop`.

    Returns:
      keypoints [J, 2] in frame pixels and confidences [J], the frame's roi
      [3], lost (whether the next frame starts from the whole frame again)
      and the model's heatmaps [gh, gw, J] on the crop.
    """
    frame_hw = frame.shape[:2]
    if self.roi is None:
      self.roi = roi.whole_frame(frame_hw, self.input_hw).astype(np.float32)
    current = self.roi
    if crop_fn is None:
      crop = roi.crop(frame, current, self.input_hw, self.nearest)
    else:
      crop = crop_fn(frame, current)
    tick = time.perf_counter()
    out = self._model(crop)
    tracked = self._model.track(out["keypoints"], out["confidences"],
                                current, frame_hw)
    self.model_seconds = time.perf_counter() - tick
    self.roi = tracked["next_roi"]
    return {"keypoints": tracked["keypoints"],
            "confidences": out["confidences"], "roi": current,
            "lost": tracked["lost"], "heatmaps": out["heatmaps"]}
