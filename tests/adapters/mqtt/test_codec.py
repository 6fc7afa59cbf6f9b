"""The MQTT adapter's sans-IO parts: payloads, topics, JSON paths, buffer, publication rules."""

import json
import math

import pytest
from pydantic import ValidationError

from adapters.mqtt.buffer import ForwardBuffer, Journal
from adapters.mqtt.codec import (
    PayloadEncoder,
    PayloadError,
    Topics,
    as_number,
    as_timestamp,
    compile_path,
    decode_command,
    extract,
    iso_utc,
    parse_number,
)
from adapters.mqtt.filters import PublishFilter, Rule
from adapters.mqtt.settings import MqttSettings
from gateway.points import GOOD, PointValue, Quality, Source, State, Validity


def pv(point="MW", value=1.5, quality=GOOD, ts=1746100800.25, cov=7):
    return PointValue(point, value, quality, ts, cov)


def test_point_payload_has_value_quality_times_cov_and_units():
    enc = PayloadEncoder({"MW": "MW"})
    q = Quality(Validity.SUSPECT, Source.ESTIMATED, abnormal=True)
    doc = json.loads(enc.point_json(pv(quality=q)))
    assert doc == {
        "point": "MW",
        "value": 1.5,
        "quality": {
            "validity": "suspect",
            "source": "estimated",
            "normal": False,
            "timestamp_valid": True,
        },
        "ts": "2025-05-01T12:00:00.250000Z",
        "ts_ms": 1746100800250,
        "cov": 7,
        "units": "MW",
    }
    # the same fields PointValue.to_dict() gives, plus units
    expected = pv(quality=q).to_dict()
    assert {k: doc[k] for k in expected if k != "ts"} == {
        k: v for k, v in expected.items() if k != "ts"
    }


def test_states_integers_and_non_finite_values_encode_as_json():
    enc = PayloadEncoder({})
    assert json.loads(enc.point_json(pv("BRK", State.ON)))["value"] == 2
    assert json.loads(enc.point_json(pv("TAP", 17)))["value"] == 17
    assert json.loads(enc.point_json(pv("X", math.nan)))["value"] is None
    assert json.loads(enc.point_json(pv("X", -math.inf)))["value"] is None
    assert json.loads(enc.point_json(pv("X")))["units"] == ""


def test_batch_payload_packs_points_and_numbers_batches():
    enc = PayloadEncoder({"A": "kV"})
    first = json.loads(enc.batch_json([pv("A", 1.0), pv("B", 2.0, ts=1.0)]))
    second = json.loads(enc.batch_json([pv("A", 3.0)]))
    assert first["seq"] == 1 and second["seq"] == 2 and first["count"] == 2
    assert [p["point"] for p in first["points"]] == ["A", "B"]
    assert first["points"][1]["ts"] == "1970-01-01T00:00:01.000000Z"


def test_iso_time_rounds_microseconds_up_into_the_next_second():
    assert iso_utc(0.9999999) == "1970-01-01T00:00:01.000000Z"


def test_topics_and_command_topics():
    topics = Topics.build("iccp/", "/plant1")
    assert topics.point("GEN1_MW") == "iccp/plant1/GEN1_MW"
    assert topics.status == "iccp/plant1/_status" and topics.batch == "iccp/plant1/_batch"
    assert topics.command_filter == "iccp/plant1/+/set"
    assert topics.command_point("iccp/plant1/GEN1_MW/set") == "GEN1_MW"
    assert topics.command_point("iccp/plant1/GEN1_MW") is None
    assert topics.command_point("iccp/other/GEN1_MW/set") is None
    assert topics.command_point("iccp/plant1/a/b/set") is None
    assert topics.default_response("SP") == "iccp/plant1/SP/set/result"
    with pytest.raises(ValueError, match="wildcards"):
        Topics.build("iccp", "site/#")


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.ac.power", ("ac", "power")),
        ("ac.power", ("ac", "power")),
        ("data[0].p", ("data", 0, "p")),
        ("$['odd key'][-1]", ("odd key", -1)),
        ("$[2]", (2,)),
    ],
)
def test_json_paths_compile(path, steps):
    assert compile_path(path) == steps


@pytest.mark.parametrize("path", ["$", "", "a..b", "a[x]"])
def test_bad_json_paths_are_rejected(path):
    with pytest.raises(ValueError):
        compile_path(path)


def test_extract_walks_objects_and_lists_and_reports_what_is_missing():
    doc = {"data": [{"p": 4.5}], "odd key": [1, 2]}
    assert extract(doc, compile_path("data[0].p")) == 4.5
    assert extract(doc, compile_path("$['odd key'][-1]")) == 2
    with pytest.raises(PayloadError, match="no 'q'"):
        extract(doc, compile_path("data[0].q"))
    with pytest.raises(PayloadError, match="expected an object"):
        extract(doc, compile_path("data.p"))
    with pytest.raises(PayloadError, match="expected a list"):
        extract(doc, compile_path("data[0][1]"))


def test_bare_numbers():
    assert parse_number(b" 42 ") == 42 and isinstance(parse_number(b"42"), int)
    assert parse_number(b"-1.5e3") == -1500.0
    assert parse_number(b"true") == 1
    for bad in (b"abc", b"", b"nan", b"inf", b'{"v": 1}'):
        with pytest.raises(PayloadError):
            parse_number(bad)


def test_time_stamps_in_seconds_milliseconds_and_iso():
    assert as_timestamp(1746100800) == 1746100800.0
    assert as_timestamp(1746100800250) == pytest.approx(1746100800.25)
    assert as_timestamp("2025-05-01T12:00:00.25Z") == pytest.approx(1746100800.25)
    for bad in ("2025-05-01T12:00:00", "yesterday", None, [1]):
        with pytest.raises(PayloadError):
            as_timestamp(bad)


def test_command_payloads():
    assert decode_command(b"12.5").value == 12.5
    request = decode_command(b'{"value": 3, "correlation_id": "r1"}')
    assert request.value == 3 and request.correlation_id == "r1"
    for bad in (b"{}", b'{"value": "x"}', b"{", b'{"value": 1, "correlation_id": [1]}'):
        with pytest.raises(PayloadError):
            decode_command(bad)


# -- store and forward -----------------------------------------------------------------------


def test_buffer_delivers_in_order_and_resends_unacknowledged_after_rewind():
    buf = ForwardBuffer(10)
    for i in range(5):
        buf.push("t", str(i).encode())
    first = buf.take(3)
    assert [m.payload for m in first] == [b"0", b"1", b"2"] and buf.in_flight == 3
    assert buf.ack(first[1].seq)  # out of order
    buf.rewind()  # connection lost: 0 and 2 unacknowledged
    assert [m.payload for m in buf.take(10)] == [b"0", b"2", b"3", b"4"]
    assert not buf.ack(999)


def test_buffer_overflow_drops_the_oldest_and_counts():
    buf = ForwardBuffer(3)
    dropped = sum(buf.push("t", str(i).encode()) for i in range(5))
    assert dropped == 2 and buf.overflow == 2 and len(buf) == 3
    assert [m.payload for m in buf.take(5)] == [b"2", b"3", b"4"]


def test_journal_survives_a_restart_and_a_torn_tail(tmp_path):
    path = tmp_path / "spool" / "q.bin"
    buf = ForwardBuffer(100, Journal(path))
    for i in range(4):
        buf.push(f"t/{i}", f"p{i}".encode(), retain=i == 3)
    sent = buf.take(2)
    buf.ack(sent[0].seq)
    buf.close()
    with path.open("ab") as f:
        f.write(b"\x01\x00\x00")  # a record cut short by a crash
    again = ForwardBuffer(100, Journal(path))
    messages = again.take(10)
    assert [(m.topic, m.payload, m.retain) for m in messages] == [
        ("t/1", b"p1", False),
        ("t/2", b"p2", False),
        ("t/3", b"p3", True),
    ]
    again.push("t/4", b"p4")
    assert again.take(1)[0].seq > messages[-1].seq
    again.close()


def test_journal_compacts(tmp_path):
    path = tmp_path / "q.bin"
    buf = ForwardBuffer(10, Journal(path, compact_after=50))
    for _ in range(200):
        buf.push("t", b"x" * 100)
        buf.ack(buf.take(1)[0].seq)
    buf.flush()
    assert path.stat().st_size < 50 * 200
    buf.close()


# -- publication rules -------------------------------------------------------------------------


def test_deadband_suppresses_small_moves_from_the_last_published_value():
    f = PublishFilter({"A": Rule(deadband=1.0)})
    assert f.admit([pv("A", 10.0), pv("B", 1.0)], 0.0) == [pv("A", 10.0), pv("B", 1.0)]
    assert f.admit([pv("A", 10.6)], 1.0) == []
    assert f.admit([pv("A", 11.2)], 2.0) == [pv("A", 11.2)]  # 1.2 from 10.0
    bad = pv("A", 11.2, quality=Quality(Validity.NOT_VALID))
    assert f.admit([bad], 3.0) == [bad]  # a quality change always goes out
    assert f.suppressed == 1


def test_minimum_interval_holds_the_latest_and_releases_it_when_due():
    f = PublishFilter({"A": Rule(min_interval=1.0)})
    assert f.admit([pv("A", 1.0)], 0.0) == [pv("A", 1.0)]
    assert f.admit([pv("A", 2.0), pv("A", 3.0)], 0.2) == []
    assert f.next_due() == pytest.approx(1.0)
    assert f.due(0.5) == []
    assert f.due(1.0) == [pv("A", 3.0)]
    assert f.next_due() is None


# -- settings ----------------------------------------------------------------------------------


def test_settings_points_and_checks():
    s = MqttSettings.model_validate(
        {
            "mqtt_version": 5,
            "publish": ["A", {"point": "B", "deadband": 0.5}],
            "subscribe": [{"topic": "der/pv1", "point": "PV", "path": "$.ac.p"}],
            "commands": ["SP"],
        }
    )
    assert s.mqtt_version == "5"
    assert s.owned_points() == {"PV"} and s.consumed_points() == {"A", "B", "SP"}
    for bad in (
        {"subscribe": [{"topic": "der/+", "point": "PV"}]},
        {"subscribe": [{"topic": "der/x", "point": "PV", "path": "a[x]"}]},
        {"publish": ["A", "A"]},
        {"site": "a/#"},
        {"mqtt_version": "3.1.1", "session_expiry": 60},
    ):
        with pytest.raises(ValidationError):
            MqttSettings.model_validate(bad)


def test_numbers_too_large_for_a_float_are_payload_errors():
    huge = 10**400
    with pytest.raises(PayloadError, match="too large"):
        as_number(huge)
    with pytest.raises(PayloadError):
        parse_number(str(huge).encode())
    assert as_number(2**63) == 2**63  # large but representable: kept exact
