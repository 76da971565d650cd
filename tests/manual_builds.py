"""Builds a tfds_ntu config from a manual folder in a test, locally or
through Beam's DirectRunner."""

import tensorflow_datasets as tfds


def build(tmp_path, config, manual, beam=False):
  """`tfds_ntu/<config>` built from `manual` into tmp_path/data; returns the
  builder."""
  builder = tfds.builder(f'tfds_ntu/{config}', data_dir=str(tmp_path / 'data'))
  options = None
  if beam:
    import apache_beam  # pylint: disable=g-import-not-at-top
    options = apache_beam.options.pipeline_options.PipelineOptions(
        ['--runner=DirectRunner'])
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual, beam_options=options))
  return builder
