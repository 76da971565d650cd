r"""Masked-depth frames, ConvLSTM at stride 16.

Real NTU RGB+D (build it first, see README):
  python -m bodypose_jax.main --config=configs/depth_lstm.py --workdir=workdirs/depth_lstm
The embedded synthetic set (~12 min on 2 CPU cores, plus building the set on
first use):
  python -m bodypose_jax.main --config=configs/depth_lstm.py:synthetic --workdir=workdirs/depth_lstm_syn
The longer variant on the large synthetic set (~1 h on 2 CPU cores, plus
building the set once):
  python -m bodypose_jax.main --config=configs/depth_lstm.py:large --workdir=workdirs/depth_lstm_large
A tiny smoke run (< 2 min):
  python -m bodypose_jax.main --config=configs/depth_lstm.py:smoke --workdir=/tmp/smoke
The single-frame baseline: add --config.model.cell=none
"""

from configs import default


def get_config(variant: str | None = None):
  config = default.get_config()
  config.model.cell = "lstm"
  return default.apply_variant(config, variant or None, modality="depth")
