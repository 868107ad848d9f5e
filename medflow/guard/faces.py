"""Face detection in uploaded images (Safe Harbor identifier Q, full-face photographs).

Uses OpenCV's frontal-face Haar cascade, a data file shipped inside the
`opencv-python-headless` wheel (cv2.data.haarcascades): nothing is downloaded at run time.
Parameters are conservative so that ML plots (confusion matrices, ROC and loss curves)
are not flagged; the cost is false negatives on profile, small or partly hidden faces
(docs/operators/phi-guard.md). OpenCV 5 no longer ships the cascades: the dependency is
pinned below 5.

If cv2 cannot be imported the check is skipped (returns False) with one warning logged,
so a broken install never takes the server down.
"""
from __future__ import annotations

import logging
import threading
from pathlib import PurePosixPath

log = logging.getLogger(__name__)

# Images the detector decodes; other image formats are checked by file name only.
FACE_SCAN_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
# Images larger than this are not decoded (memory: the upload is held whole to be checked).
MAX_FACE_SCAN_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000       # declared dimensions above this are not decoded (decompression bombs)
MAX_SIDE = 640                 # images are downscaled so their longest side is at most this
MIN_FACE_FRACTION = 0.12       # a face must span at least this share of the shorter side (after downscaling)
MIN_FACE_PIXELS = 24           # the cascade's own window size
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 8              # tuned on scikit-image samples: 5 flags the coins and moon photos
CASCADE_FILE = "haarcascade_frontalface_default.xml"

_lock = threading.Lock()
_state: dict = {}  # "cv2", "cascade" once loaded; "unavailable" when they could not be


def is_face_scannable(filename: str) -> bool:
    return PurePosixPath(filename.lower()).suffix in FACE_SCAN_SUFFIXES


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, or None when it is neither or is malformed."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            return int.from_bytes(data[pos + 7:pos + 9], "big"), int.from_bytes(data[pos + 5:pos + 7], "big")
        pos += 2 + length
    return None


def _load():
    """(cv2, a CascadeClassifier per thread) or None; loaded once, warned once."""
    if "unavailable" in _state:
        return None
    if "cv2" not in _state:
        with _lock:
            if "cv2" not in _state and "unavailable" not in _state:
                try:
                    import cv2
                    path = cv2.data.haarcascades + CASCADE_FILE
                    cascade = cv2.CascadeClassifier(path)
                    if cascade.empty():
                        raise RuntimeError(f"cannot load {path}")
                except Exception as exc:  # ImportError, a wheel without cascades (OpenCV 5)
                    _state["unavailable"] = True
                    log.warning("PHI guard: face detection in images is disabled (%s); install "
                                "opencv-python-headless<5", exc)
                    return None
                _state["path"] = path
                _state["cv2"] = cv2
    if "unavailable" in _state:
        return None
    # CascadeClassifier.detectMultiScale is not documented as thread safe: one per thread.
    local = _state.setdefault("local", threading.local())
    cascade = getattr(local, "cascade", None)
    if cascade is None:
        cascade = local.cascade = _state["cv2"].CascadeClassifier(_state["path"])
    return _state["cv2"], cascade


def contains_face(data: bytes) -> bool:
    """True when a PNG/JPEG image shows at least one frontal face. Undecodable data,
    oversized images and a missing OpenCV give False."""
    if not data or len(data) > MAX_FACE_SCAN_BYTES:
        return False
    size = image_size(data)
    if size is None or size[0] * size[1] > MAX_PIXELS:
        return False
    loaded = _load()
    if loaded is None:
        return False
    cv2, cascade = loaded
    import numpy as np
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None or image.ndim != 2 or min(image.shape) < MIN_FACE_PIXELS:
        return False
    height, width = image.shape
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    image = cv2.equalizeHist(image)
    side = max(MIN_FACE_PIXELS, round(min(image.shape) * MIN_FACE_FRACTION))
    faces = cascade.detectMultiScale(image, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS,
                                     minSize=(side, side))
    return len(faces) > 0
