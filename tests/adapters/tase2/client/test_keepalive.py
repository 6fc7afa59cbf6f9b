"""Keep-alive of the `tase2-client`: a server that goes silent with TCP open is found out.

The server here is a small MMS server (:class:`MmsServer` over the test model) that answers
the start-up Read and the polled point, and then, on a flag, answers nothing more while
keeping the connection open. The client polls every 60 s, so only the keep-alive (a Read of
``TASE2_Version`` after ``keepalive_interval`` s of silence) can notice in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.tase2.client.settings import Tase2ClientSettings
from adapters.tase2.mms.aio.server import AssociationContext, MmsServer
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.mms.data import VisibleString
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import AccessCode, ErrorClass, MmsServiceError
from adapters.tase2.mms.services import ReadRequest, ReadResponse
from adapters.tase2.mms.types import VisibleStringType
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    SUPPORTED_FEATURES,
    SUPPORTED_FEATURES_TYPE,
    TASE2_VERSION,
    TASE2_VERSION_TYPE,
    supported_features,
    tase2_version,
)
from adapters.tase2.model.points import PointType
from gateway.points import Validity
from tests.support import eventually
from tests.support.tase2.client import (
    BLT,
    client_point,
    client_settings,
    make_client_bus,
    running_client,
)
from tests.support.tase2.mms_model import (
    DOMAIN,
    REALQ_TYPE,
    TestHandler,
    default_variables,
    realq,
)
from tests.support.tase2.server import SERVER_AP

pytestmark = pytest.mark.timeout(60)

POINT = client_point(PointType.DATA_REALQ)
VERSION = ObjectName.vmd(TASE2_VERSION)


@dataclass
class QuietHandler(TestHandler):
    """The test model plus the TASE.2 start-up objects; ``silent`` stops all answers,
    ``refuse_version`` refuses a Read of ``TASE2_Version`` alone (the keep-alive)."""

    __test__ = False

    silent: bool = False
    refuse_version: bool = False
    refused: int = 0

    def __post_init__(self) -> None:
        self.variables = {
            **default_variables(),
            ObjectName.dom(DOMAIN, "Power"): (REALQ_TYPE, realq(123.5)),  # valid
            VERSION: (TASE2_VERSION_TYPE, tase2_version()),
            ObjectName.vmd(SUPPORTED_FEATURES): (
                SUPPORTED_FEATURES_TYPE,
                supported_features([1, 2]),
            ),
            ObjectName.dom(DOMAIN, BILATERAL_TABLE_ID): (
                VisibleStringType(-32),
                VisibleString(BLT),
            ),
        }

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """The model's answer; none while silent; a refusal of the keep-alive on request."""
        if self.silent:
            await asyncio.Event().wait()  # TCP stays open, nothing comes back
        entries = self._entries(request.spec)
        if self.refuse_version and [e.name for e in entries] == [VERSION]:
            self.refused += 1
            raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED)
        return await super().read(ctx, request)


@contextlib.asynccontextmanager
async def quiet_server(handler: QuietHandler) -> AsyncIterator[MmsServer]:
    """The handler served on a free port, answering as the fixture's server AP-title."""
    config = AssociationConfig(local_ap_title=SERVER_AP, local_ae_qualifier=12)
    async with MmsServer(handler, port=0, config=config) as server:
        yield server


def settings(port: int, **extra: Any) -> Tase2ClientSettings:
    """Client settings: one point polled every 60 s, 0.5 s request time-out."""
    return client_settings(
        [port],
        data_sets=[{"name": "SLOW", "poll_interval": 60}],
        points=[{"remote": "Power", "point": POINT, "type": PointType.DATA_REALQ.value}],
        request_timeout=0.5,
        backoff_initial=0.2,
        backoff_max=0.5,
        **extra,
    )


async def test_a_silent_server_is_lost_on_an_unanswered_keepalive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.tase2.client.adapter")
    handler = QuietHandler()
    bus = make_client_bus()
    async with quiet_server(handler) as server:
        cfg = settings(server.port, keepalive_interval=0.3)
        async with running_client(cfg, bus) as client:
            await eventually(
                lambda: (
                    client.link.state == "running"
                    and bus.get(POINT).quality.validity is Validity.VALID
                ),
                5.0,
                "running with a valid point",
            )
            await eventually(lambda: client.link.keepalive.answered >= 2, 5.0, "keep-alives")
            assert client.link.state == "running"  # answered keep-alives keep the link

            handler.silent = True
            await eventually(
                lambda: bus.get(POINT).quality.validity is Validity.NOT_VALID, 5.0, "not valid"
            )
            lost = [
                r.getMessage()
                for r in caplog.records
                if r.levelno == logging.WARNING and "lost" in r.getMessage()
            ]
            assert len(lost) == 1
            assert "no answer to keep-alive within 0.5s" in lost[0]
            status = client.status()
            assert status["errors"]["lost"] == 1
            assert status["keepalive"]["unanswered"] == 1
            assert status["keepalive"]["last_result"] == "no answer"

            # the server answers again: the client reconnects as usual
            handler.silent = False
            await eventually(
                lambda: (
                    client.link.state == "running"
                    and bus.get(POINT).quality.validity is Validity.VALID
                ),
                5.0,
                "running again",
            )
            assert client.link.associations == 2


async def test_a_refused_keepalive_still_proves_the_server_alive() -> None:
    handler = QuietHandler(refuse_version=True)
    bus = make_client_bus()
    async with quiet_server(handler) as server:
        cfg = settings(server.port, keepalive_interval=0.2)
        async with running_client(cfg, bus) as client:
            await eventually(lambda: handler.refused >= 3, 5.0, "refused keep-alives")
            assert client.link.state == "running"
            assert client.link.associations == 1
            assert bus.get(POINT).quality.validity is Validity.VALID
            status = client.status()
            assert status["keepalive"]["sent"] >= 3
            assert status["keepalive"]["unanswered"] == 0
            assert "refused" in status["keepalive"]["last_result"]
            assert "lost" not in status["errors"]


async def test_no_keepalive_with_interval_zero() -> None:
    handler = QuietHandler()
    bus = make_client_bus()
    async with quiet_server(handler) as server:
        cfg = settings(server.port, keepalive_interval=0)
        async with running_client(cfg, bus) as client:
            await eventually(lambda: client.link.state == "running", 5.0, "running")
            reads = handler.calls.count("read")
            await asyncio.sleep(0.5)
            assert handler.calls.count("read") == reads
            assert client.status()["keepalive"]["sent"] == 0
