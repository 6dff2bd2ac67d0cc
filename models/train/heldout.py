"""The real material held out of training: evaluation only (models/train/realscenes.py).

opencv-doc's vtest.avi, leuvenA.jpg, leuvenB.jpg and tree.avi make the real-scene evaluation set.
Training code must never read them, nor frames of them, as backgrounds or negatives: code that
lists opencv-doc's data folder for training material filters it with usable(). models/realscenes_test.go
fails if a training script names one of these files or calls into realscenes.py.
"""

import os

HELD_OUT = ("vtest.avi", "leuvenA.jpg", "leuvenB.jpg", "tree.avi")


def usable(path):
    """Whether training may read this file: False for the held-out evaluation material."""
    name = os.path.basename(path)
    if name.endswith(".gz"):
        name = name[:-3]
    return name not in HELD_OUT
