"""The train-step benchmark: JAX timing and FLOPs, Keras baseline, pipeline."""

import json

import jax
import numpy as np
import pytest

import commands
from bodypose_jax.model import skeleton
from bodypose_jax.tools import benchmark_train
from bodypose_jax.tools import keras_baseline
from bodypose_jax import train
from configs import depth_gru
from configs import rgb_gru
from configs import rgb_lstm

def _smoke_config(data_dir=None):
  config = rgb_gru.get_config("smoke")
  with config.unlocked():
    config.dataset.data_dir = data_dir
  return config


def _jax_num_params(config, channels: int) -> int:
  model = train.create_model(config)
  shape = (1, 1, *config.input.input_size, channels)
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), np.zeros(shape, np.float32))
  )
  return sum(x.size for x in jax.tree.leaves(variables["params"]))


@pytest.fixture(scope="module")
def jax_timing():
  return benchmark_train.time_jax_step(
      _smoke_config(), steps=2, warmup=1
  )


@pytest.mark.slow
def test_jax_step_reports_positive_times_and_flops(jax_timing):
  r = jax_timing
  assert r["compile_s"] > 0
  assert len(r["step_s"]) == 2 and min(r["step_s"]) > 0
  assert r["step_s_median"] > 0 and r["step_s_mean"] > 0
  config = _smoke_config()
  frames = config.batch_size * config.input.clip_length
  assert r["frames_per_s"] == pytest.approx(frames / r["step_s_median"])
  assert r["flops_raw"] > 0 and r["model_flops_per_s"] > 0
  assert r["num_params"] > 0
  # The state is an argument of the step: float32 parameters and Adam's two
  # moments at least; and a step has temporaries (the activations).
  memory = r["memory"]
  assert memory["argument_bytes"] >= 3 * 4 * r["num_params"]
  assert memory["temp_bytes"] > 0
  # MFU needs a known peak (accelerators only; a CPU's has none).
  if r["peak_flops"] is None:
    assert r["mfu"] is None
  else:
    assert r["mfu"] == pytest.approx(r["model_flops_per_s"] / r["peak_flops"])


@pytest.mark.slow
def test_model_flops_are_clip_length_times_one_frame(jax_timing):
  r = jax_timing
  t = _smoke_config().input.clip_length
  assert r["flops_t1"] > 0
  assert r["flops_model"] == t * r["flops_t1"]
  # The raw count has every per-frame layer T times but the scanned cell once.
  assert r["flops_t1"] < r["flops_raw"] < r["flops_model"]


@pytest.mark.parametrize(
    "module, variant, channels",
    [
        (rgb_gru, "smoke", 3),
        (rgb_gru, "synthetic", 3),
        (rgb_lstm, "synthetic", 3),
        (depth_gru, "smoke", 1),
    ],
)
def test_keras_baseline_has_same_input_and_similar_size(
    module, variant, channels
):
  config = module.get_config(variant)
  model = keras_baseline.build_model(config, channels)
  b, t = config.batch_size, config.input.clip_length
  h, w = config.input.input_size
  assert model.input_shape == (b, t, h, w, channels)
  assert model.output_shape == (
      b,
      t,
      -(-h // config.model.head_stride),
      -(-w // config.model.head_stride),
      3 * skeleton.NUM_JOINTS,
  )
  ours = _jax_num_params(config, channels)
  theirs = keras_baseline.num_params(model)
  assert abs(theirs / ours - 1) <= 0.25, (ours, theirs)


@pytest.mark.parametrize("head_stride", [4, 8])
def test_keras_baseline_mirrors_a_convlstm_posenet_exactly(head_stride):
  """With the same cell on both sides every layer has its twin."""
  config = rgb_lstm.get_config("smoke")
  with config.unlocked():
    config.model.head_stride = head_stride
  model = keras_baseline.build_model(config, 3)
  h, w = config.input.input_size
  assert model.output_shape[2:4] == (
      -(-h // head_stride),
      -(-w // head_stride),
  )
  assert keras_baseline.num_params(model) == _jax_num_params(config, 3)


@pytest.mark.slow
def test_keras_step_reports_positive_times():
  r = benchmark_train.time_keras_step(_smoke_config(), steps=2, warmup=1)
  assert r["num_params"] > 0
  assert r["trace_s"] > 0 and r["first_call_s"] > 0 and r["compile_s"] > 0
  assert len(r["step_s"]) == 2 and r["step_s_median"] > 0
  assert r["frames_per_s"] > 0


def test_pipeline_delivers_frames(smoke_builder, smoke_data_dir):
  smoke_builder("rgb")
  config = _smoke_config(smoke_data_dir)
  r = benchmark_train.time_pipeline(config, batches=2)
  assert r["frames"] == 2 * config.batch_size * config.input.clip_length
  assert r["frames_per_s"] > 0 and r["first_batch_s"] > 0


def test_peak_flops_by_device_kind():
  peak, precision = benchmark_train.peak_flops("NVIDIA H100 80GB HBM3", "bf16")
  assert (peak, precision) == (989.4e12, "bf16")
  peak, _ = benchmark_train.peak_flops("NVIDIA H100 PCIe", "tf32")
  assert peak == 378e12
  # TPUs list bf16 only: float32 matmuls run as bf16 passes there.
  assert benchmark_train.peak_flops("TPU v5 lite", "tf32") == (197e12, "bf16")
  assert benchmark_train.peak_flops("cpu", "fp32")[0] is None
  assert benchmark_train.peak_flops("cpu", "fp32", 2.0)[0] == 2e12


@pytest.mark.slow
def test_cli_writes_table_and_json(smoke_builder, smoke_data_dir, tmp_path):
  smoke_builder("rgb")
  json_out = tmp_path / "bench.json"
  done = commands.run_module(
      "bodypose_jax.tools.benchmark_train",
      "--config=configs/rgb_gru.py:smoke",
      "--config.model.cell_features=8",
      f"--config.dataset.data_dir={smoke_data_dir}",
      "--steps=2",
      "--warmup=1",
      "--rounds=1",
      "--pipeline_batches=2",
      f"--json_out={json_out}",
  )
  assert "JAX / Keras step time" in done.stdout
  assert "headroom" in done.stdout
  report = json.loads(json_out.read_text())
  assert set(report) >= {
      "jax",
      "keras",
      "pipeline",
      "comparison",
      "machine",
      "settings",
      "config",
  }
  assert set(report["jax"]) >= {
      "compile_s",
      "step_s_median",
      "step_s_mean",
      "frames_per_s",
      "flops_raw",
      "flops_t1",
      "flops_model",
      "memory",
      "mfu",
      "num_params",
  }
  assert report["keras"]["step_s_median"] > 0
  assert report["pipeline"]["frames_per_s"] > 0
  assert set(report["comparison"]) == {
      "jax_over_keras_step_time",
      "keras_over_jax_params",
      "pipeline_headroom",
  }
  assert report["machine"]["jax"] == jax.__version__
  assert report["settings"]["steps"] == 2
  assert report["config"]["model"]["cell_features"] == 8
