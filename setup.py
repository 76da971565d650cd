"""bodypose_jax: real-time video body pose estimation in JAX/Flax."""

import setuptools

# JAX and TensorFlow are pinned as a pair: jax2tf emits an XlaCallModule op whose
# serialization version the TF runtime (and its TFLite converter) must accept.
# jax 0.10.2 + tensorflow-cpu 2.21.0 is checked to convert by tests/deploy/test_export.py.
INSTALL_REQUIRES = [
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
    "optax==0.2.8",
    "orbax-checkpoint==0.12.8",
    "tensorflow-cpu==2.21.0",
    "tensorboard==2.21.0",
    "tensorflow-datasets==4.9.10",
    # The `tfds` command line imports both at start-up; without them it crashes.
    "apache-beam==2.77.0",
    "mlcroissant==1.1.1",
    "importlib_resources==7.1.0",  # imported by tensorflow-datasets, undeclared
    "protobuf==6.33.6",
    "numpy==2.4.6",
    "ml_collections==1.1.0",
    "clu==0.0.12",
    "absl-py==2.5.1",
    "opencv-python-headless==5.0.0.93",
    "matplotlib==3.11.2",  # evaluate.py's plots
]

setuptools.setup(
    name="bodypose_jax",
    version="0.1.0",
    description="Real-time human body pose estimation on video with recurrent "
    "convolutional networks in JAX/Flax, exported to TFLite.",
    packages=setuptools.find_packages(include=["bodypose_jax*", "tfds_ntu*", "configs"]),
    python_requires=">=3.10,<3.13",
    install_requires=INSTALL_REQUIRES,
    # tfds.testing (DatasetBuilderTestCase) imports dill; the README's test
    # command runs on two workers (pytest-xdist), which share the tiny
    # datasets under a file lock (tests/conftest.py).
    extras_require={"test": ["pytest==9.2.0", "dill==0.4.1",
                             "pytest-xdist==3.8.0", "filelock==4.3.1"]},
)
