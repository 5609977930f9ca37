"""Detect scoliosis on spine radiographs with ResNet50 transfer learning: synthetic data, audit, leak-free splits, training with TensorBoard, evaluation with confidence intervals, Grad-CAM and deployment.

Modules:

- `scoliosis_xray.core`: The small pieces every stage shares: class names, where files live, one safe way to write a file, hashing, pixel conversion, JSON cleaning and TensorBoard writers.
- `scoliosis_xray.run`: A typed run folder that keeps its promises: it knows its files, is locked while written, records a fingerprint of its settings and data, never mixes two runs, never writes over a user's files, and moves with its data."""

__version__ = "0.1.0"
