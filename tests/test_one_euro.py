"""The One-Euro filter: steady when still, quick when moving, scale-free."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bodypose_jax import one_euro

FPS = 30.0
J = 3
# A person 400 px across: the joints' box is 400 x 400.
BODY = np.array([[0.0, 0.0], [400.0, 400.0], [200.0, 200.0]], np.float32)
MEDIAPIPE = one_euro.Params(min_cutoff=0.1, beta=40.0, d_cutoff=1.0)


def _run(track, params=MEDIAPIPE, lost=None, fps=FPS):
  """track: [N, J, 2]; full confidence."""
  n = len(track)
  lost = np.zeros(n, bool) if lost is None else lost
  return one_euro.filter_video(track, np.ones((n, J)), lost, fps, params)


def test_constant_signal_passes_unchanged():
  track = np.repeat(BODY[None] + 50.0, 40, axis=0)
  np.testing.assert_allclose(_run(track), track, atol=1e-4)


def test_first_frame_passes_and_a_step_converges():
  track = np.repeat(BODY[None], 90, axis=0)
  track[30:] += [[60.0, -20.0]]
  out = _run(track)
  np.testing.assert_array_equal(out[0], track[0])
  # The jump itself is fast: beta lets most of it through at once...
  assert np.all(np.abs(out[30] - track[29]) > 0.5 * np.abs(track[30] -
                                                            track[29]))
  # ...and the rest converges within two seconds.
  np.testing.assert_allclose(out[-1], track[-1], atol=1.0)


@pytest.mark.parametrize("params, sd, factor", [
    # Without beta the cutoff stays at min_cutoff whatever the noise.
    (one_euro.Params(0.1, 0.0, 1.0), 4.0, 8.0),
    # MediaPipe's beta reads noise as motion as it grows: against sub-pixel
    # jitter of a 400 px person (0.1% of its size) it still smooths 3x.
    (MEDIAPIPE, 0.5, 3.0),
])
def test_noise_on_a_still_point_is_reduced(params, sd, factor):
  rng = np.random.default_rng(0)
  track = BODY[None] + rng.normal(0.0, sd, (300, J, 2)).astype(np.float32)
  out = _run(track, params)
  raw_sd = np.std(track[100:] - BODY, axis=0).mean()
  out_sd = np.std(out[100:] - BODY, axis=0).mean()
  assert out_sd < raw_sd / factor, (raw_sd, out_sd)
  accel = lambda x: np.abs(x[2:] - 2 * x[1:-1] + x[:-2]).mean()
  assert accel(out[100:]) < accel(track[100:]) / factor


def test_a_fast_ramp_lags_less_with_beta():
  # One body size per second: 400 px/s, 13.3 px a frame.
  t = np.arange(60, dtype=np.float32)[:, None, None]
  track = BODY[None] + t * [[400.0 / FPS, 0.0]]
  still = one_euro.Params(min_cutoff=0.1, beta=0.0, d_cutoff=1.0)
  lag = lambda p: np.abs(_run(track, p) - track)[40:, :, 0].max()
  # Without beta the filter trails by seconds of motion; MediaPipe's beta
  # keeps the lag under 5% of a body size (20 px, 1.5 frames).
  assert lag(still) > 200.0
  assert lag(MEDIAPIPE) < 20.0


def test_twice_the_scale_gives_twice_the_output():
  rng = np.random.default_rng(1)
  t = np.arange(50, dtype=np.float32)[:, None, None]
  track = (BODY[None] + 3.0 * t * np.sin(t / 7.0)
           + rng.normal(0, 3.0, (50, J, 2))).astype(np.float32)
  np.testing.assert_allclose(_run(2.0 * track), 2.0 * _run(track),
                             rtol=1e-4, atol=1e-3)
  # Without the object scale the two would differ: beta acts on pixels.
  assert one_euro.object_scale(2.0 * track[0]) == pytest.approx(
      2.0 * one_euro.object_scale(track[0]))


def test_lost_tracking_restarts_the_filter():
  track = np.repeat(BODY[None], 40, axis=0)
  track[20:] += 300.0  # the tracker re-found the person elsewhere
  lost = np.zeros(40, bool)
  lost[19] = True  # judged lost after frame 19: frame 20 is a fresh start
  out = _run(track, one_euro.Params(0.1, 0.0, 1.0), lost)
  np.testing.assert_array_equal(out[20], track[20])
  np.testing.assert_allclose(out[20:], track[20:], atol=1e-4)
  # Without the restart the low cutoff drags the old place along.
  dragged = _run(track, one_euro.Params(0.1, 0.0, 1.0))
  assert np.abs(dragged[20] - track[20]).max() > 100.0


def test_object_scale_ignores_unconfident_joints():
  points = np.array([[0.0, 0.0], [100.0, 300.0], [5000.0, 5000.0]])
  assert one_euro.object_scale(points, np.array([True, True, False])) == 200.0
  # None confident: all count. Collapsed joints: at least MIN_SCALE.
  assert one_euro.object_scale(points, np.zeros(3, bool)) == 5000.0
  assert one_euro.object_scale(np.zeros((3, 2))) == one_euro.MIN_SCALE


def test_grid_of_settings_matches_one_at_a_time():
  rng = np.random.default_rng(2)
  track = (BODY[None] + rng.normal(0, 5.0, (30, J, 2))).astype(np.float32)
  cutoffs, betas = np.array([0.1, 1.0]), np.array([0.0, 40.0])
  grid = one_euro.Params(cutoffs[:, None], betas[:, None], 1.0)
  many = one_euro.filter_video(
      np.repeat(track[:, None], 2, axis=1), np.ones((30, J)),
      np.zeros(30, bool), FPS, grid)
  for g in range(2):
    np.testing.assert_allclose(
        many[:, g], _run(track, one_euro.Params(cutoffs[g], betas[g], 1.0)),
        rtol=1e-5, atol=1e-4)


def test_jax_scan_matches_numpy():
  rng = np.random.default_rng(3)
  track = (BODY[None] + rng.normal(0, 5.0, (20, J, 2))).astype(np.float32)
  lost = np.zeros(20, bool)
  lost[9] = True
  restart = one_euro.restarts(lost)
  scales = one_euro.object_scale(track)

  def body(state, xs):
    points, scale, fresh = xs
    out, state = one_euro.step(state, points, scale, 1.0 / FPS, MEDIAPIPE,
                               fresh, jnp)
    return state, out

  _, out = jax.lax.scan(body, one_euro.init((), J, jnp),
                        (jnp.asarray(track), jnp.asarray(scales),
                         jnp.asarray(restart)))
  np.testing.assert_allclose(np.asarray(out), _run(track, lost=lost),
                             rtol=1e-5, atol=1e-3)
