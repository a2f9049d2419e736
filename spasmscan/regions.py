"""Face Mesh landmark indices by region and by the patient's anatomical side.

MediaPipe names sides from the subject's point of view: its LEFT_EYE is the patient's left
eye, which appears on the right of an unmirrored image. The lists match
``mediapipe.solutions.face_mesh.FACEMESH_*`` (checked in tests) but are plain constants so
that the array stages never import mediapipe.
"""

N_LANDMARKS = 478  # 468 mesh points + 10 refined iris points

SIDES = ("left", "right")

EYE_CONTOUR = {
    "right": (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246),
    "left": (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466),
}
UPPER_LID = {  # outer -> inner corner
    "right": (246, 161, 160, 159, 158, 157, 173),
    "left": (466, 388, 387, 386, 385, 384, 398),
}
LOWER_LID = {  # outer -> inner corner, paired with UPPER_LID position by position
    "right": (7, 163, 144, 145, 153, 154, 155),
    "left": (249, 390, 373, 374, 380, 381, 382),
}
EYE_OUTER_CORNER = {"right": 33, "left": 263}
EYE_INNER_CORNER = {"right": 133, "left": 362}
IRIS = {"right": (468, 469, 470, 471, 472), "left": (473, 474, 475, 476, 477)}
IRIS_CENTER = {"right": 468, "left": 473}
BROW = {
    "right": (46, 52, 53, 55, 63, 65, 66, 70, 105, 107),
    "left": (276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
}
BROW_UPPER = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}  # outer -> inner
MOUTH_CORNER = {"right": 61, "left": 291}
CHEEK = {"right": (50, 101, 118, 117, 123), "left": (280, 330, 347, 346, 352)}  # malar points below the eye
UPPER_LIP_SIDE = {"right": (39, 37), "left": (269, 267)}  # the upper lip's outer edge between centre and corner
BUCCAL = {"right": (205, 187), "left": (425, 411)}  # the cheek beside the nose and mouth (a cheek puff bulges it)
UPPER_LIP_CENTER = 0
LOWER_LIP_CENTER = 17
INNER_UPPER_LIP = 13
INNER_LOWER_LIP = 14

NOSE_RIDGE = (168, 6, 197)  # nose bridge and upper ridge: in the face plane, still in every expression
TEMPLE = {"right": 127, "left": 356}  # the face outline beside the outer eye corners, out of the lids' reach
FACE_OVAL = (10, 21, 54, 58, 67, 93, 103, 109, 127, 132, 136, 148, 149, 150, 152, 162, 172, 176, 234, 251, 284,
             288, 297, 323, 332, 338, 356, 361, 365, 377, 378, 379, 389, 397, 400, 454)  # the face's outline

# Every landmark the signals read and the annotated video draws.
MEASURED_LANDMARKS = tuple(sorted(
    set(NOSE_RIDGE) | {UPPER_LIP_CENTER, LOWER_LIP_CENTER, INNER_UPPER_LIP, INNER_LOWER_LIP}
    | {i for side in SIDES for group in (UPPER_LID[side], LOWER_LID[side], BROW_UPPER[side], CHEEK[side],
                                         UPPER_LIP_SIDE[side], BUCCAL[side]) for i in group}
    | {corner[side] for side in SIDES for corner in (EYE_OUTER_CORNER, EYE_INNER_CORNER, MOUTH_CORNER, TEMPLE)}))
# The landmarks a tracked series keeps (about a fifth of the 478, so long recordings stay light): the
# measured ones and the face's outline, whose extent is the whole face's (to follow it across cuts).
SERIES_LANDMARKS = tuple(sorted(set(MEASURED_LANDMARKS) | set(FACE_OVAL)))


def mirror_side(side: str) -> str:
    """The other anatomical side: 'left' <-> 'right'; other values unchanged."""
    return {"left": "right", "right": "left"}.get(side, side)
