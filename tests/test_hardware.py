"""Per-backend compilation choices."""

import pytest

from bodypose_jax import hardware
from configs import rgb_gru


def test_auto_resolves_to_the_cpu_formulations():
  config = rgb_gru.get_config("smoke")
  assert config.model.depthwise_impl == "auto"
  choices = hardware.resolve(config)
  assert choices.backend == "cpu"
  m = config.model
  assert (m.depthwise_impl, m.pointwise_impl, m.dense_impl) == (
      "shifted",
      "matmul",
      "im2col",
  )
  assert config.model.compute_dtype == "float32"


def test_explicit_choices_are_kept():
  config = rgb_gru.get_config("smoke")
  with config.unlocked():
    config.model.depthwise_impl = "grouped"
    config.model.compute_dtype = "bfloat16"
  choices = hardware.resolve(config)
  assert choices.depthwise_impl == "grouped"
  assert choices.pointwise_impl == "matmul"  # still 'auto' before: resolved
  assert choices.compute_dtype == "bfloat16"


def test_unknown_dtype_is_refused():
  config = rgb_gru.get_config("smoke")
  with config.unlocked():
    config.model.compute_dtype = "float16"
  with pytest.raises(ValueError, match="compute_dtype"):
    hardware.resolve(config)
