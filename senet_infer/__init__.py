"""SE-ResNet50 ImageNet inference pipeline: the steps of the Ascend ModelZoo guide, runnable anywhere."""

# Runs before any other module of the package is parsed, so it is written for every Python that
# may start it (2.7 and 3.x alike): no annotations, no f-strings.
import sys

MIN_PYTHON = (3, 7)
SUPPORTED_PYTHON = "3.7 to 3.13"

if sys.version_info < MIN_PYTHON:
    sys.exit(
        "error: senet_infer needs Python %d.%d or later (supported: %s); this is Python %s (%s)"
        % (MIN_PYTHON + (SUPPORTED_PYTHON, sys.version.split()[0], sys.executable))
    )

__version__ = "0.1.0"

from .cli import install_missing_package_hook  # noqa: E402  (after the version check, which must run first)

install_missing_package_hook()
