"""Shared fixtures: the tiny synthetic NTU sets, built once per test run.

Under pytest-xdist (`-n 2`, the README's command) every worker is its own
session. What tests only read (the datasets, the teacher's videos, the
tiny exports, the XLA cache) is made once into a folder all workers share,
under a file lock; the trained smoke workdir, which tests write into, is
trained once there and copied to each worker.
"""

import contextlib
import functools
import os
import pathlib
import pickle
import shutil

# Before jax is imported, and inherited by the commands tests run: XLA's
# optimisation passes cost more than they save on programs that run a few
# steps (2-3x faster compiles of the smoke model for about 25% slower
# steps), and the tests check what the code computes, not how fast XLA
# makes it. JAX_DISABLE_MOST_OPTIMIZATIONS=0 runs the suite fully optimised.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# The XLA cache is shared by the xdist workers and the commands they run; a
# size bound turns on JAX's file lock around its reads and writes.
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(4 << 30))

import filelock  # pylint: disable=g-import-not-at-top,g-bad-import-order
import jax  # pylint: disable=g-import-not-at-top,g-bad-import-order
import pytest
import tensorflow_datasets as tfds

import smoke_run
import tfds_ntu  # noqa: F401  (registers the builder)


def _distributed() -> bool:
  """Whether this session is one of several xdist workers."""
  return "PYTEST_XDIST_WORKER" in os.environ


def _shared(tmp_path_factory, name: str) -> pathlib.Path:
  """A folder of this test run that every xdist worker sees (without
  xdist, a folder of the session's own)."""
  if not _distributed():
    return tmp_path_factory.mktemp(name)
  path = tmp_path_factory.getbasetemp().parent / name
  path.mkdir(exist_ok=True)
  return path


@contextlib.contextmanager
def _once(folder: pathlib.Path, what: str):
  """Holds `folder`'s lock for `what`; yields whether it is still to do (a
  marker file records it done when the block finishes)."""
  done = folder / f".{what}.done"
  with filelock.FileLock(str(folder / f".{what}.lock")):
    yield not done.exists()
    done.touch()


@pytest.fixture(scope="session", autouse=True)
def xla_cache(tmp_path_factory):
  """One persistent XLA cache for the session, so that the tests which build
  the same program (the :smoke step, a resumed run) compile it once; XLA:CPU's
  compile dominates a run of a few steps. Subprocesses get it through
  `--config.compilation_cache_dir`."""
  path = str(_shared(tmp_path_factory, "xla"))
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  return path


@pytest.fixture(scope="session")
def smoke_data_dir(tmp_path_factory):
  """A data_dir in which `smoke_builder(modality)` builds on first use."""
  return str(_shared(tmp_path_factory, "tfds"))


@pytest.fixture(scope="session")
def smoke_builder(smoke_data_dir):
  """fn(modality: 'rgb' | 'depth') -> the prepared synthetic_smoke builder."""

  @functools.cache
  def build(modality: str) -> tfds.core.DatasetBuilder:
    name = f"synthetic_smoke_{modality}"
    with _once(pathlib.Path(smoke_data_dir), name):
      builder = tfds.builder(f"tfds_ntu/{name}", data_dir=smoke_data_dir)
      builder.download_and_prepare()
    return builder

  return build


@pytest.fixture(scope="session")
def smoke_workdir(tmp_path_factory, smoke_builder, smoke_data_dir):
  """A workdir trained by `smoke_run`'s settings (rgb_gru.py:smoke).

  Compiling the train step dominates a run this short, so it is trained
  once per test run; each xdist worker gets a copy of its own, which tests
  may write into (evaluations, exports) but must not retrain: a test that
  changes the run copies it first."""
  from bodypose_jax import train  # pylint: disable=g-import-not-at-top

  smoke_builder("rgb")
  shared = _shared(tmp_path_factory, "smoke_run")
  source = shared / "run"
  with _once(shared, "trained") as to_do:
    if to_do:
      config = smoke_run.config(
          smoke_data_dir,
          num_train_steps=smoke_run.STEPS,
          eval_every_steps=smoke_run.STEPS,
          checkpoint_every_steps=smoke_run.CHECKPOINT_EVERY,
          log_every_steps=1,
          learning_rate=smoke_run.LEARNING_RATE,
      )
      train.train_and_evaluate(config, str(source))
  if not _distributed():
    return str(source)
  copy = tmp_path_factory.mktemp("smoke_workdir") / "run"
  shutil.copytree(source, copy)
  return str(copy)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
  """fn(modality, cell) -> an untrained :smoke-sized model exported float32.

  Returns (path to the .tflite with its sidecar, the Trained it came from).
  Untrained weights exercise every conversion path in seconds.
  """
  from bodypose_jax.deploy import export  # pylint: disable=g-import-not-at-top
  from bodypose_jax.data import input_pipeline  # pylint: disable=g-import-not-at-top
  from bodypose_jax.deploy import streaming  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top

  out = _shared(tmp_path_factory, "export")

  @functools.cache
  def make(modality: str = "rgb", cell: str = "gru"):
    config = default.get_config()
    config.model.cell = cell
    # Initialised from config.seed: every worker holds the same weights,
    # and converts them only if no worker has yet.
    trained = export.untrained(default.apply_variant(config, "smoke", modality))
    path = str(out / f"{modality}_{cell}.tflite")
    with _once(out, f"{modality}_{cell}") as to_do:
      if to_do:
        _, channels = input_pipeline.modality(trained.config)
        frame_shape = (1, *trained.config.input.input_size, channels)
        fmt = streaming.state_format(trained.model, frame_shape[1:3])
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

  root = _shared(tmp_path_factory, "teacher_videos")
  listing = root / "samples.pickle"
  with _once(root, "rendered") as to_do:
    if to_do:
      samples = teacher_fixtures.render_samples(str(root))
      for sample in samples:
        teacher_fixtures.label(str(root), sample.name)
      listing.write_bytes(pickle.dumps(samples))
  return str(root), pickle.loads(listing.read_bytes())


@pytest.fixture(scope="session")
def teacher_builder(teacher_manual_dir, smoke_data_dir):
  """tfds_ntu/teacher_rgb built from `teacher_manual_dir` into the smoke
  data_dir, beside the synthetic smoke sets."""
  with _once(pathlib.Path(smoke_data_dir), "teacher_rgb"):
    builder = tfds.builder("tfds_ntu/teacher_rgb", data_dir=smoke_data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=teacher_manual_dir[0]
        )
    )
  return builder
