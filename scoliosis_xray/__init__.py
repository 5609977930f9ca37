"""Detect scoliosis on spine radiographs with ResNet50 transfer learning: synthetic data, audit, leak-free splits, training with TensorBoard, evaluation with confidence intervals, Grad-CAM and deployment.

Modules:

- `scoliosis_xray.core`: The small pieces every stage shares: class names, where files live, one safe way to write a file, hashing, pixel conversion, JSON cleaning and TensorBoard writers."""

__version__ = "0.1.0"
