"""A library of NTU RGB+D actions as joint-angle trajectories.

Each motion maps the phase s [T] in [0, 1] (plus a random amplitude and a
number of repetitions) to the pose parameters of `body_model.POSE_DEFAULTS`
it changes. Two-person actions (NTU's 50-60) give one trajectory per person;
the pair stand `gap` metres apart facing each other.
"""

import dataclasses
from typing import Callable, Optional

import numpy as np


def _bump(s, center, width):
  """Raised cosine: 1 at `center`, 0 beyond `width` away."""
  x = np.clip((s - center) / width, -1.0, 1.0)
  return 0.5 * (1.0 + np.cos(np.pi * x))


def _ramp(s, start, end):
  """Smoothly 0 before `start` to 1 after `end`."""
  x = np.clip((s - start) / (end - start), 0.0, 1.0)
  return x * x * (3.0 - 2.0 * x)


def _hold(s, rise=0.25, fall=0.75):
  """Smoothly 0 -> 1 over [0, rise], 1, then 1 -> 0 over [fall, 1]."""
  return np.minimum(_ramp(s, 0.0, rise), 1.0 - _ramp(s, fall, 1.0))


def _both(**angles):
  """{'elbow': x} -> {'elbow_l': x, 'elbow_r': x}."""
  return {f'{k}_{side}': v for k, v in angles.items() for side in 'lr'}


def _drink_water(s, amp, cycles):
  sip = np.maximum(_hold(s, 0.3, 0.75), 0.0)
  tilt = sip * (0.7 + 0.3 * np.cos(2.0 * np.pi * cycles * s))
  return {'sh_pitch_r': 35.0 * sip, 'sh_abd_r': 10.0 + 10.0 * sip,
          'elbow_r': 10.0 + 120.0 * amp ** 0.3 * sip,
          'head_pitch': -12.0 * tilt}


def _pick_up(s, amp, cycles):
  del cycles  # One pick-up per sample.
  down = np.minimum(amp, 1.0) * _hold(s, 0.4, 0.65)
  return {'spine_bend': 65.0 * down, **_both(hip_pitch=35.0 * down,
                                             knee=45.0 * down),
          'sh_pitch_r': 75.0 * down, 'sh_pitch_l': 40.0 * down,
          'elbow_r': 10.0 + 10.0 * down, 'head_pitch': 15.0 * down,
          'feet_anchor': 1.0 + 0.0 * s}


def _seated(x, lean):
  """Pose from standing (x = 0) to seated on a chair (x = 1)."""
  return {**_both(hip_pitch=88.0 * x, knee=88.0 * x, sh_pitch=25.0 * x,
                  elbow=10.0 + 35.0 * x),
          'spine_bend': 30.0 * lean - 5.0 * x, 'feet_anchor': 1.0 + 0.0 * x}


def _sit_down(s, amp, cycles):
  del amp, cycles
  return _seated(_ramp(s, 0.15, 0.65), _bump(s, 0.4, 0.25))


def _stand_up(s, amp, cycles):
  del amp, cycles
  return _seated(1.0 - _ramp(s, 0.3, 0.8), _bump(s, 0.5, 0.25))


def _clapping(s, amp, cycles):
  swing = 5.0 + 20.0 * amp * np.cos(2.0 * np.pi * cycles * s)
  up = _hold(s, 0.15, 0.85)
  return _both(sh_pitch=80.0 * up, sh_abd=10.0 + (swing - 10.0) * up,
               elbow=10.0 + 15.0 * up)


def _put_on_hat(s, amp, cycles):
  del cycles
  up = _hold(s, 0.35, 0.75)
  return {**_both(sh_pitch=60.0 * up, sh_abd=10.0 + 45.0 * amp * up,
                  elbow=10.0 + 125.0 * up), 'head_pitch': 12.0 * up}


def _hand_waving(s, amp, cycles):
  up = _hold(s, 0.2, 0.85)
  wave = 35.0 + 30.0 * amp * np.sin(2.0 * np.pi * cycles * s)
  return {'sh_pitch_r': 15.0 * up, 'sh_abd_r': 10.0 + 125.0 * up,
          'elbow_r': 10.0 + (wave - 10.0) * up}


def _kicking(s, amp, cycles):
  del cycles  # One kick per sample.
  arms = 10.0 + 15.0 * _bump(s, 0.55, 0.35)
  return {'hip_pitch_r': 75.0 * amp * _bump(s, 0.55, 0.3),
          'knee_r': 80.0 * _bump(s, 0.4, 0.25), **_both(sh_abd=arms)}


def _jump_up(s, amp, cycles):
  del cycles  # One jump per sample.
  crouch = _bump(s, 0.3, 0.18) + _bump(s, 0.72, 0.15)
  return {**_both(hip_pitch=55.0 * crouch, knee=80.0 * crouch,
                  sh_pitch=100.0 * _bump(s, 0.5, 0.2)),
          'spine_bend': 20.0 * crouch, 'lift': 0.22 * amp * _bump(s, 0.5, 0.13),
          'feet_anchor': 1.0 + 0.0 * s}


def _pointing(s, amp, cycles):
  del cycles  # One gesture per sample.
  up = _hold(s, 0.3, 0.8)
  return {'sh_pitch_r': 85.0 * amp * up, 'sh_abd_r': 10.0 + 15.0 * up,
          'elbow_r': 5.0 + 0.0 * s}


def _squat_down(s, amp, cycles):
  del cycles  # One squat per sample.
  down = np.minimum(amp, 1.0) * _hold(s, 0.4, 0.7)
  return {**_both(hip_pitch=95.0 * down, knee=115.0 * down,
                  sh_pitch=70.0 * down),
          'spine_bend': 30.0 * down, 'feet_anchor': 1.0 + 0.0 * s}


def _pusher(s, amp, cycles):
  del cycles
  reach = _hold(s, 0.3, 0.8)
  extend = _ramp(s, 0.45, 0.55)
  return {**_both(sh_pitch=80.0 * reach, sh_abd=10.0 - 15.0 * reach,
                  elbow=10.0 + 100.0 * reach * (1.0 - extend)),
          'step': 0.15 * amp * extend, 'spine_bend': 10.0 * reach}


def _pushed(s, amp, cycles):
  del cycles
  back = _ramp(s, 0.5, 0.75)
  return {'step': -0.35 * amp * back, 'spine_bend': -12.0 * _bump(s, 0.58, 0.12),
          **_both(sh_pitch=25.0 * _bump(s, 0.6, 0.2))}


def _hugger(s, amp, cycles):
  del cycles
  close = _hold(s, 0.3, 0.75)
  return {'step': 0.2 * close, **_both(sh_pitch=75.0 * close,
                                      sh_abd=10.0 + 25.0 * amp * close,
                                      elbow=10.0 + 70.0 * close)}


def _hand_shaker(s, amp, cycles):
  close = _hold(s, 0.25, 0.8)
  shake = 8.0 * amp * np.sin(2.0 * np.pi * cycles * s) * close
  return {'step': 0.12 * close, 'sh_pitch_r': 45.0 * close + shake,
          'sh_abd_r': 10.0 - 25.0 * close, 'elbow_r': 10.0 + 40.0 * close}


@dataclasses.dataclass(frozen=True)
class Motion:
  """An action's trajectory.

  Attributes:
    name: NTU's label.
    performer: (s, amp, cycles) -> pose dict of the performer.
    partner: the same for the second person of an interaction, else None.
    gap: metres between the two people's spine bases at rest.
    chair: whether the performer sits on a chair (placed under their seated
      hips).
  """
  name: str
  performer: Callable[..., dict]
  partner: Optional[Callable[..., dict]] = None
  gap: float = 0.0
  chair: bool = False


# NTU-120 action IDs (1-based) -> motions.
MOTIONS = {
    1: Motion('drink water', _drink_water),
    6: Motion('pickup', _pick_up),
    8: Motion('sitting down', _sit_down, chair=True),
    9: Motion('standing up (from sitting position)', _stand_up, chair=True),
    10: Motion('clapping', _clapping),
    20: Motion('put on a hat/cap', _put_on_hat),
    23: Motion('hand waving', _hand_waving),
    24: Motion('kicking something', _kicking),
    27: Motion('jump up', _jump_up),
    31: Motion('pointing to something with finger', _pointing),
    52: Motion('pushing other person', _pusher, _pushed, gap=1.05),
    55: Motion('hugging other person', _hugger, _hugger, gap=0.95),
    58: Motion('handshaking', _hand_shaker, _hand_shaker, gap=1.3),
    80: Motion('squat down', _squat_down),
}
ACTIONS = {action: motion.name for action, motion in MOTIONS.items()}
