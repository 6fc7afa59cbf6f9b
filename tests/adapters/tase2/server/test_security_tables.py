"""ACSE password per bilateral table and certificate-bound tables without TLS: each refusal
carries its ACSE diagnostic in the AARE (our own client, clear text)."""

from __future__ import annotations

import pytest

from adapters.tase2.iso.acse import UserDiagnostic
from adapters.tase2.mms.aio.client import MmsAssociationError
from adapters.tase2.mms.names import ObjectName
from tests.support.tase2.server import connect, running_server, settings, table

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]


async def refused_with(adapter: object, **kw: object) -> int:
    with pytest.raises(MmsAssociationError) as info:
        await connect(adapter, **kw)  # type: ignore[arg-type]
    aare = info.value.aare
    assert aare is not None, info.value
    return int(aare.diagnostic)


async def test_password_per_table() -> None:
    s = settings(tables=[{**table(), "password": "s3cret"}])
    async with running_server(s) as adapter:
        assert await refused_with(adapter) == UserDiagnostic.AUTHENTICATION_REQUIRED
        assert (
            await refused_with(adapter, password=b"wrong") == UserDiagnostic.AUTHENTICATION_FAILURE
        )
        client = await connect(adapter, password=b"s3cret")
        assert await client.read(ObjectName.vmd("TASE2_Version"))
        await client.conclude()


async def test_certificate_bound_table_refuses_clear_text() -> None:
    s = settings(tables=[{**table(), "certificate": {"subject": "CN=rto-a"}}])
    async with running_server(s) as adapter:
        assert await refused_with(adapter) == UserDiagnostic.AUTHENTICATION_REQUIRED
