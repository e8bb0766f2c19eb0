"""What the project says whenever a demo stands in for the real thing: the one wording of each warning.

Offline, the seeded demo checkpoint stands in for the official weights and a generated image set for ImageNet;
every script and JSON that meets them says so in these words.
"""

DEMO_WARNING = "DEMO weights (seeded random, calibrated): accuracy figures from them mean nothing"
DEMO_DATA_NOTE = ("demo images labelled with the PyTorch reference model's own top-1: accuracy on them measures "
                  "agreement with PyTorch, not ImageNet accuracy")
