"""The Kinect v2 skeleton as NTU RGB+D records it: 25 joints, bones, symmetry.

Indices are 0-based here (NTU's documentation counts from 1). In NTU's colour
and depth images the streams are mirror images: the joints named *left* lie on
the image's left for a person facing the camera. A horizontal flip therefore
mirrors the image *and* swaps the left/right labels, which keeps that
convention intact.
"""

import numpy as np

JOINT_NAMES = (
    "spine_base",
    "spine_mid",
    "neck",
    "head",
    "shoulder_left",
    "elbow_left",
    "wrist_left",
    "hand_left",
    "shoulder_right",
    "elbow_right",
    "wrist_right",
    "hand_right",
    "hip_left",
    "knee_left",
    "ankle_left",
    "foot_left",
    "hip_right",
    "knee_right",
    "ankle_right",
    "foot_right",
    "spine_shoulder",
    "hand_tip_left",
    "thumb_left",
    "hand_tip_right",
    "thumb_right",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# Bones as the Kinect SDK draws them (BodyBasics sample): thumbs hang off the
# wrists, hand tips off the hands.
BONES = tuple(
    (JOINT_INDEX[a], JOINT_INDEX[b])
    for a, b in (
        ("spine_base", "spine_mid"),
        ("spine_mid", "spine_shoulder"),
        ("spine_shoulder", "neck"),
        ("neck", "head"),
        ("spine_shoulder", "shoulder_left"),
        ("shoulder_left", "elbow_left"),
        ("elbow_left", "wrist_left"),
        ("wrist_left", "hand_left"),
        ("hand_left", "hand_tip_left"),
        ("wrist_left", "thumb_left"),
        ("spine_shoulder", "shoulder_right"),
        ("shoulder_right", "elbow_right"),
        ("elbow_right", "wrist_right"),
        ("wrist_right", "hand_right"),
        ("hand_right", "hand_tip_right"),
        ("wrist_right", "thumb_right"),
        ("spine_base", "hip_left"),
        ("hip_left", "knee_left"),
        ("knee_left", "ankle_left"),
        ("ankle_left", "foot_left"),
        ("spine_base", "hip_right"),
        ("hip_right", "knee_right"),
        ("knee_right", "ankle_right"),
        ("ankle_right", "foot_right"),
    )
)


def _flip_permutation():
  perm = []
  for name in JOINT_NAMES:
    if name.endswith("_left"):
      name = name[: -len("_left")] + "_right"
    elif name.endswith("_right"):
      name = name[: -len("_right")] + "_left"
    perm.append(JOINT_INDEX[name])
  return np.asarray(perm, np.int32)


# joints_flipped = joints[..., FLIP_PERMUTATION, :] after mirroring x.
FLIP_PERMUTATION = _flip_permutation()

# Torso size, the PCK normaliser: the 2D length of the spine from its base to
# the shoulders. Unlike shoulder or hip width it does not shrink when the
# person turns side-on to the camera (the -45/+45 degree NTU views).
TORSO = (JOINT_INDEX["spine_base"], JOINT_INDEX["spine_shoulder"])
# Where a spine joint is missing (a teacher without spine joints), the torso
# runs from the hips' midpoint to the shoulders' midpoint (metrics.torso_lengths).
TORSO_SIDES = (
    (JOINT_INDEX["hip_left"], JOINT_INDEX["hip_right"]),
    (JOINT_INDEX["shoulder_left"], JOINT_INDEX["shoulder_right"]),
)
