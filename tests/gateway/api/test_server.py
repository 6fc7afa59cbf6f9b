"""The API server's life: in the loop, a port in use, HTTPS, tokens files, the config section."""

from __future__ import annotations

import asyncio
import signal
import ssl
import subprocess

import httpx
import pytest

from gateway.api.control import RuntimeOperations
from gateway.api.server import ApiError, ApiServer
from gateway.api.tokens import Role, TokenFileError, TokenStore, load_tokens
from gateway.config import ApiSettings, ConfigError, build_config, check_config_text
from gateway.runtime import Runtime
from tests.gateway.api.conftest import OPERATOR, READER, api_gateway, sim_config, write_tokens
from tests.support import free_port, require_program


async def test_a_port_in_use_is_a_clear_error_and_signals_stay_the_services():
    before = signal.getsignal(signal.SIGINT)
    async with api_gateway(sim_config()) as (runtime, server):
        assert signal.getsignal(signal.SIGINT) is before  # uvicorn did not take them
        other = ApiServer(RuntimeOperations(runtime))
        assert server.settings is not None
        with pytest.raises(ApiError, match=f"api cannot listen on 127.0.0.1:{server.port}"):
            await other.start(server.settings)
        assert not other.running and server.running


async def test_apply_follows_the_settings_and_stop_ends_open_streams():
    data = sim_config()
    async with api_gateway(data) as (_, server):
        async with (
            httpx.AsyncClient(base_url=server.url) as http,
            http.stream("GET", "/api/v1/stream") as response,
        ):
            assert response.status_code == 200
            moved = ApiSettings(listen=f"127.0.0.1:{free_port()}")
            async with asyncio.timeout(5):  # the open stream does not hold the stop up
                await server.apply(moved)
        assert server.running and server.settings == moved
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/api/v1/status")).status_code == 200
        await server.apply(None)
        assert not server.running


async def test_https_when_given_a_certificate(tmp_path):
    openssl = require_program("openssl", "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    data = sim_config(certfile=str(cert), keyfile=str(key))
    async with api_gateway(data) as (_, server):
        assert server.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        async with httpx.AsyncClient(base_url=server.url, verify=context) as http:
            assert (await http.get("/api/v1/status")).status_code == 200
        plain = server.url.replace("https://", "http://")
        async with httpx.AsyncClient(base_url=plain) as http:
            with pytest.raises(httpx.HTTPError):
                await http.get("/api/v1/status")


async def test_a_bad_certificate_is_an_api_error(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    settings = ApiSettings(listen=f"127.0.0.1:{free_port()}", certfile=cert, keyfile=cert)
    runtime = Runtime(build_config({}, "<test>"))
    with pytest.raises(ApiError, match="cannot be used"):
        await ApiServer(RuntimeOperations(runtime)).start(settings)


def test_tokens_file_roles_and_bad_lines(tmp_path):
    path = write_tokens(tmp_path / "tokens")
    tokens = load_tokens(path)
    assert [(t.role, t.name) for t in tokens] == [(Role.OPERATOR, "alice"), (Role.READ, "grafana")]
    store = TokenStore(path)
    assert store.check(OPERATOR).name == "alice" and store.check(READER).role is Role.READ
    assert store.check("x" * 20) is None
    for text, words in [
        ("admin secret-0123456789abc\n", "unknown role 'admin'"),
        ("operator short\n", "at least 16 characters"),
        ("operator\n", "expected 'ROLE TOKEN"),
        (f"read {READER}\noperator {READER}\n", "listed twice"),
    ]:
        path.write_text(text)
        with pytest.raises(TokenFileError, match=words) as info:
            load_tokens(path)
        assert str(path) in str(info.value)
    with pytest.raises(TokenFileError, match="cannot be read"):
        load_tokens(tmp_path / "missing")


def test_a_tokens_file_changed_while_running_is_read_again(tmp_path):
    path = write_tokens(tmp_path / "tokens")
    store = TokenStore(path)
    path.write_text(f"read {'n' * 24} newcomer\n")
    assert store.check("n" * 24) is not None and store.check(OPERATOR) is None
    path.write_text("garbage\n")  # a bad file keeps the tokens last read
    assert store.check("n" * 24) is not None and "expected" in store.error


def test_the_api_section_is_checked_with_the_config(tmp_path):
    (tmp_path / "tokens").write_text("operator tiny\n")
    text = (
        "gateway:\n  api:\n    listen: localhost\n    tokens_file: tokens\n"
        "    certfile: cert.pem\n"
        "points: [{id: P1}]\nadapters: [{name: s, type: sim, points: [{point: P1}]}]\n"
    )
    with pytest.raises(ConfigError) as info:
        check_config_text(text, "gw.yaml", tmp_path)
    issues = [str(i) for i in info.value.issues]
    assert any("gw.yaml:3: gateway.api.listen: " in i and "HOST:PORT" in i for i in issues)

    text = text.replace("listen: localhost", "listen: 127.0.0.1:9000")
    with pytest.raises(ConfigError) as info:
        check_config_text(text, "gw.yaml", tmp_path)
    [issue] = [str(i) for i in info.value.issues]
    assert issue.startswith("gw.yaml:3: gateway.api: ") and "HTTPS needs both" in issue

    text = text.replace("    certfile: cert.pem\n", "")
    with pytest.raises(ConfigError) as info:
        check_config_text(text, "gw.yaml", tmp_path)
    [issue] = [str(i) for i in info.value.issues]
    assert issue.startswith("gw.yaml:4: gateway.api.tokens_file: ")
    assert "at least 16 characters" in issue

    write_tokens(tmp_path / "tokens")
    config, _ = check_config_text(text, "gw.yaml", tmp_path)
    assert config.gateway.api is not None
    assert config.gateway.api.tokens_file == tmp_path / "tokens"  # from the file's directory
    assert config.gateway.api.host == "127.0.0.1" and config.gateway.api.port == 9000


def test_without_the_section_there_is_no_api():
    assert build_config({}, "<test>").gateway.api is None
    assert ApiSettings().listen == "127.0.0.1:8080"  # present: loopback by default
