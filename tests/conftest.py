"""Shared fixtures: the tiny synthetic NTU sets, built once per session."""

import functools

import jax
import pytest
import tensorflow_datasets as tfds

import tfds_ntu  # noqa: F401  (registers the builder)


@pytest.fixture(scope="session", autouse=True)
def xla_cache(tmp_path_factory):
  """One persistent XLA cache for the session, so that the tests which build
  the same program (the :smoke step, a resumed run) compile it once; XLA:CPU's
  compile dominates a run of a few steps. Subprocesses get it through
  `--config.compilation_cache_dir`."""
  path = str(tmp_path_factory.mktemp("xla"))
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  return path


@pytest.fixture(scope="session")
def smoke_data_dir(tmp_path_factory):
  """A data_dir in which `smoke_builder(modality)` builds on first use."""
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def smoke_builder(smoke_data_dir):
  """fn(modality: 'rgb' | 'depth') -> the prepared synthetic_smoke builder."""

  @functools.cache
  def build(modality: str) -> tfds.core.DatasetBuilder:
    builder = tfds.builder(
        f"tfds_ntu/synthetic_smoke_{modality}", data_dir=smoke_data_dir
    )
    builder.download_and_prepare()
    return builder

  return build


@pytest.fixture(scope="session")
def smoke_workdir(tmp_path_factory, smoke_builder, smoke_data_dir):
  """A workdir trained 10 steps by rgb_gru.py:smoke, shared by the tests of
  the tools that start from a workdir (export, evaluate)."""
  from bodypose_jax import train  # pylint: disable=g-import-not-at-top
  from configs import rgb_gru  # pylint: disable=g-import-not-at-top

  smoke_builder("rgb")
  config = rgb_gru.get_config("smoke")
  with config.unlocked():
    config.dataset.data_dir = smoke_data_dir
    config.num_train_steps = 10
  workdir = str(tmp_path_factory.mktemp("smoke_workdir"))
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
  """fn(modality, cell) -> an untrained :smoke-sized model exported float32.

  Returns (path to the .tflite with its sidecar, the Trained it came from).
  Untrained weights exercise every conversion path in seconds.
  """
  from bodypose_jax import export  # pylint: disable=g-import-not-at-top
  from bodypose_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  from bodypose_jax import streaming  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top

  out = tmp_path_factory.mktemp("export")

  @functools.cache
  def make(modality: str = "rgb", cell: str = "gru"):
    config = default.get_config()
    config.model.cell = cell
    trained = export.untrained(default.apply_variant(config, "smoke", modality))
    _, channels = input_pipeline.modality(trained.config)
    frame_shape = (1, *trained.config.input.input_size, channels)
    fmt = streaming.state_format(trained.model, frame_shape[1:3])
    path = str(out / f"{modality}_{cell}.tflite")
    export.write_model(
        path,
        export.convert_trained(trained, fmt, "float32"),
        export.sidecar(trained, "float32", frame_shape, fmt, modality),
    )
    return path, trained

  return make


@pytest.fixture(scope="session")
def teacher_manual_dir(tmp_path_factory):
  """Six rendered synthetic videos (setup 1, cameras 1-2, performers 1, 3,
  4) each labelled by the fixture teacher (`teacher_fixtures`), in NTU's
  layout: (root, samples). P003 trains, P001 and P004 test."""
  import teacher_fixtures  # pylint: disable=g-import-not-at-top

  root = str(tmp_path_factory.mktemp("teacher_videos"))
  samples = teacher_fixtures.render(root)
  for sample in samples:
    teacher_fixtures.label(root, sample.name)
  return root, samples


@pytest.fixture(scope="session")
def teacher_builder(teacher_manual_dir, smoke_data_dir):
  """tfds_ntu/teacher_rgb built from `teacher_manual_dir` into the smoke
  data_dir, beside the synthetic smoke sets."""
  builder = tfds.builder("tfds_ntu/teacher_rgb", data_dir=smoke_data_dir)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(
          manual_dir=teacher_manual_dir[0]
      )
  )
  return builder
