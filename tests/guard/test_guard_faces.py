"""Face detection in uploaded images (Safe Harbor identifier Q, full-face photographs).

The positive case is scikit-image's astronaut (a public-domain NASA portrait bundled in the
package), never patient data. ML plots made with matplotlib must not be flagged.
"""
from __future__ import annotations

import io
import logging
import time
from types import SimpleNamespace

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from medflow.errors import MedflowError  # noqa: E402
from medflow.guard import faces  # noqa: E402
from medflow.guard.artifacts import scan_artifact  # noqa: E402
from medflow.services.phi import PhiService  # noqa: E402


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut_png() -> bytes:
    return encode(skimage_data.astronaut())


def confusion_matrix_png() -> bytes:
    rng = np.random.default_rng(1)
    matrix = rng.integers(0, 200, (8, 8))
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(matrix, cmap="Blues")
    for i in range(8):
        for j in range(8):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(ax.images[0])
    return figure_png(fig)


def roc_curve_png() -> bytes:
    fpr = np.linspace(0, 1, 200)
    fig, ax = plt.subplots()
    ax.plot(fpr, fpr ** 0.3, label="model (AUC = 0.87)")
    ax.plot([0, 1], [0, 1], "--", label="chance")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.legend()
    return figure_png(fig)


def loss_curve_png() -> bytes:
    rng = np.random.default_rng(2)
    epochs = np.arange(200)
    fig, ax = plt.subplots()
    ax.plot(epochs, np.exp(-epochs / 30) + 0.05 * rng.random(200), label="train")
    ax.plot(epochs, np.exp(-epochs / 40) + 0.1 + 0.05 * rng.random(200), label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True)
    ax.legend()
    return figure_png(fig)


def test_the_cascade_ships_in_the_wheel():
    assert faces._load() is not None, "opencv-python-headless<5 must be installed (OpenCV 5 has no cascades)"


def test_a_face_photo_is_detected(astronaut_png):
    assert faces.contains_face(astronaut_png)
    assert faces.contains_face(encode(skimage_data.astronaut(), ".jpg"))


def test_a_large_face_photo_is_detected_after_downscaling():
    big = cv2.resize(skimage_data.astronaut(), (2400, 2400), interpolation=cv2.INTER_CUBIC)
    assert faces.contains_face(encode(big, ".jpg"))


@pytest.mark.parametrize("make", [confusion_matrix_png, roc_curve_png, loss_curve_png], ids=lambda f: f.__name__)
def test_ml_plots_are_not_faces(make):
    assert not faces.contains_face(make())


@pytest.mark.parametrize("name", ["camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text",
                                  "immunohistochemistry", "retina", "hubble_deep_field"])
def test_other_photos_without_a_frontal_face_are_not_flagged(name):
    image = getattr(skimage_data, name)()
    if image.dtype != np.uint8:
        image = (image * 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    assert not faces.contains_face(encode(image))


def test_noise_blank_and_garbage_are_not_faces():
    rng = np.random.default_rng(0)
    assert not faces.contains_face(encode(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)))
    assert not faces.contains_face(encode(np.full((480, 640, 3), 255, np.uint8)))
    assert not faces.contains_face(encode(np.zeros((1, 1), np.uint8)))
    assert not faces.contains_face(b"")
    assert not faces.contains_face(b"not an image at all")


def test_a_cut_image_is_not_decoded(astronaut_png):
    assert not faces.contains_face(astronaut_png[: len(astronaut_png) // 2])


def test_image_size_reads_png_and_jpeg_headers(astronaut_png):
    assert faces.image_size(astronaut_png) == (512, 512)
    assert faces.image_size(encode(np.zeros((30, 70), np.uint8), ".jpg")) == (70, 30)
    assert faces.image_size(b"GIF89a....") is None


def test_a_decompression_bomb_is_not_decoded(monkeypatch):
    """A small PNG may declare huge dimensions: those are refused before decoding."""
    png = encode(np.zeros((40, 40), np.uint8))
    bomb = png[:16] + (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big") + png[24:]
    monkeypatch.setattr(faces, "_load", lambda: pytest.fail("decoded a bomb"))
    assert not faces.contains_face(bomb)


def test_without_opencv_the_check_is_skipped_with_one_warning(monkeypatch, caplog, astronaut_png):
    monkeypatch.setattr(faces, "_state", {})
    import builtins
    real_import = builtins.__import__

    def no_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    with caplog.at_level(logging.WARNING, logger="medflow.guard.faces"):
        assert not faces.contains_face(astronaut_png)
        assert not faces.contains_face(astronaut_png)
    assert len([r for r in caplog.records if "face detection" in r.message]) == 1


def test_scan_artifact_reports_a_photo_finding(astronaut_png):
    findings = scan_artifact("run_outputs/sample.png", astronaut_png)
    assert [(f.kind, f.location) for f in findings] == [("photo", "image")]
    assert scan_artifact("plots/roc.png", roc_curve_png()) == []
    assert scan_artifact("sample.gif", astronaut_png) == []  # only PNG/JPEG are decoded


def test_a_one_megapixel_image_is_scanned_quickly():
    image = encode(cv2.resize(skimage_data.astronaut(), (1000, 1000)), ".jpg")
    faces.contains_face(image)  # warm-up: the cascade loads once
    start = time.perf_counter()
    assert faces.contains_face(image)
    assert time.perf_counter() - start < 2.0


# --- the server hook: block / redact / warn -------------------------------------------------

def phi_service(mode: str) -> PhiService:
    settings = SimpleNamespace(phi_guard_config=None, phi_guard_mode=mode, phi_guard_enabled=True)
    return PhiService(SimpleNamespace(settings=settings))


@pytest.mark.parametrize("mode", ["block", "redact"])
def test_a_face_photo_is_rejected_in_block_and_redact_mode(mode, astronaut_png):
    with pytest.raises(MedflowError) as excinfo:
        phi_service(mode).screen_artifact("1/abc/artifacts/sample.png", astronaut_png, workspace="default")
    assert "PHI" in str(excinfo.value) and "full-face" in str(excinfo.value)


def test_a_face_photo_is_stored_in_warn_mode(astronaut_png):
    assert phi_service("warn").screen_artifact("1/abc/artifacts/sample.png", astronaut_png,
                                               workspace="default") is None


def test_a_plot_passes_the_hook():
    assert phi_service("block").screen_artifact("1/abc/artifacts/loss.png", loss_curve_png(),
                                                workspace="default") is None
