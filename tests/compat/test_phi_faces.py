"""Face photos uploaded as artifacts, against a real server through the official client.

The default guard mode is block: an image with a frontal face is refused and nothing is
stored; a matplotlib figure is accepted. The face is scikit-image's astronaut (a
public-domain NASA portrait), never patient data.
"""
from __future__ import annotations

import uuid

import pytest
from mlflow import MlflowClient

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def client(medflow_server) -> MlflowClient:
    return MlflowClient(tracking_uri=medflow_server.url)


@pytest.fixture
def run_id(client) -> str:
    experiment_id = client.create_experiment(f"phi-faces-{uuid.uuid4().hex[:8]}")
    return client.create_run(experiment_id).info.run_id


def test_a_face_photo_is_refused_and_not_stored(client, run_id, tmp_path):
    photo = tmp_path / "sample.png"
    ok, buf = cv2.imencode(".png", cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR))
    assert ok
    photo.write_bytes(buf.tobytes())
    with pytest.raises(Exception) as excinfo:  # the artifact repository raises requests' HTTPError
        client.log_artifact(run_id, str(photo), "images")
    assert "PHI" in str(excinfo.value)
    assert client.list_artifacts(run_id, "images") == []
    assert client.list_artifacts(run_id) == []


def test_a_matplotlib_figure_is_accepted(client, run_id):
    fig, ax = plt.subplots()
    ax.plot(range(50), [1 / (1 + e) for e in range(50)], label="train loss")
    ax.set_xlabel("epoch")
    ax.legend()
    client.log_figure(run_id, fig, "plots/loss.png")
    plt.close(fig)
    assert [f.path for f in client.list_artifacts(run_id, "plots")] == ["plots/loss.png"]
