"""The model's two paths (scanned clip, streamed frames) and its layers."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bodypose_jax.data import roi
from bodypose_jax.model import cells
from bodypose_jax.model import layers
from bodypose_jax.model import pose_net

TINY = dict(
    num_joints=25,
    width=0.25,
    decoder_features=8,
    cell_features=8,
    stages=((1, 8, 1, 1), (2, 8, 1, 2), (2, 8, 1, 2), (2, 16, 1, 2)),
)


def _init(model, seed, frames):
  """`model.init` as one jitted program: run eagerly, it compiles every
  operation on its own, which costs more than the checks."""
  return jax.jit(model.init)(jax.random.key(seed), frames)


def _apply(model, method=None, **kwargs):
  """`model.apply` (of `method`, with `kwargs`) jitted, to call as
  fn(variables, *inputs); make it once for calls on same-shaped inputs."""
  return jax.jit(functools.partial(model.apply, method=method, **kwargs))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(8, 8), (7, 9)])
def test_shifted_depthwise_equals_grouped(stride, size):
  x = jax.random.normal(jax.random.key(0), (2, *size, 5))
  grouped = layers.DepthwiseConv(3, stride, "grouped")
  shifted = layers.DepthwiseConv(3, stride, "shifted")
  params = grouped.init(jax.random.key(1), x)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(
      jnp.shape, shifted.init(jax.random.key(1), x)
  )
  np.testing.assert_allclose(
      shifted.apply(params, x), grouped.apply(params, x), rtol=1e-5, atol=1e-5
  )


def _grouped_depthwise(x, kernel, stride):
  return jax.lax.conv_general_dilated(
      x,
      kernel,
      (stride, stride),
      "SAME",
      dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=x.shape[-1],
  )


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
@pytest.mark.parametrize("size", [(8, 8), (7, 9)])
def test_shifted_depthwise_gradients_equal_grouped(stride, kernel_size, size):
  """The hand-written VJP: both gradients, every phase and border case."""
  x = jax.random.normal(jax.random.key(0), (2, *size, 5))
  kernel = jax.random.normal(
      jax.random.key(1), (kernel_size, kernel_size, 1, 5)
  )
  out = _grouped_depthwise(x, kernel, stride)
  cotangent = jax.random.normal(jax.random.key(2), out.shape)

  def grads(conv):
    return jax.jit(jax.grad(
        lambda x, k: jnp.sum(conv(x, k, stride) * cotangent), (0, 1)
    ))(x, kernel)

  for got, want in zip(
      grads(layers.shifted_depthwise), grads(_grouped_depthwise)
  ):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 5, 4), (2, 3, 4, 4)])
def test_matmul_gradients_equal_jnp_dot(shape):
  """The per-image kernel gradient is the plain contraction's."""
  x = jax.random.normal(jax.random.key(0), shape)
  kernel = jax.random.normal(jax.random.key(1), (4, 6))
  cotangent = jax.random.normal(jax.random.key(2), (*shape[:-1], 6))

  def grads(dot):
    return jax.grad(lambda x, k: jnp.sum(dot(x, k) * cotangent), (0, 1))(
        x, kernel
    )

  for got, want in zip(grads(layers.matmul), grads(jnp.dot)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("features", [5, 12])
def test_matmul_pointwise_equals_conv(features):
  x = jax.random.normal(jax.random.key(0), (2, 6, 7, 9))
  conv = layers.PointwiseConv(features, impl="conv")
  matmul = layers.PointwiseConv(features, impl="matmul")
  params = conv.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias too
  np.testing.assert_allclose(
      matmul.apply(params, x), conv.apply(params, x), rtol=1e-5, atol=1e-5
  )


class _DenseConv(nn.Module):
  impl: str
  stride: int

  @nn.compact
  def __call__(self, x):
    return layers.conv(x, 6, 3, self.stride, impl=self.impl, name="c")


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(8, 8), (7, 9)])
def test_im2col_conv_equals_conv(stride, size):
  x = jax.random.normal(jax.random.key(0), (2, *size, 5))
  conv = _DenseConv("conv", stride)
  params = conv.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias too
  im2col = _DenseConv("im2col", stride)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(
      jnp.shape, im2col.init(jax.random.key(1), x)
  )
  np.testing.assert_allclose(
      im2col.apply(params, x), conv.apply(params, x), rtol=1e-5, atol=1e-5
  )


@pytest.mark.parametrize("head_stride", [4, 8])
def test_formulations_share_parameters_and_outputs(head_stride):
  """A checkpoint trained in one formulation runs in another."""
  cpu = layers.Formulation("shifted", "matmul", "im2col")
  standard = layers.Formulation("grouped", "conv", "conv")
  frames = jax.random.normal(jax.random.key(0), (2, 2, 32, 48, 3))
  a = pose_net.PoseNet(formulation=cpu, head_stride=head_stride, **TINY)
  b = pose_net.PoseNet(formulation=standard, head_stride=head_stride, **TINY)
  variables = _init(a, 1, frames)
  assert jax.tree.map(jnp.shape, variables) == jax.tree.map(
      jnp.shape, jax.eval_shape(b.init, jax.random.key(1), frames)
  )
  out_a = _apply(a)(variables, frames)
  out_b = _apply(b)(variables, frames)
  for key in ("heatmaps", "offsets"):
    np.testing.assert_allclose(out_a[key], out_b[key], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("head_stride", [4, 8])
def test_formulations_train_alike(head_stride):
  """Gradients agree too: the CPU forms' hand-written VJPs train the same."""
  frames = jax.random.normal(jax.random.key(0), (2, 2, 32, 48, 3))
  variables = pose_net.PoseNet(head_stride=head_stride, **TINY).init(
      jax.random.key(1), frames
  )

  def gradients(formulation):
    model = pose_net.PoseNet(
        formulation=formulation, head_stride=head_stride, **TINY
    )

    def loss(params):
      out, _ = model.apply(
          {**variables, "params": params},
          frames,
          train=True,
          mutable=["batch_stats"],
      )
      return jnp.mean(out["heatmaps"] ** 2) + jnp.mean(out["offsets"] ** 2)

    return jax.grad(loss)(variables["params"])

  cpu = gradients(layers.Formulation("shifted", "matmul", "im2col"))
  standard = gradients(layers.Formulation("grouped", "conv", "conv"))
  scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(standard))
  for got, want in zip(jax.tree.leaves(cpu), jax.tree.leaves(standard)):
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * scale)


def _pairwise_default(grid, pairwise):
  """The cases of `grid`, those not in `pairwise` behind the slow marker:
  the default run meets every pair of options (compile time), the slow
  run their whole cross."""
  return [pytest.param(*case, marks=() if case in pairwise
                       else pytest.mark.slow) for case in grid]


@pytest.mark.parametrize(
    "cell,cell_stride,cell_skip,head_stride",
    _pairwise_default(
        [(c, s, k, h) for c in ("gru", "lstm", "none") for s in (8, 16)
         # Skip and head stride each once on each side, not crossed.
         for k, h in ((False, 4), (True, 8))],
        {("gru", 8, False, 4), ("gru", 16, True, 8), ("lstm", 8, True, 8),
         ("lstm", 16, False, 4), ("none", 8, False, 4),
         ("none", 16, True, 8)}))
def test_streaming_step_matches_scanned_clip(
    cell, cell_stride, cell_skip, head_stride
):
  model = pose_net.PoseNet(
      cell=cell,
      cell_stride=cell_stride,
      cell_skip=cell_skip,
      head_stride=head_stride,
      **TINY,
  )
  frames = jax.random.normal(jax.random.key(0), (2, 4, 32, 48, 3))
  variables = _init(model, 1, frames)
  # Perturb batch stats so inference-mode normalisation is not the identity.
  variables = jax.tree.map(lambda v: v + 0.1, variables)
  clip = _apply(model, train=False)(variables, frames)

  carry = model.apply(
      variables, frames[:, 0].shape, method=pose_net.PoseNet.initial_state
  )
  step = _apply(model, pose_net.PoseNet.step)
  for t in range(frames.shape[1]):
    out, carry = step(variables, frames[:, t], carry)
    for key in ("heatmaps", "offsets"):
      np.testing.assert_allclose(
          out[key], clip[key][:, t], rtol=1e-4, atol=1e-4
      )
  grid = (32 // head_stride, 48 // head_stride)
  assert clip["heatmaps"].shape == (2, 4, *grid, 25)
  assert clip["offsets"].shape == (2, 4, *grid, 25, 2)


@pytest.mark.parametrize("head_stride", [4, 8])
@pytest.mark.parametrize("cell_stride", [8, 16])
@pytest.mark.parametrize("hw", [(32, 48), (33, 47), (30, 42)])
def test_heatmap_grid_is_input_over_head_stride(head_stride, cell_stride, hw):
  """'SAME' grids: ceil(H / s) x ceil(W / s), odd sizes included."""
  model = pose_net.PoseNet(
      head_stride=head_stride, cell_stride=cell_stride, **TINY
  )
  frames = jnp.zeros((1, 2, *hw, 3))
  out = jax.eval_shape(
      lambda: model.apply(model.init(jax.random.key(0), frames), frames)
  )
  grid = (-(-hw[0] // head_stride), -(-hw[1] // head_stride))
  assert out["heatmaps"].shape == (1, 2, *grid, 25)
  assert out["offsets"].shape == (1, 2, *grid, 25, 2)


def test_head_stride_4_adds_a_fuse_onto_the_stride_4_map():
  def decoder(head_stride):
    model = pose_net.PoseNet(head_stride=head_stride, **TINY)
    params = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1, 1, 32, 32, 3)))
    return params["params"]

  assert "fuse_s4" not in decoder(8)
  s4 = decoder(4)["fuse_s4"]
  # 1x1 projections: the stride-8 fuse's output, the encoder's stride-4 map
  # (stage 1's 8 channels at width 0.25, rounded up to 8), then the mix.
  kernels = {
      name: jax.tree.leaves(s4[name]["PointwiseConv_0"])[0].shape[-2:]
      for name in ("ConvBN_0", "ConvBN_1", "ConvBN_2")
  }
  f4 = pose_net.PoseNet.decoder_features_s4
  assert kernels == {
      "ConvBN_0": (TINY["decoder_features"], f4),
      "ConvBN_1": (8, f4),
      "ConvBN_2": (f4, f4),
  }


@pytest.mark.parametrize("head_stride", [2, 16, 6])
def test_unsupported_head_stride_is_an_error(head_stride):
  model = pose_net.PoseNet(head_stride=head_stride, **TINY)
  with pytest.raises(ValueError, match="head_stride=.*expected one of"):
    model.init(jax.random.key(0), jnp.zeros((1, 1, 32, 32, 3)))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_cell_memory_changes_later_frames_only(cell):
  """Frame t's output depends on earlier frames through the cell, never on later ones."""
  model = pose_net.PoseNet(cell=cell, **TINY)
  frames = jax.random.normal(jax.random.key(0), (1, 3, 32, 32, 3))
  variables = _init(model, 1, frames)
  changed = frames.at[:, 1].set(0.0)
  apply = _apply(model)
  a = apply(variables, frames)["heatmaps"]
  b = apply(variables, changed)["heatmaps"]
  np.testing.assert_array_equal(a[:, 0], b[:, 0])
  assert not np.allclose(a[:, 2], b[:, 2])


def test_cell_skip_feeds_the_decoder_the_cells_input_beside_its_state():
  def fuse_inputs(**kwargs):
    model = pose_net.PoseNet(**TINY, **kwargs)
    params = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1, 2, 32, 32, 3)))
    (kernel,) = jax.tree.leaves(
        params["params"]["fuse"]["ConvBN_0"]["PointwiseConv_0"]
    )
    return kernel.shape[-2]

  encoder = fuse_inputs(cell="none")
  assert fuse_inputs(cell="gru") == TINY["cell_features"]
  assert fuse_inputs(cell="gru", cell_skip=True) == (
      encoder + TINY["cell_features"]
  )
  # Without a cell there is nothing to skip.
  assert fuse_inputs(cell="none", cell_skip=True) == encoder


def test_unknown_cell_is_an_error():
  with pytest.raises(ValueError, match="Unknown cell"):
    cells.make_cell("rnn", 8, 3)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_state_warp_in_the_scan_matches_the_streaming_step(cell):
  """Training warps the state between the clip's ROIs inside the scan; the
  tracked step warps it after each frame. Both give the same outputs."""
  model = pose_net.PoseNet(cell=cell, cell_stride=8, **TINY)
  frames = jax.random.normal(jax.random.key(0), (2, 3, 32, 48, 3))
  # A person drifting right and growing, in frame pixels.
  rois = jnp.array(
      [[[60.0, 40.0, 32.0], [66.0, 41.0, 36.0], [75.0, 43.0, 30.0]]] * 2
  )
  variables = _init(model, 1, frames)
  clip = _apply(model)(variables, frames, rois=rois)
  unwarped = _apply(model)(variables, frames)
  carry = model.apply(
      variables, frames[:, 0].shape, method=pose_net.PoseNet.initial_state
  )
  step = _apply(model, pose_net.PoseNet.step)
  for t in range(frames.shape[1]):
    if t:
      carry = jax.tree.map(
          lambda x: roi.warp_grid(
              x, rois[:, t - 1], rois[:, t], (32, 48), 8, jnp
          ),
          carry,
      )
    out, carry = step(variables, frames[:, t], carry)
    np.testing.assert_allclose(
        out["heatmaps"], clip["heatmaps"][:, t], rtol=1e-4, atol=1e-4
    )
  # The warp is not the identity here: it changed what memory carried.
  assert not np.allclose(clip["heatmaps"][:, -1], unwarped["heatmaps"][:, -1])
