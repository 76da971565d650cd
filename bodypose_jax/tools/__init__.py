"""Measuring tools: the TFLite profiler, the training benchmark (vs Keras), contact sheets."""
