"""TFDS builder for NTU RGB+D and the synthetic NTU-format renderer.

Importing this package registers the `tfds_ntu` dataset.
"""

from tfds_ntu.tfds_ntu_dataset_builder import Builder
