"""SE-ResNet50 ImageNet inference pipeline: the steps of the Ascend ModelZoo guide, runnable anywhere."""

__version__ = "0.1.0"
