"""The worker's Faust application, built without a broker."""

from __future__ import annotations

from streams.settings import KafkaSettings, StoreSettings, WorkerSettings
from streams.worker.app import create_app


def test_a_data_dir_that_does_not_exist_yet_is_created(tmp_path):
    data_dir = tmp_path / "fresh" / "checkout"
    app = create_app(KafkaSettings(), WorkerSettings(), StoreSettings(data_dir=data_dir))
    assert (data_dir / "faust").is_dir()
    assert app.conf.web_bind == "127.0.0.1"
