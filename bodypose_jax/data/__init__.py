"""Data for training: the tf.data pipeline, the crop/ROI geometry, random access to TFRecords."""
