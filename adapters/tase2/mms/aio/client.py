"""A thin asyncio MMS client: one initiator :class:`Association` over one TCP connection.

Requests are matched to answers by invokeID futures; at most the negotiated
maxServOutstanding are in flight (a semaphore); each has a timeout; sends are serialised by
the :class:`AssociationLink`. Losing the connection fails every outstanding request at once.
InformationReports arrive through a callback or the :meth:`MmsClient.reports` iterator.
:attr:`MmsClient.last_received` is when the server last sent anything (for keep-alives).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar

from adapters.tase2.iso.acse import Aare
from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.aio.dial import DialError, dial
from adapters.tase2.mms.aio.link import AssociationLink
from adapters.tase2.mms.aio.tls import TlsFailure, TlsProtocol
from adapters.tase2.mms.aio.tls_context import TlsEndpoint
from adapters.tase2.mms.association import (
    Association,
    AssociationClosed,
    AssociationConfig,
    AssociationError,
    AssociationEstablished,
    CloseReason,
    ConcludeRefused,
    Event,
    NegotiatedParameters,
    PduReceived,
    ResponseUndecodable,
    Role,
    UnconfirmedReceived,
)
from adapters.tase2.mms.data import AccessResult, Data, DataAccessError
from adapters.tase2.mms.errors import MmsError
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.pdu import (
    ConfirmedError,
    ConfirmedRequest,
    ConfirmedRequestReject,
    ConfirmedResponse,
    MmsPdu,
    Reject,
    RejectType,
    Unconfirmed,
)
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.services import (
    ConfirmedServiceRequest,
    ConfirmedServiceResponse,
    DefineNamedVariableListRequest,
    DeleteNamedVariableListRequest,
    DeleteNamedVariableListResponse,
    GetNamedVariableListAttributesRequest,
    GetNamedVariableListAttributesResponse,
    GetNameListRequest,
    GetNameListResponse,
    GetVariableAccessAttributesRequest,
    GetVariableAccessAttributesResponse,
    IdentifyRequest,
    IdentifyResponse,
    InformationReport,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
)
from adapters.tase2.mms.types import TypeSpecification

__all__ = [
    "MmsAssociationError",
    "MmsClient",
    "MmsConnectionLost",
    "MmsRejected",
    "MmsRequestTimeout",
    "MmsServiceError",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_NAME_PAGES = 10_000
"""Most GetNameList pages followed for one listing."""


class MmsAssociationError(MmsError, ConnectionError):
    """The association could not be established (refused, rejected or timed out).

    ``aare`` is the server's A-ASSOCIATE response when it refused us with one: its
    ``result``, ``diagnostic`` and ``diagnostic_source`` say why.
    """

    def __init__(
        self, message: str, reason: CloseReason | None = None, aare: Aare | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.aare = aare


class MmsConnectionLost(MmsError, ConnectionError):
    """The association ended while a request was outstanding (or before it was sent)."""


class MmsRejected(MmsError):
    """The peer answered a request with a RejectPDU (or its answer was undecodable)."""

    def __init__(self, reject: Reject | None, message: str = "") -> None:
        super().__init__(message or (reject.reason if reject is not None else "rejected"))
        self.reject = reject


class MmsRequestTimeout(MmsError, TimeoutError):
    """No answer to a request within its timeout."""


Item = ObjectName | VariableEntry


def _entry(item: Item) -> VariableEntry:
    return item if isinstance(item, VariableEntry) else VariableEntry(item)


class MmsClient:
    """An MMS association as initiator; create it with :meth:`connect`."""

    def __init__(
        self,
        association: Association,
        link: AssociationLink,
        request_timeout: float,
        on_information_report: Callable[[InformationReport], None] | None,
        report_queue_size: int,
        on_raw_report: Callable[[bytes], None] | None = None,
    ) -> None:
        self.association = association
        self._link = link
        self.request_timeout = request_timeout
        self._on_report = on_information_report
        self._on_raw_report = on_raw_report
        self._reports: asyncio.Queue[InformationReport | None] = asyncio.Queue(report_queue_size)
        self._pending: dict[int, asyncio.Future[MmsPdu]] = {}
        self._closed = asyncio.Event()
        self._conclude: asyncio.Future[None] | None = None
        self._semaphore = asyncio.Semaphore(1)
        self._reader_task: asyncio.Task[None] | None = None
        self.dropped_reports = 0
        self.tls: TlsProtocol | None = None
        """The TLS layer of this association (None in clear text)."""
        self.last_received = time.monotonic()
        """``time.monotonic()`` when bytes last arrived from the peer (any PDU, a report or
        an answer); at first, when the client was created."""

    # ------------------------------------------------------------------ connect

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int = 102,
        *,
        config: AssociationConfig | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 10.0,
        on_information_report: Callable[[InformationReport], None] | None = None,
        report_queue_size: int = 10_000,
        on_raw_report: Callable[[bytes], None] | None = None,
        tls: TlsEndpoint | None = None,
        on_tls_failure: Callable[[TlsFailure], None] | None = None,
    ) -> MmsClient:
        """Open TCP, (TLS,) COTP and the association; returns a client ready for requests.

        ``config`` carries TSAPs, session/presentation selectors, AP-titles, AE-qualifiers,
        an optional password and the MMS limits to propose. With ``on_raw_report`` every
        unconfirmed PDU goes to it still encoded (for a fast report decoder) instead of
        ``on_information_report``. With ``tls`` the connection runs TLS below COTP; the
        last session with ``host:port`` is offered again (resumption) and a TLS failure
        goes to ``on_tls_failure`` as well as into the raised error. Under TLS 1.3 a
        server's refusal of our certificate shows only after the handshake: the client
        is returned only once the association is accepted.
        """
        if on_raw_report is not None:
            config = dataclasses.replace(config or AssociationConfig(), raw_unconfirmed=True)
        association = Association(Role.INITIATOR, config)
        link = AssociationLink(association)
        where = f"{host}:{port}"
        try:
            tls_proto = await dial(
                link, host, port, tls, connect_timeout=connect_timeout, on_failure=on_tls_failure
            )
        except DialError as exc:
            raise MmsAssociationError(str(exc)) from exc.__cause__
        client = cls(
            association,
            link,
            request_timeout,
            on_information_report,
            report_queue_size,
            on_raw_report,
        )
        client.tls = tls_proto
        try:
            async with asyncio.timeout(connect_timeout):
                await client._establish()
        except TimeoutError:
            association.abort("association timed out")
            await link.close()
            raise MmsAssociationError(
                f"no association with {host}:{port} within {connect_timeout} s"
            ) from None
        except MmsAssociationError as exc:
            association.abort("association failed")
            await link.close()
            failure = tls_proto.failure if tls_proto is not None else None
            if failure is not None:  # TLS 1.3: the server refused us after the handshake
                raise MmsAssociationError(
                    f"TLS session with {where} failed: {failure.kind} ({failure.detail})",
                    exc.reason,
                    exc.aare,
                ) from None
            raise
        except BaseException:
            association.abort("association failed")
            await link.close()
            raise
        return client

    @classmethod
    def accepted(
        cls,
        association: Association,
        link: AssociationLink,
        events: Sequence[Event] = (),
        *,
        request_timeout: float = 10.0,
        on_raw_report: Callable[[bytes], None] | None = None,
        report_queue_size: int = 10_000,
        tls: TlsProtocol | None = None,
    ) -> MmsClient:
        """A client on an association the peer initiated and this end accepted (a passive
        endpoint: :class:`~adapters.tase2.mms.aio.listener.MmsListener`); ``events`` are
        what arrived behind the request (:meth:`Association.resume`). The association's
        ``raw_unconfirmed`` must match ``on_raw_report``."""
        client = cls(association, link, request_timeout, None, report_queue_size, on_raw_report)
        client.tls = tls
        client._semaphore = asyncio.Semaphore(max(1, association.request_limit))
        for ev in events:
            client._on_event(ev)
        client._reader_task = asyncio.create_task(client._read_loop())
        return client

    async def _establish(self) -> None:
        assoc = self.association
        if assoc.closed:  # the server closed the connection at once (full, refusing us)
            raise MmsAssociationError(
                f"connection closed before the association request: {assoc.close_detail}",
                assoc.close_reason,
            )
        assoc.start()
        await self._link.flush()
        for _ in range(1000):
            events = await self._link.receive(None)
            self.last_received = time.monotonic()
            for ev in events:
                if isinstance(ev, AssociationEstablished):
                    await self._link.flush()
                    self._semaphore = asyncio.Semaphore(assoc.request_limit)
                    self._reader_task = asyncio.create_task(self._read_loop())
                    return
                if isinstance(ev, AssociationClosed):
                    await self._link.close()
                    raise MmsAssociationError(
                        f"association failed: {ev.reason.value} ({ev.detail})", ev.reason, ev.aare
                    )
            await self._link.flush()
        raise MmsAssociationError("association did not complete")

    # ------------------------------------------------------------------ state

    @property
    def parameters(self) -> NegotiatedParameters:
        """The negotiated association parameters."""
        assert self.association.parameters is not None
        return self.association.parameters

    @property
    def peer(self) -> tuple[str, int]:
        """The peer's IP address and port."""
        return self._link.peer

    def tls_info(self) -> dict[str, object] | None:
        """TLS version, cipher and whether the session was resumed (None in clear text)."""
        proto = self.tls
        if proto is None:
            return None
        cipher = proto.extra("cipher")
        return {
            "version": proto.extra("tls_version"),
            "cipher": cipher[0] if cipher else None,
            "session_reused": proto.extra("session_reused"),
        }

    @property
    def closed(self) -> bool:
        """True once the association has ended."""
        return self._closed.is_set()

    @property
    def close_reason(self) -> CloseReason | None:
        """Why the association ended (None while open)."""
        return self.association.close_reason

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the association has ended (the connection-lost signal)."""
        async with asyncio.timeout(timeout):
            await self._closed.wait()

    # ------------------------------------------------------------------ receiving

    async def _read_loop(self) -> None:
        try:
            while not self.association.closed:
                events = await self._link.receive(None)
                self.last_received = time.monotonic()
                for ev in events:
                    self._on_event(ev)
                self._link.send_queued()  # not waiting for the peer: it may wait for us
        except Exception as exc:
            log.exception("MMS client reader failed")
            self.association.abort(f"reader failed: {exc}")
        finally:
            await self._finish()

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, PduReceived):
            self._on_pdu(ev.pdu)
        elif isinstance(ev, UnconfirmedReceived) and self._on_raw_report is not None:
            try:
                self._on_raw_report(ev.raw)
            except Exception:
                log.exception("raw InformationReport callback failed")
        elif isinstance(ev, ResponseUndecodable):
            fut = self._pending.pop(ev.invoke_id, None)
            if fut is not None and not fut.done():
                fut.set_exception(MmsRejected(None, f"undecodable answer: {ev.error}"))
        elif (
            isinstance(ev, ConcludeRefused)
            and self._conclude is not None
            and not self._conclude.done()
        ):
            self._conclude.set_exception(MmsServiceError(ev.error))

    def _on_pdu(self, pdu: MmsPdu) -> None:
        if isinstance(pdu, ConfirmedResponse | ConfirmedError):
            fut = self._pending.pop(pdu.invoke_id, None)
            if fut is not None and not fut.done():
                fut.set_result(pdu)
        elif isinstance(pdu, Reject):
            if pdu.original_invoke_id is not None:
                fut = self._pending.pop(pdu.original_invoke_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(pdu)
                    return
            log.warning("MMS peer sent a Reject: %s", pdu.reason)
        elif isinstance(pdu, Unconfirmed) and isinstance(pdu.service, InformationReport):
            self._deliver_report(pdu.service)
        elif isinstance(pdu, ConfirmedRequest):
            # this client serves no requests of its own
            with contextlib.suppress(AssociationError):
                self.association.send_pdu(
                    Reject(
                        RejectType.CONFIRMED_REQUEST,
                        ConfirmedRequestReject.UNRECOGNIZED_SERVICE,
                        pdu.invoke_id,
                    )
                )

    def _deliver_report(self, report: InformationReport) -> None:
        if self._on_report is not None:
            try:
                self._on_report(report)
            except Exception:
                log.exception("InformationReport callback failed")
            return
        try:
            self._reports.put_nowait(report)
        except asyncio.QueueFull:
            self.dropped_reports += 1
            if self.dropped_reports == 1 or self.dropped_reports % 1000 == 0:
                log.warning("InformationReport queue full: %d dropped", self.dropped_reports)

    async def reports(self) -> AsyncIterator[InformationReport]:
        """Received InformationReports, until the association ends."""
        while True:
            if self.closed and self._reports.empty():
                return
            report = await self._reports.get()
            if report is None:
                return
            yield report

    async def _finish(self) -> None:
        reason = self.association.close_reason
        exc = MmsConnectionLost(
            f"association ended: {reason.value if reason else 'closed'} "
            f"({self.association.close_detail})"
        )
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)
        if self._conclude is not None and not self._conclude.done():
            if reason is CloseReason.RELEASED:
                self._conclude.set_result(None)
            else:
                self._conclude.set_exception(exc)
        self._closed.set()
        with contextlib.suppress(asyncio.QueueFull):
            self._reports.put_nowait(None)
        await self._link.close()

    # ------------------------------------------------------------------ requests

    async def request(
        self, service: ConfirmedServiceRequest, timeout: float | None = None
    ) -> ConfirmedServiceResponse:
        """Send one confirmed request and return its response.

        Raises :class:`MmsServiceError` (confirmed-ErrorPDU), :class:`MmsRejected`,
        :class:`MmsRequestTimeout`, :class:`MmsConnectionLost`, or
        :class:`PduTooLargeError` (request over the negotiated PDU size, nothing sent).
        """
        wait = self.request_timeout if timeout is None else timeout
        async with self._semaphore:
            if self.association.closed:
                raise MmsConnectionLost("association is closed")
            invoke_id = self.association.new_invoke_id()
            fut: asyncio.Future[MmsPdu] = asyncio.get_running_loop().create_future()
            self.association.send_pdu(ConfirmedRequest(invoke_id, service))
            self._pending[invoke_id] = fut
            try:
                # not wait_for: on 3.11 it swallows a cancel that meets the answer
                async with asyncio.timeout(wait):
                    await self._link.flush()  # the time-out counts a peer that does not read
                    answer = await fut
            except TimeoutError:
                raise MmsRequestTimeout(
                    f"no answer to {type(service).__name__} (invokeID {invoke_id}) in {wait} s"
                ) from None
            finally:
                if self._pending.pop(invoke_id, None) is not None:  # timed out or cancelled
                    self.association.forget_request(invoke_id)
        if isinstance(answer, ConfirmedResponse):
            return answer.service
        if isinstance(answer, ConfirmedError):
            raise MmsServiceError(answer.error)
        if isinstance(answer, Reject):
            raise MmsRejected(answer)
        raise MmsRejected(None, f"unexpected answer {type(answer).__name__}")

    async def _typed(self, service: ConfirmedServiceRequest, kind: type[T]) -> T:
        response = await self.request(service)
        if not isinstance(response, kind):
            raise MmsRejected(None, f"expected {kind.__name__}, got {type(response).__name__}")
        return response

    async def identify(self) -> IdentifyResponse:
        """Identify: the peer's vendor, model and revision."""
        return await self._typed(IdentifyRequest(), IdentifyResponse)

    async def get_name_list(
        self, object_class: int, scope: Scope = Scope.VMD, domain: str | None = None
    ) -> list[str]:
        """All names of ``object_class`` in a scope, following continuation pages."""
        names: list[str] = []
        after: str | None = None
        for _ in range(MAX_NAME_PAGES):
            page = await self._typed(
                GetNameListRequest(object_class, scope, domain, after), GetNameListResponse
            )
            names.extend(page.identifiers)
            if not page.more_follows or not page.identifiers:
                return names
            after = page.identifiers[-1]
        raise MmsRejected(None, f"GetNameList did not end within {MAX_NAME_PAGES} pages")

    async def read(self, *items: Item) -> tuple[AccessResult, ...]:
        """Read variables; one Data or DataAccessError per item."""
        spec = VariableList(tuple(_entry(i) for i in items))
        return (await self._typed(ReadRequest(spec), ReadResponse)).results

    async def read_list(self, name: ObjectName) -> tuple[AccessResult, ...]:
        """Read a named variable list (data set)."""
        return (await self._typed(ReadRequest(VariableListName(name)), ReadResponse)).results

    async def write(self, item: Item, value: Data) -> DataAccessError | None:
        """Write one variable; None on success, else the DataAccessError."""
        return (await self.write_many([(item, value)]))[0]

    async def write_many(
        self, pairs: Sequence[tuple[Item, Data]]
    ) -> tuple[DataAccessError | None, ...]:
        """Write several variables in one request."""
        spec = VariableList(tuple(_entry(i) for i, _ in pairs))
        request = WriteRequest(spec, tuple(v for _, v in pairs))
        return (await self._typed(request, WriteResponse)).results

    async def get_variable_access_attributes(self, name: ObjectName) -> TypeSpecification:
        """The type of a named variable."""
        request = GetVariableAccessAttributesRequest(name)
        return (await self._typed(request, GetVariableAccessAttributesResponse)).type_spec

    async def define_named_variable_list(self, name: ObjectName, items: Sequence[Item]) -> None:
        """Create a named variable list (data set)."""
        await self.request(DefineNamedVariableListRequest(name, tuple(_entry(i) for i in items)))

    async def delete_named_variable_list(
        self, *names: ObjectName
    ) -> DeleteNamedVariableListResponse:
        """Delete named variable lists; returns how many matched and were deleted."""
        request = DeleteNamedVariableListRequest(tuple(names))
        return await self._typed(request, DeleteNamedVariableListResponse)

    async def get_named_variable_list_attributes(
        self, name: ObjectName
    ) -> GetNamedVariableListAttributesResponse:
        """The members of a named variable list."""
        request = GetNamedVariableListAttributesRequest(name)
        return await self._typed(request, GetNamedVariableListAttributesResponse)

    async def send_information_report(self, report: InformationReport) -> None:
        """Send an unconfirmed InformationReport (e.g. a TASE.2 Transfer_Report_ACK).

        Raises :class:`MmsConnectionLost` when the association is closed and
        :class:`PduTooLargeError` (nothing sent) when it exceeds the negotiated PDU size.
        """
        if self.association.closed:
            raise MmsConnectionLost("association is closed")
        self.association.send_pdu(Unconfirmed(report))
        await self._link.flush()

    # ------------------------------------------------------------------ ending

    async def conclude(self, timeout: float | None = None) -> None:
        """Conclude and release the association; aborts it when that does not finish in time.

        Outstanding requests are awaited first (within the same timeout).
        """
        wait = self.request_timeout if timeout is None else timeout
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            while self._pending and loop.time() < deadline:
                await asyncio.wait(
                    list(self._pending.values()), timeout=max(0.0, deadline - loop.time())
                )
            self._conclude = loop.create_future()
            self.association.conclude()
            await self._link.flush()
            async with asyncio.timeout_at(deadline):
                await self._conclude
        except TimeoutError:
            await self.abort()
            raise MmsRequestTimeout(f"conclude did not finish in {wait} s") from None
        except AssociationError:
            await self.abort()
            raise
        finally:
            self._conclude = None
        await self.wait_closed(2.0)

    async def abort(self) -> None:
        """Abort the association and close the connection."""
        if not self.association.closed:
            self.association.abort("aborted by the client application")
        await self._link.close()
        if self._reader_task is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await asyncio.shield(self._reader_task)
        if not self.closed:
            await self._finish()

    async def __aenter__(self) -> MmsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.closed:
            try:
                await self.conclude()
            except Exception:
                await self.abort()
