"""`iccp-gateway probe` as a subprocess: against our TASE.2 server (discovery, --read,
--watch, JSON, values by their declared type and for people, --quiet, a tagged device),
against libiec61850's IEC 61850 server (no TASE.2 objects, no crash), and the one-line
errors and exit codes for a refused connection and a refused association (with the ACSE
diagnostic explained). In the same process: the watch data set's name per run, and that
the data set is gone from the server after a refused transfer set and after a cancelled
watch (asked by GetNameList over the probe's own association, before it ends, since the
server drops an association's data sets when it ends)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.names import Scope
from adapters.tase2.mms.services import ObjectClass
from adapters.tase2.model.points import PointType
from adapters.tase2.tools.probe import add_probe_command
from adapters.tase2.tools.probe import probe as probe_in_process
from gateway.points import GOOD
from tests.support import eventually, free_port
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.quirky import Quirks, running_quirky
from tests.support.tase2.server import (
    DOMAIN,
    PEER_AP,
    make_bus,
    probe,
    running_server,
    settings,
    table,
    type_point,
)

pytestmark = pytest.mark.timeout(60)


async def test_probe_of_our_tase2_server_in_json() -> None:
    server_bus, _ = make_bus()
    async with running_server(bus=server_bus) as server:
        assert server.server is not None
        port = server.server.port

        async def change_later() -> None:
            await asyncio.sleep(1.5)
            server_bus.update("GEN1", 77.0, GOOD, 1_700_003_000.0)

        changer = asyncio.create_task(change_later())
        code, out, err = await probe(
            f"127.0.0.1:{port}",
            "--ap-title",
            PEER_AP,
            "--ae-qualifier",
            "12",
            "--read",
            f"{DOMAIN}/GEN1",
            "FREQ",
            "--watch",
            "2.5",
            "--format",
            "json",
        )
        await changer
    assert code == 0, (out, err)
    result = json.loads(out)
    assert result["tase2"] is True and result["version"] == "2000.8"
    assert 1 in result["features"] and 2 in result["features"]
    icc = result["domains"][DOMAIN]
    assert icc["bilateral_table_id"] == "BLT_ICC1"
    assert "Data_RealQTimeTag" in icc["variables"]["GEN1"]
    assert icc["variables"]["Next_DSTransfer_Set"].startswith("struct{Scope: uint8")
    assert "TASE2_Version" in result["vcc_variables"]
    assert isinstance(result["reads"][f"{DOMAIN}/GEN1"]["value"], float)
    assert set(result["reads"]) == {f"{DOMAIN}/GEN1", "FREQ"}
    assert result["reports"], "no report during --watch"
    values = [r["values"] for r in result["reports"]]
    assert any(v.get(f"{DOMAIN}/GEN1", {}).get("value") == 77.0 for v in values)


async def test_probe_of_an_iec61850_server_says_tase2_objects_are_missing() -> None:
    require_pyiec61850()
    port = free_port()
    async with PeerProcess({"mode": "ied-server", "port": port, "seconds": 30}) as peer:
        ready = await peer.until("ready")
        assert ready["ready"] is True, peer.lines
        code, out, err = await probe(f"127.0.0.1:{port}", "--read", "FREQ")
        json_code, json_out, _ = await probe(f"127.0.0.1:{port}", "--format", "json")
        peer.send_line()
        await peer.finish()
    assert code == 1, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert "NOT A TASE.2 SERVER" in out and "TASE2_Version" in out
    assert "GGIO1$MX$AnIn1$mag$f: float32" in out
    assert "read FREQ" in out and "object-non-existent" in out
    assert json_code == 1
    result = json.loads(json_out)
    assert result["tase2"] is False and result["version"] is None
    (ld,) = [d for d in result["domains"] if d.endswith("ld")]
    assert result["domains"][ld]["variables"]["GGIO1$ST$Ind1$stVal"] == "bool"


async def test_probe_errors_are_one_line_with_their_exit_codes() -> None:
    code, out, err = await probe(f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert code == 3, (out, err)
    assert err.count("\n") == 1 and "cannot connect" in err
    async with running_server() as server:
        assert server.server is not None
        code, out, err = await probe(
            f"127.0.0.1:{server.server.port}", "--ap-title", "1.2.3.4", "--timeout", "2"
        )
    assert code == 4, (out, err)
    assert err.count("\n") == 1 and "association refused" in err
    assert "ACSE diagnostic 3, calling AP-title not recognized" in err
    assert "the server has no bilateral table for our AP-title 1.2.3.4 (use --ap-title)" in err
    code, _, err = await probe("host:notaport")
    assert code == 2 and "not a number" in err
    code, _, err = await probe("127.0.0.1", "--remote-ap-title", "iso")
    assert code == 2 and "not a dotted OID" in err


AS_PEER = ("--ap-title", PEER_AP, "--ae-qualifier", "12")
STATEQ_TIMETAG = f"{DOMAIN}/{type_point(PointType.DATA_STATEQ_TIMETAG)}"
REALQ_TIMETAG_EXT = f"{DOMAIN}/{type_point(PointType.DATA_REALQ_TIMETAG_EXTENDED)}"


def iso(ts: float, ms: bool = False) -> str:
    """The expected ISO 8601 UTC text, computed independently of the probe."""
    when = datetime.fromtimestamp(ts, UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{when.microsecond // 1000:03d}Z" if ms else "Z")


async def test_state_points_are_printed_as_state_names_with_iso_times() -> None:
    bus, _ = make_bus()
    stateq = bus.get(type_point(PointType.DATA_STATEQ_TIMETAG))
    real_ext = bus.get(type_point(PointType.DATA_REALQ_TIMETAG_EXTENDED))
    async with running_server(bus=bus) as server:
        assert server.server is not None
        address = f"127.0.0.1:{server.server.port}"
        reads = ("--read", STATEQ_TIMETAG, f"{DOMAIN}/BRK1", REALQ_TIMETAG_EXT)
        code, out, err = await probe(address, *AS_PEER, *reads, "--quiet")
        json_code, json_out, _ = await probe(address, *AS_PEER, *reads, "--format", "json")
        full_code, full_out, _ = await probe(address, *AS_PEER, "--read", STATEQ_TIMETAG)
    assert code == 0 and json_code == 0 and full_code == 0, (out, err)
    assert stateq.value == 2 and stateq.quality.validity.name == "SUSPECT"
    assert (
        f"read {STATEQ_TIMETAG} = closed suspect calculated {iso(stateq.ts)} (Data_StateQTimeTag)"
        in out
    )
    assert f"read {DOMAIN}/BRK1 = closed " in out
    assert f"{real_ext.value:g} " in out and iso(real_ext.ts, ms=True) in out
    # --quiet: no listing of the server's variables; without it the listing is there
    assert "VCC variables" not in out and "domain ICC1" not in out
    assert "TASE2_Version" not in out and out.count("\n") == 3
    assert "domain ICC1 (Bilateral_Table_ID BLT_ICC1)" in full_out
    assert f"read {STATEQ_TIMETAG} = closed" in full_out
    value = json.loads(json_out)["reads"][STATEQ_TIMETAG]
    assert value["type"] == "Data_StateQTimeTag"
    assert value["value"] == 2 and value["state"] == "closed"
    assert value["ts"] == int(stateq.ts) and value["time"] == iso(stateq.ts)
    assert value["quality"]["validity"] == "suspect" and value["quality_text"] == (
        "suspect calculated"
    )


async def test_a_refused_operate_on_a_tagged_device_names_the_tag(tmp_path: Path) -> None:
    device = {
        "name": "BRK1_DEV",
        "point": "BRK1",
        "status_point": "BRK1",
        "kind": "command",
        "taggable": True,
        "operate": True,
        "get_tag": True,
        "set_tag": True,
    }
    sbo_device = {**device, "name": "BRK1_SBO_DEV", "sbo": True, "check_back_id": 7}
    tables = [{**table(), "devices": [device, sbo_device]}]
    s = settings(tables=tables, state_dir=str(tmp_path))
    async with running_server(s) as server:
        assert server.server is not None
        address = f"127.0.0.1:{server.server.port}"
        sbo_code, sbo_out, _ = await probe(
            address, *AS_PEER, "--quiet", "--operate", f"{DOMAIN}/BRK1_SBO_DEV", "1"
        )
        code, out, err = await probe(
            address,
            *AS_PEER,
            "--quiet",
            "--tag",
            f"{DOMAIN}/BRK1_DEV",
            "close-only",
            "crew on line 7",
            "--operate",
            f"{DOMAIN}/BRK1_DEV",
            "1",
        )
    assert code == 1, (out, err)
    why = "refused: temporarily-unavailable (device tagged close-only inhibit: crew on line 7)"
    assert f"operate {DOMAIN}/BRK1_DEV 1: {why}" in out
    assert f"problem: operate {DOMAIN}/BRK1_DEV: {why}" in out
    for line in out.splitlines():
        assert line.count("temporarily-unavailable") <= 1, line
        assert line.count(f"operate {DOMAIN}/BRK1_DEV") <= 1, line
    # not tagged, but not selected either: the reason says what to do
    assert sbo_code == 1 and "device tagged" not in sbo_out
    assert f"{DOMAIN}/BRK1_SBO_DEV is select-before-operate: use --sbo" in sbo_out


def probe_args(*argv: str) -> argparse.Namespace:
    """The parsed ``iccp-gateway probe ARGV``, for the probe run in this process."""
    parser = argparse.ArgumentParser()
    add_probe_command(parser.add_subparsers())
    return parser.parse_args(["probe", *argv])


def data_sets_before_conclude(
    monkeypatch: pytest.MonkeyPatch,
) -> list[list[str]]:
    """The server's data sets of ICC1, asked over the probe's association just before it
    concludes (one list per probe run)."""
    seen: list[list[str]] = []
    conclude = MmsClient.conclude

    async def listing_then_conclude(self: MmsClient, timeout: float | None = None) -> None:
        names = await self.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, DOMAIN)
        seen.append(names)
        await conclude(self, timeout)

    monkeypatch.setattr(MmsClient, "conclude", listing_then_conclude)
    return seen


async def test_a_refused_transfer_set_leaves_no_data_set_on_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = data_sets_before_conclude(monkeypatch)
    async with running_server() as server:
        assert server.server is not None
        address = f"127.0.0.1:{server.server.port}"
        # IntervalTimeOut with Interval 0: the server refuses to start the transfer set
        args = probe_args(address, *AS_PEER, "--watch", "2", "--point", f"{DOMAIN}/GEN1")
        args.interval = 0
        result = await probe_in_process(args, None)
    (problem,) = [p for p in result.problems if p.startswith("watch:")]
    assert "object-attribute-inconsistent (the value's components do not go together)" in problem
    assert not result.reports
    name = result.watch["data_set"].split("/")[1]
    assert result.watch["deleted"] is True
    (listed,) = seen
    assert name not in listed and not [n for n in listed if n.startswith("GWP_")]


async def test_each_run_watches_through_a_data_set_of_its_own_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = data_sets_before_conclude(monkeypatch)
    async with running_server() as server:
        assert server.server is not None
        args = probe_args(
            f"127.0.0.1:{server.server.port}", *AS_PEER, "--watch", "1.5", "--point", "ICC1/GEN1"
        )
        first = await probe_in_process(args, None)
        second = await probe_in_process(args, None)
    names = [first.watch["data_set"], second.watch["data_set"]]
    assert all(re.fullmatch(r"ICC1/GWP_[A-Z0-9]{6}", n) for n in names), names
    assert names[0] != names[1]
    assert first.reports and second.reports, "no report during --watch"
    assert first.watch["stopped"] and first.watch["deleted"]
    assert seen == [[], []]


async def test_a_cancelled_watch_stops_and_deletes_what_it_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = data_sets_before_conclude(monkeypatch)
    async with running_server() as server:
        assert server.server is not None
        args = probe_args(
            f"127.0.0.1:{server.server.port}", *AS_PEER, "--watch", "30", "--point", "ICC1/GEN1"
        )
        out = io.StringIO()
        task = asyncio.create_task(probe_in_process(args, out))
        await eventually(lambda: "report +" in out.getvalue(), 10.0, "a first report")
        task.cancel()  # what Ctrl-C does to asyncio.run's main task
        with pytest.raises(asyncio.CancelledError):
            await task
    (listed,) = seen
    assert not [n for n in listed if n.startswith("GWP_")], listed


async def test_watch_on_a_freetase2_like_server_decodes_declared_types_and_cleans_up() -> None:
    """Components in another order, Next_DSTransfer_Set a {Available, Max, Name} structure,
    DataSetName a string, and data sets that outlive the association: the probe watches,
    reads the values right and leaves nothing behind."""
    quirks = Quirks(
        point_order=("Value", "Flags", "TimeStamp"),
        next_ds_transfer_set="struct",
        data_set_name="string",
        keep_data_sets=True,
    )
    async with running_quirky(quirks, points=3) as (server, port):
        server.set_value("pt002", 42.5, flags=0x20, ts=1_800_000_000)
        args = probe_args(f"127.0.0.1:{port}", "--watch", "1.5", "--point", "ICC1/pt002")
        out = io.StringIO()
        result = await probe_in_process(args, out)
        assert not [n for n in server.data_sets if n.item.startswith("GWP_")]
    assert result.reports, out.getvalue()
    assert "ICC1/pt002 = 42.5 suspect" in out.getvalue()
    assert "2027-01-15T08:00:00Z" in out.getvalue()
    assert "from ICC1/DSTS_1" in out.getvalue()
    assert result.watch["deleted"] is True
