r"""RGB frames, ConvGRU at stride 16.

Real NTU RGB+D (build it first, see README):
  python -m bodypose_jax.main --config=configs/rgb_gru.py --workdir=workdirs/rgb_gru
The embedded synthetic set (~12 min on 2 CPU cores, plus building the set on
first use):
  python -m bodypose_jax.main --config=configs/rgb_gru.py:synthetic --workdir=workdirs/rgb_gru_syn
The longer variant on the large synthetic set (~1 h on 2 CPU cores, plus
building the set once):
  python -m bodypose_jax.main --config=configs/rgb_gru.py:large --workdir=workdirs/rgb_gru_large
The synthetic variant with a quarter of every batch from teacher-labelled real
video (build tfds_ntu/teacher_rgb first, see README), then evaluated on the
held-out real performers:
  python -m bodypose_jax.main --config=configs/rgb_gru.py:mixed --workdir=workdirs/rgb_gru_mixed
  python -m bodypose_jax.evaluators.evaluate --workdir=workdirs/rgb_gru_mixed --builder_config=teacher_rgb --rois=oracle
A tiny smoke run (< 2 min):
  python -m bodypose_jax.main --config=configs/rgb_gru.py:smoke --workdir=/tmp/smoke
The single-frame baseline: add --config.model.cell=none
"""

from configs import default


def get_config(variant: str | None = None):
  config = default.get_config()
  config.model.cell = "gru"
  return default.apply_variant(config, variant or None, modality="rgb")
