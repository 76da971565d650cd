"""The tracked streaming loop: crop the person, find the joints, follow them.

An app runs `make_tracked_step` once per frame. The first frame (and every
frame after tracking is judged lost) is the whole frame letterboxed into the
model's input; every next ROI comes from the current keypoints
(`roi.next_roi`). The recurrent state lives on the ROI's grid, so when the
ROI moves or rescales, the step brings the state onto the next ROI's grid
(`roi.warp_grid`) before handing it back: the app only crops.

`rollout` runs the same loop over a whole video in one `lax.scan`, cropping
with `roi.crop` (the training pipeline crops with TensorFlow's projective
transform; a test holds the two equal).
"""

from typing import Callable

import jax
import jax.numpy as jnp

from bodypose_jax import models
from bodypose_jax import roi
from bodypose_jax import streaming


def tracks(config) -> bool:
  """Whether `config`'s model follows the person (its crops come from ROIs)
  or looks at the whole frame every frame."""
  return config.input.crop.mode == "roi"


def make_tracked_step(
    model: models.PoseNet,
    variables,
    modality: str,
    config,
    fmt: streaming.StateFormat,
) -> Callable:
  """The tracked step as a pure function.

  Returns:
    step(crop, roi, frame_hw, *state, next_roi=None) -> dict with
      keypoints [1, J, 2] and confidences [1, J] in frame pixels;
      next_roi [1, 3], the ROI to crop the next frame with (`next_roi` when
      given: an oracle's or a fixed one); lost [1] whether tracking was
      judged lost; and `state_<name>` on the next ROI's grid, in `fmt`.
    crop is [1, h, w, C] in sensor units, cut from the frame by `roi` [1, 3];
    frame_hw is [2] (height, width) of the frame in pixels.
  """
  input_hw = tuple(config.input.input_size)
  core = streaming.make_step(model, variables, modality, config.input, fmt)
  names = tuple(f"state_{n}" for n in fmt.names)
  warp = config.model.warp_state

  def step(crop_, roi_, frame_hw, *state, next_roi=None):
    out = core(crop_, *state)
    keypoints = roi.to_frame(out["keypoints"], roi_, input_hw)
    fitted, lost = roi.next_roi(keypoints, out["confidences"], roi_,
                                (frame_hw[0], frame_hw[1]), input_hw,
                                config.tracking, jnp)
    if next_roi is None:
      next_roi = fitted if tracks(config) else roi_
    new_state = tuple(out[k] for k in names)
    if warp:
      new_state = fmt.encode([
          roi.warp_grid(x, roi_, next_roi, input_hw, model.cell_stride, jnp)
          for x in fmt.decode(new_state)
      ])
    return {
        "keypoints": keypoints,
        "confidences": out["confidences"],
        "next_roi": next_roi,
        "lost": lost,
        **dict(zip(names, new_state)),
    }

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
