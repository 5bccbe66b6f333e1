"""open_store: the one way the collector command, the API and the demo open their store.
It checks the store before use and says in one sentence what is wrong and what to do;
for InfluxDB it gives the API the collector's ledger when it is on the same host."""

from __future__ import annotations

import pytest

from citizenwatt.config import Settings
from citizenwatt.i18n import lang_scope
from citizenwatt.store.backends import open_store
from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.port import StoreUnavailable
from citizenwatt.store.sqlite import SqliteStore
from tests.services import free_port
from tests.store.helpers import T0, series
from tests.store.test_influx import latest_readings


def test_the_embedded_store_is_the_file_in_the_data_directory(tmp_path):
    store = open_store(Settings(data_dir=tmp_path / "data"))
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "data" / "readings.sqlite"
    store.write(series(3), T0)
    store.close()
    again = open_store(Settings(data_dir=tmp_path / "data"), for_collector=False)
    assert [m.readings for m in again.meters()] == [3]
    again.close()


@pytest.mark.parametrize("kind", ["sqlite", "influxdb"])
def test_a_data_directory_that_is_a_file_is_one_sentence_in_french_or_english(tmp_path, kind):
    not_a_dir = tmp_path / "data"
    # nothing listens on the InfluxDB address: the ledger's file is the first problem
    settings = Settings(data_dir=not_a_dir, store={
        "kind": kind, "influx_url": f"http://127.0.0.1:{free_port()}"})
    not_a_dir.write_text("")  # after the load, which refuses a file: the folder went away
    with lang_scope("fr"), pytest.raises(StoreUnavailable) as fr:
        open_store(settings)
    msg = str(fr.value)
    assert str(not_a_dir) in msg and "--data-dir" in msg and "\n" not in msg
    assert msg.startswith("Le magasin embarqué") and "Vérifiez" in msg
    with lang_scope("en"), pytest.raises(StoreUnavailable) as en:
        open_store(settings)
    # an error is said in the language of whoever reads it
    assert en.value.say("en").startswith("The embedded store") and "Check that" in en.value.say("en")
    assert en.value.say("fr") == msg


def test_unreachable_influxdb_names_the_address(tmp_path):
    port = free_port()
    settings = Settings(data_dir=tmp_path, store={
        "kind": "influxdb", "influx_url": f"http://127.0.0.1:{port}"})
    with pytest.raises(StoreUnavailable) as e:
        open_store(settings)
    assert f"127.0.0.1:{port}" in str(e.value) and "Vérifiez" in str(e.value)


def test_open_store_for_the_api_uses_the_ledger_when_it_is_here(influx, tmp_path):
    settings = Settings(data_dir=tmp_path, store={
        "kind": "influxdb", "influx_url": influx.url, "influx_token": influx.token,
        "influx_bucket": influx.bucket})
    far = open_store(settings, for_collector=False)  # no ledger in this directory yet
    assert isinstance(far, InfluxStore) and far.ledger is None
    far.close()
    collector = open_store(settings)  # creates the ledger and ships it
    ch0, ch1 = latest_readings()
    collector.write(ch0 + ch1, T0)
    assert collector.flush(10)
    api = open_store(settings, for_collector=False)
    assert api.ledger is not None and api._shipper is None  # reads it, never ships it
    assert api.latest("m-1") == collector.latest("m-1")
    assert [(r.channel, r.boot, r.seq) for r in api.latest("m-1")] == [(0, 2, 4), (1, 1, 29)]
    assert api.meters() == collector.meters()
    api.close()
    collector.close()
