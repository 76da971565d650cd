"""Shared fixtures: the tiny synthetic NTU sets, built once per session."""

import functools

import pytest
import tensorflow_datasets as tfds

import tfds_ntu  # noqa: F401  (registers the builder)


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
