"""Endpoint roles: our passive ``tase2-client`` (it listens) with our active ``tase2-server``
(it calls out), in clear text and over TLS: transfer-set reports, a control (Write) round
trip, the server calling again after the link ends, and callers the client refuses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.tase2.client.adapter import Tase2ClientAdapter
from adapters.tase2.client.passive import check_caller
from adapters.tase2.client.settings import Tase2ClientSettings
from adapters.tase2.errors import LocalError
from adapters.tase2.iso.acse import AuthenticationRequest, UserDiagnostic
from adapters.tase2.mms.aio.client import MmsAssociationError, MmsClient
from adapters.tase2.mms.aio.server import MmsServer, OutboundCall, UnsupportedHandler
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.security.endpoint import AllowList
from adapters.tase2.server.adapter import Tase2ServerAdapter
from adapters.tase2.server.settings import Tase2ServerSettings
from gateway.bus import PointBus
from gateway.points import PointKind, Validity
from tests.support import eventually, free_port, require_program, running
from tests.support.peers.tshark import TsharkCapture, problems
from tests.support.tase2.client import client_settings, make_client_bus, running_client
from tests.support.tase2.server import PEER_AP, SERVER_AP, make_bus, settings, table
from tests.support.tls import Identity, TestPki

pytestmark = [pytest.mark.timeout(90), pytest.mark.both_loops]

POINTS = [
    {"remote": "GEN1", "point": "C_GEN1", "data_set": "RBE"},
    {"remote": "BRK1", "point": "C_BRK1", "data_set": "RBE"},
    {"remote": "SP1", "point": "C_SP1", "type": "Data_Real", "writable": True, "data_set": "RBE"},
]
EXTRA = [("C_GEN1", PointKind.REAL), ("C_BRK1", PointKind.STATE), ("C_SP1", PointKind.REAL)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


def tls_block(ident: Identity, pki: TestPki, **extra: Any) -> dict[str, Any]:
    return {
        "certificate": str(ident.certificate),
        "private_key": str(ident.private_key),
        "ca": str(pki.ca_file),
        **extra,
    }


def passive_settings(**extra: Any) -> Tase2ClientSettings:
    """A client listening on a free port for the server of the fixture tables."""
    listen = f"127.0.0.1:{free_port()}"
    connect = {"mode": "passive", "listen": listen, **extra.pop("connect", {})}
    raw: dict[str, Any] = {
        "connect": connect,
        "local_ap_title": PEER_AP,
        "local_ae_qualifier": 12,
        "remote_ap_title": SERVER_AP,
        "remote_ae_qualifier": 12,
        "bilateral_table_id": "BLT_ICC1",
        "domain": "ICC1",
        "request_timeout": 2.0,
        "data_sets": [{"name": "RBE", "integrity": 1, "rbe": True}],
        "points": POINTS,
        **extra,
    }
    return Tase2ClientSettings.model_validate(raw)


def active_settings(port: int, **extra: Any) -> Tase2ServerSettings:
    """The fixture server calling table BLT_ICC1's peer at 127.0.0.1:port."""
    tables = extra.pop("tables", None) or [table()]
    connect = {
        "mode": "active",
        "call": [{"table": "BLT_ICC1", "addresses": [f"127.0.0.1:{port}"]}],
        "backoff_initial": 0.2,
        "backoff_max": 1.0,
        "connect_timeout": 2.0,
    }
    return settings(tables=tables, connect=connect, **extra)


@contextlib.asynccontextmanager
async def listening(cfg: Tase2ClientSettings, bus: PointBus) -> AsyncIterator[Tase2ClientAdapter]:
    async with running_client(cfg, bus) as client:
        await eventually(
            lambda: client.listener is not None and client.listener.port != 0,
            5.0,
            "the passive client to listen",
        )
        yield client


@contextlib.asynccontextmanager
async def calling(s: Tase2ServerSettings, bus: PointBus) -> AsyncIterator[Tase2ServerAdapter]:
    adapter = Tase2ServerAdapter("tase2", s, bus)
    async with running(adapter) as task:
        await eventually(lambda: adapter.server is not None, 5.0, "the server to start")
        yield adapter
        assert not task.done(), task


def listen_port(client: Tase2ClientAdapter) -> int:
    assert client.listener is not None
    return client.listener.port


async def test_passive_client_and_active_server_in_clear_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server_bus, owner = make_bus()
    bus = make_client_bus(EXTRA)
    async with listening(passive_settings(), bus) as client:
        assert client.status()["connect"]["mode"] == "passive"
        async with calling(active_settings(listen_port(client)), server_bus) as server:
            await eventually(lambda: client.link.state == "running", 10.0, "running")
            assert server.server is not None and server.server.associations == 1
            # values flow by transfer-set reports, from the server that called
            server_bus.update("GEN1", 42.5, ts=1_700_000_042.0)
            await eventually(lambda: bus.get("C_GEN1").value == 42.5, 3.0, "the report")
            assert client.ingest.stats.reports >= 1
            # a control round trip: the client's Write reaches the server's point owner
            result = await bus.command("C_SP1", 12.5)
            assert result.ok, result
            assert ("SP1", 12.5) in owner.commands
            status = client.status()["connect"]
            assert status["caller"] is not None and status["accepted"] == 1
            # the link ends (the client's association aborted): the server calls again
            live = client._client
            assert live is not None
            await live.abort()
            await eventually(lambda: client.link.associations >= 2, 10.0, "called again")
            await eventually(lambda: client.link.state == "running", 10.0, "running again")
            server_bus.update("GEN1", 43.5, ts=1_700_000_043.0)
            await eventually(lambda: bus.get("C_GEN1").value == 43.5, 3.0, "after the redial")
            state = server.server.calls["BLT_ICC1"].to_dict()
            assert state["completed"] == 1 and state["attempts"] >= 2, state
        # the server is gone: the points are not valid, the client listens again
        await eventually(
            lambda: bus.get("C_GEN1").quality.validity is Validity.NOT_VALID, 5.0, "not valid"
        )
        await eventually(lambda: client.link.state == "listening", 5.0, "listening again")
    assert "(we called)" in caplog.text
    assert "association from 127.0.0.1" in caplog.text


@pytest.mark.parametrize("version", ["1.2", "1.3"])
async def test_passive_client_and_active_server_over_tls(pki: TestPki, version: str) -> None:
    server_bus, owner = make_bus()
    bus = make_client_bus(EXTRA)
    bound = {**table(), "certificate": {"subject": "CN=passive-client"}, "password": "s3cret"}
    cfg = passive_settings(
        tls=tls_block(pki.identity("passive-client"), pki),
        password="s3cret",
        connect={"certificate": {"subject": "CN=active-server"}},
    )
    assert cfg.connect.listen is not None and cfg.connect.listen.port > 0
    async with listening(cfg, bus) as client:
        server_tls = tls_block(pki.identity("active-server"), pki, max_version=version)
        s = active_settings(listen_port(client), tls=server_tls, tables=[bound])
        async with calling(s, server_bus) as server:
            await eventually(lambda: client.link.state == "running", 10.0, "running")
            server_bus.update("GEN1", 44.5, ts=1_700_000_044.0)
            await eventually(lambda: bus.get("C_GEN1").value == 44.5, 3.0, "the report")
            result = await bus.command("C_SP1", 7.25)
            assert result.ok, result
            assert ("SP1", 7.25) in owner.commands
            session = client.status()["tls"]["session"]
            assert session is not None and session["version"] == f"TLSv{version}"
            assert server.server is not None and server.server.mms.tls_handshakes >= 1


async def test_a_passive_client_refuses_wrong_callers(
    pki: TestPki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bus = make_client_bus(EXTRA)
    async with listening(passive_settings(password="s3cret"), bus) as client:
        port = listen_port(client)

        async def call(ap: str, password: str | None) -> MmsAssociationError:
            cfg = AssociationConfig(
                local_ap_title=ap,
                local_ae_qualifier=12,
                remote_ap_title=PEER_AP,
                remote_ae_qualifier=12,
                password=password.encode() if password else None,
            )
            with pytest.raises(MmsAssociationError) as err:
                await MmsClient.connect("127.0.0.1", port, config=cfg, connect_timeout=3.0)
            return err.value

        wrong_ap = await call("1.1.1.555", "s3cret")
        assert wrong_ap.aare is not None
        assert wrong_ap.aare.diagnostic == UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED
        no_password = await call(SERVER_AP, None)
        assert no_password.aare is not None
        assert no_password.aare.diagnostic == UserDiagnostic.AUTHENTICATION_REQUIRED
        wrong_password = await call(SERVER_AP, "nope")
        assert wrong_password.aare is not None
        assert wrong_password.aare.diagnostic == UserDiagnostic.AUTHENTICATION_FAILURE
        assert client.link.state == "listening"
        refused = client.status()["connect"]["refused"]
        assert refused == {"diagnostic-3": 1, "diagnostic-14": 1, "diagnostic-13": 1}
    assert "association from 127.0.0.1" in caplog.text
    assert "diagnostic=3 reason=calling AP-title 1.1.1.555 is not remote_ap_title" in caplog.text
    assert "reason=wrong ACSE password" in caplog.text


async def test_certificates_that_do_not_fit_are_refused_both_ways(
    pki: TestPki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server_bus, _ = make_bus()
    bus = make_client_bus(EXTRA)
    # the client wants another caller certificate: it refuses with diagnostic 13
    cfg = passive_settings(
        tls=tls_block(pki.identity("passive-client"), pki),
        connect={"certificate": {"subject": "CN=somebody-else"}},
    )
    async with listening(cfg, bus) as client:
        s = active_settings(listen_port(client), tls=tls_block(pki.identity("active-server"), pki))
        async with calling(s, server_bus):
            await eventually(
                lambda: (
                    client.status()["connect"]["refused"].get("diagnostic-13", 0) >= 1
                    and "rejected by peer (REFUSE diagnostic 13)" in caplog.text
                ),
                10.0,
                "the refusal, on both sides",
            )
            assert client.link.state == "listening"
    assert "reason=connect.certificate: certificate subject" in caplog.text
    assert "rejected by peer (REFUSE diagnostic 13)" in caplog.text
    # the server's table wants another client certificate: it aborts the association
    caplog.clear()
    bound = {**table(), "certificate": {"subject": "CN=the-real-client"}}
    async with listening(passive_settings(tls=tls_block(pki.identity("x"), pki)), bus) as client:
        s = active_settings(
            listen_port(client), tls=tls_block(pki.identity("active-server"), pki), tables=[bound]
        )
        async with calling(s, server_bus) as server:
            await eventually(
                lambda: (
                    "answered but is not the configured peer" in caplog.text
                    and "association from 127.0.0.1" in caplog.text
                ),
                10.0,
                "the abort, on both sides",
            )
            assert server.server is not None and server.server.associations == 0
    assert "answered but is not the configured peer: bilateral table BLT_ICC1" in caplog.text
    assert "does not match 'CN=the-real-client'" in caplog.text
    # the client sees the abort, or (racing it with its first request) a closed association
    assert re.search(r"failed \(association (ended: peer aborted|is closed)", caplog.text)
    assert "for the server to call again" in caplog.text


async def test_a_passive_client_refuses_addresses_not_allowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    bus = make_client_bus(EXTRA)
    cfg = passive_settings(connect={"allow": ["10.9.9.0/24"]})
    async with listening(cfg, bus) as client:
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect(
                "127.0.0.1",
                listen_port(client),
                config=AssociationConfig(local_ap_title=SERVER_AP, local_ae_qualifier=12),
                connect_timeout=3.0,
            )
        await eventually(lambda: client.status()["connect"]["refused"].get("address") == 1)
    assert "connection from 127.0.0.1" in caplog.text
    assert "refused: address not in connect.allow" in caplog.text


async def test_an_active_server_aborts_a_peer_that_is_not_its_table(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server_bus, _ = make_bus()
    # a listening peer that accepts the call but answers as another AP-title
    impostor = MmsServer(
        UnsupportedHandler(),
        port=0,
        config=AssociationConfig(local_ap_title="1.1.1.555", local_ae_qualifier=12),
    )
    async with impostor, calling(active_settings(impostor.port), server_bus) as server:
        await eventually(
            lambda: "answered but is not the configured peer" in caplog.text,
            10.0,
            "the abort line",
        )
        assert server.server is not None and server.server.associations == 0
    assert "to 127.0.0.1" in caplog.text and "aborted: ap_title=1.1.1.555" in caplog.text
    assert "for bilateral table BLT_ICC1 failed" in caplog.text


def test_check_caller_rules() -> None:
    cfg = passive_settings(password="pw")

    def request(**kw: Any) -> AuthenticationRequest:
        base: dict[str, Any] = {
            "calling_ap_title": SERVER_AP,
            "calling_ae_qualifier": 12,
            "called_ap_title": PEER_AP,
            "called_ae_qualifier": 12,
            "mechanism": "2.2.3.1",
            "authentication": None,
        }
        base.update(kw)
        return AuthenticationRequest(**base)

    from adapters.tase2.iso.acse import AuthenticationValue

    good = request(authentication=AuthenticationValue.password("pw"))
    assert check_caller(cfg, good).accepted
    assert check_caller(cfg, good, busy=True).diagnostic == UserDiagnostic.NO_REASON_GIVEN
    wrong_called = request(called_ap_title="1.2.3", authentication=good.authentication)
    diag = check_caller(cfg, wrong_called).diagnostic
    assert diag == UserDiagnostic.CALLED_AP_TITLE_NOT_RECOGNIZED
    wrong_ae = request(calling_ae_qualifier=99, authentication=good.authentication)
    diag = check_caller(cfg, wrong_ae).diagnostic
    assert diag == UserDiagnostic.CALLING_AE_QUALIFIER_NOT_RECOGNIZED


def test_connect_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="mode passive needs listen"):
        client_settings([1], connect={"mode": "passive"})
    with pytest.raises(ValueError, match="addresses are for connect mode active"):
        client_settings([1], connect={"mode": "passive", "listen": "127.0.0.1:3000"})
    with pytest.raises(ValueError, match="mode active needs call"):
        settings(connect={"mode": "active"})
    with pytest.raises(ValueError, match="table 'NOPE' is not one of the tables"):
        settings(connect={"mode": "active", "call": [{"table": "NOPE", "addresses": ["h:1"]}]})
    with pytest.raises(ValueError, match="not an IP address"):
        passive_settings(connect={"allow": ["not-an-ip"]})


async def test_tshark_shows_who_calls_and_who_requests(tmp_path: Path) -> None:
    """The active server sends CR and AARQ (to the passive client's port); the passive
    client answers CC and AARE, then sends the MMS requests; the reports flow to it."""
    tshark = require_program("tshark", "tshark")
    port = free_port()
    pcap = tmp_path / "roles.pcapng"
    server_bus, _ = make_bus()
    bus = make_client_bus(EXTRA)
    cfg = passive_settings(connect={"listen": f"127.0.0.1:{port}"})
    async with (
        TsharkCapture(tshark, port, pcap),
        listening(cfg, bus) as client,
        calling(active_settings(port), server_bus),
    ):
        await eventually(lambda: client.link.state == "running", 10.0, "running")
        server_bus.update("GEN1", 45.5, ts=1_700_000_045.0)
        await eventually(lambda: bus.get("C_GEN1").value == 45.5, 3.0, "the report")
        result = await bus.command("C_SP1", 3.0)
        assert result.ok, result
    assert pcap.exists(), "tshark wrote no capture"
    assert problems(tshark, pcap, port, allow_reset=True) == ""

    def ports(display: str) -> set[tuple[str, str]]:
        out = subprocess.run(
            [
                *(tshark, "-r", str(pcap), "-d", f"tcp.port=={port},tpkt", "-Y", display),
                *("-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return {tuple(line.split("\t")) for line in out.splitlines() if line}  # type: ignore[misc]

    listen = str(port)
    for display, towards_listener in (
        ("cotp.type == 0x0e", True),  # CR: from the calling server
        ("cotp.type == 0x0d", False),  # CC: from the listening client
        ("acse.aarq_element && mms.initiate_RequestPDU_element", True),
        ("acse.aare_element && mms.initiate_ResponsePDU_element", False),
        ("mms.confirmed_RequestPDU_element", False),  # the client's Reads and Writes
        ("mms.unconfirmed_PDU_element", True),  # the server's reports
    ):
        seen = ports(display)
        assert seen, display
        side = {dst if towards_listener else src for src, dst in seen}
        assert side == {listen}, (display, seen)


def test_allow_list_and_tls_default_ports(pki: TestPki) -> None:
    allow = AllowList(networks=("10.0.0.0/24", "192.168.1.7", "fd00::/8"))
    assert allow.permits("10.0.0.99") and allow.permits("192.168.1.7")
    assert allow.permits("fd00::1")
    assert not allow.permits("10.0.1.1") and not allow.permits("not-an-address")
    assert AllowList().permits("203.0.113.5")
    ident = pki.identity("ports")
    passive = passive_settings(connect={"listen": "127.0.0.1"}, tls=tls_block(ident, pki))
    assert passive.connect.listen is not None and passive.connect.listen.port == 3782
    clear = passive_settings(connect={"listen": "127.0.0.1"}).connect.listen
    assert clear is not None and clear.port == 102
    active = active_settings(1, tls=tls_block(ident, pki))
    assert active.connect.call[0].addresses[0].port == 1
    call = {"mode": "active", "call": [{"table": "BLT_ICC1", "addresses": ["10.1.1.1"]}]}
    with_tls = settings(tables=[table()], connect=call, tls=tls_block(ident, pki))
    assert with_tls.connect.call[0].addresses[0].port == 3782
    assert settings(tables=[table()], connect=call).connect.call[0].addresses[0].port == 102
    assert with_tls.restart_needed(settings(tables=[table()], tls=tls_block(ident, pki)))


async def test_a_passive_client_accepts_one_of_several_callers_at_once() -> None:
    """Busy is decided by the listener when it decides on each AARQ (not once the adapter
    took the association): of three callers at the same moment, one is accepted."""
    bus = make_client_bus(EXTRA)
    async with listening(passive_settings(), bus) as client:
        port = listen_port(client)
        cfg = AssociationConfig(
            local_ap_title=SERVER_AP,
            local_ae_qualifier=12,
            remote_ap_title=PEER_AP,
            remote_ae_qualifier=12,
        )

        async def one() -> MmsClient | MmsAssociationError:
            try:
                return await MmsClient.connect("127.0.0.1", port, config=cfg, connect_timeout=3.0)
            except MmsAssociationError as exc:
                return exc

        results = await asyncio.gather(*(one() for _ in range(3)))
        try:
            accepted = [r for r in results if isinstance(r, MmsClient)]
            assert len(accepted) == 1, results
            assert client.listener is not None
            assert client.listener.accepted == 1
            assert client.listener.refused.get("diagnostic-1") == 2, client.listener.refused
        finally:
            for r in results:
                if isinstance(r, MmsClient):
                    await r.abort()


async def test_an_idle_passive_client_reloads_its_tls_files(
    pki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nobody calls, the TLS files are still checked: replaced files are what the
    next caller's handshake meets."""
    import shutil
    import ssl

    import adapters.tase2.client.adapter as client_adapter

    monkeypatch.setattr(client_adapter, "TLS_CHECK_INTERVAL", 0.2)
    old, new, caller = pki.identity("old-cert"), pki.identity("new-cert"), pki.identity("caller")
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(old.certificate, cert)
    shutil.copy(old.private_key, key)

    async def presented(port: int) -> str:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(str(pki.ca_file))
        ctx.load_cert_chain(str(caller.certificate), str(caller.private_key))
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        subject = writer.get_extra_info("peercert")["subject"]
        writer.close()
        return str(dict(x[0] for x in subject)["commonName"])

    tls = {"certificate": str(cert), "private_key": str(key), "ca": str(pki.ca_file)}
    async with listening(passive_settings(tls=tls), make_client_bus(EXTRA)) as client:
        port = listen_port(client)
        assert await presented(port) == "old-cert"
        shutil.copy(new.certificate, cert)
        shutil.copy(new.private_key, key)
        assert client.tls is not None
        await eventually(lambda: client.tls is not None and client.tls.reloads >= 1, 5.0, "reload")
        assert await presented(port) == "new-cert"


async def test_a_passive_clients_failed_associations_are_logged_thinned_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that calls and fails the same way again and again (here: it serves no
    TASE.2 model) costs log lines at the 1st, 2nd, 4th, 8th... failure only."""
    caplog.set_level(logging.WARNING)
    server = MmsServer(UnsupportedHandler(), port=0)
    call = OutboundCall(
        AssociationConfig(
            local_ap_title=SERVER_AP,
            local_ae_qualifier=12,
            remote_ap_title=PEER_AP,
            remote_ae_qualifier=12,
        )
    )
    async with listening(passive_settings(), make_client_bus(EXTRA)) as client:
        for _ in range(8):
            result = await server.call("127.0.0.1", listen_port(client), call)
            assert result.established, result
            await eventually(lambda: client.link.state == "listening", 5.0, "listening again")
    lines = [r for r in caplog.records if "for the server to call again" in r.getMessage()]
    assert len(lines) == 4, [r.getMessage() for r in lines]  # 1st, 2nd, 4th, 8th


async def test_a_passive_client_is_a_listening_adapter() -> None:
    """Like a server, a passive client says when it is bound, and a port in use makes its
    first run fail before that (the runtime stops the start-up then)."""
    bus = make_client_bus(EXTRA)
    active_client = Tase2ClientAdapter("c", client_settings([free_port()]), bus)
    assert active_client.listens is False
    port = free_port()
    cfg = passive_settings(connect={"listen": f"127.0.0.1:{port}"})
    first = Tase2ClientAdapter("first", cfg, bus)
    assert first.listens is True
    # the runtime asks the class before any instance exists: it starts listeners first
    assert Tase2ClientAdapter.listens_with(cfg) is True
    assert Tase2ClientAdapter.listens_with(client_settings([free_port()])) is False
    task = asyncio.create_task(first.run())
    try:
        await asyncio.wait_for(first.ready.wait(), 5.0)
        second = Tase2ClientAdapter("second", cfg, make_client_bus(EXTRA))
        with pytest.raises(LocalError, match="cannot listen"):
            await asyncio.wait_for(second.run(), 5.0)
        assert not second.ready.is_set()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_settings_for_the_other_mode_are_refused(pki: TestPki) -> None:
    """What a mode does not do is a configuration error naming the setting, not silently
    ignored (fail-back, redial, TLS renewal on the side that does not call...)."""
    ident = pki.identity("modes")
    for name, value in [
        ("failback", False),
        ("failback_interval", 5.0),
        ("backoff_initial", 2.0),
        ("connect_timeout", 3.0),
    ]:
        with pytest.raises(ValidationError, match=f"{name} is for connect mode active"):
            passive_settings(**{name: value})
    with pytest.raises(ValidationError, match=r"tls\.renewal_interval is for the TLS client"):
        passive_settings(tls=tls_block(ident, pki, renewal_interval=60))
    with pytest.raises(ValidationError, match=r"tls\.server_name is for the TLS client"):
        passive_settings(tls=tls_block(ident, pki, server_name="x.example"))
    with pytest.raises(ValidationError, match=r"tls\.renewal_interval: an active server"):
        active_settings(1, tls=tls_block(ident, pki, renewal_interval=60))
    with pytest.raises(ValidationError, match=r"connect.backoff_max is for mode active"):
        settings(connect={"backoff_max": 5})
    with pytest.raises(ValidationError, match=r"connect\.certificate needs tls"):
        passive_settings(connect={"certificate": {"subject": "CN=x"}})
    with pytest.raises(ValidationError, match=r"connect\.association_timeout is for mode passive"):
        client_settings([1], connect={"association_timeout": 3})
    # a dumped configuration (defaults written out) still loads
    passive = passive_settings()
    assert Tase2ClientSettings.model_validate(passive.model_dump()) == passive
    plain = settings()
    assert Tase2ServerSettings.model_validate(plain.model_dump()) == plain


def test_address_errors_name_the_field(pki: TestPki) -> None:
    ident = pki.identity("where")
    with pytest.raises(ValidationError, match=r"connect\.listen\n.*port 'x' is not a number"):
        passive_settings(connect={"listen": "127.0.0.1:x"}, tls=tls_block(ident, pki))
    bad_call = {"mode": "active", "call": [{"table": "BLT_ICC1", "addresses": ["h:x"]}]}
    with pytest.raises(ValidationError, match=r"connect\.call\.0\.addresses\.0\n"):
        settings(tables=[table()], connect=bad_call, tls=tls_block(ident, pki))
    with pytest.raises(ValidationError, match=r"connect\.listen\.port\n"):
        passive_settings(connect={"listen": "127.0.0.1:0"})
    # a {host} without a port under TLS means 3782, as the text form does
    call = {"mode": "active", "call": [{"table": "BLT_ICC1", "addresses": [{"host": "h"}]}]}
    with_tls = settings(tables=[table()], connect=call, tls=tls_block(ident, pki))
    assert with_tls.connect.call[0].addresses[0].port == 3782
    listen = passive_settings(connect={"listen": {"host": "127.0.0.1"}}, tls=tls_block(ident, pki))
    assert listen.connect.listen is not None and listen.connect.listen.port == 3782
