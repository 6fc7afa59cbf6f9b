"""libiec61850 (through pyiec61850-ng) as an independent MMS peer, run as a script.

Usage: ``python libiec61850_peer.py '<json>'`` where the JSON object has ``mode``:

* ``"client"``: connect to ``host``/``port`` with libiec61850's raw ``MmsConnection_*`` API
  (optional ``local_ap_title``/``local_ae_qualifier``/``remote_ap_title``/
  ``remote_ae_qualifier``/``password``) and run ``steps``, a list of objects with an ``op``
  (see ``OPS``); one JSON line per step: ``{"i", "op", "ok", "result" | "error"}``.
  ``send_ack`` sends a TASE.2 Transfer_Report_ACK built by hand (the raw API has no
  InformationReport request) through ``MmsConnection_sendRawData``; ``write_aa`` sends a
  Write of an association-specific variable (``IM_Transfer_Set``) the same way, since the
  raw API writes only VMD- and domain-specific variables. ``read_repeat`` and
  ``read_list_repeat`` read one variable or one named variable list one request at a time
  until ``count`` requests or ``seconds`` have passed (for benchmarks) and say how many.
  The first request after a connect is retried on a new connection when libiec61850's
  connect race left the first one unusable (``Client._reconnect``; said on stderr);
  ``simulate_connect_race`` makes that happen once, for tests of the recovery.
* ``"ied-server"``: build a small IEC 61850 model at run time (logical device ``ld`` with
  LLN0 and GGIO1 holding an SPS ``Ind1``, an MV ``AnIn1`` and a writable SPG ``SPSet1``;
  with ``analog_points`` N, MVs ``AnIn1``..``AnIn<N>`` whose ``mag.f`` is ``i + 0.5``, with
  good quality, time stamped at start), start ``IedServer`` on ``port``, print
  ``{"ready": true, "pid": ...}`` and serve for ``seconds`` (or until a line comes on
  stdin, or stdin closes).

With ``tls`` (an object: ``certificate``, ``private_key``, ``ca``, optional ``min_version``/
``max_version`` "1.2"/"1.3", ``renegotiation_ms``, ``session_resumption`` seconds, ``allowed``
certificate files), both modes run over TLS: ``MmsConnection_createSecure`` in client mode,
``IedServer_createWithTlsSupport`` in ied-server mode. ``repeat_read`` with ``seconds``
keeps one association busy (for renegotiation tests).

The binding can crash at teardown, so every exit goes through ``os._exit`` after flushing.
This file is never imported by product code (pyiec61850 is GPL, a test dependency only).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import threading
import time
from typing import Any

import pyiec61850.pyiec61850 as lib


def emit(obj: dict[str, Any]) -> None:
    """Print one JSON line and flush (the parent reads lines as they come)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- values


def value_to_json(v: Any) -> Any:
    """An MmsValue as JSON: {"type": ..., "value": ...} (structures recursively)."""
    if v is None:
        return None
    t = lib.MmsValue_getType(v)
    name = lib.MmsValue_getTypeString(v)
    if t in (lib.MMS_STRUCTURE, lib.MMS_ARRAY):
        n = lib.MmsValue_getArraySize(v)
        return {
            "type": name,
            "value": [value_to_json(lib.MmsValue_getElement(v, i)) for i in range(n)],
        }
    if t == lib.MMS_FLOAT:
        return {"type": name, "value": lib.MmsValue_toDouble(v)}
    if t == lib.MMS_INTEGER:
        return {"type": name, "value": lib.MmsValue_toInt64(v)}
    if t == lib.MMS_UNSIGNED:
        return {"type": name, "value": lib.MmsValue_toUint32(v)}
    if t == lib.MMS_BOOLEAN:
        return {"type": name, "value": bool(lib.MmsValue_getBoolean(v))}
    if t == lib.MMS_BIT_STRING:
        n = lib.MmsValue_getBitStringSize(v)
        bits = [i for i in range(n) if lib.MmsValue_getBitStringBit(v, i)]
        return {"type": name, "size": n, "set_bits": bits}
    if t in (lib.MMS_VISIBLE_STRING, lib.MMS_STRING):
        return {"type": name, "value": lib.MmsValue_toString(v)}
    if t == lib.MMS_OCTET_STRING:
        n = lib.MmsValue_getOctetStringSize(v)
        raw = bytes(lib.MmsValue_getOctetStringOctet(v, i) for i in range(n))
        return {"type": name, "hex": raw.hex(), "text": raw.decode("latin-1")}
    if t == lib.MMS_DATA_ACCESS_ERROR:
        return {"type": name, "value": lib.MmsValue_getDataAccessError(v)}
    if t == lib.MMS_UTC_TIME:
        return {"type": name, "value": lib.MmsValue_getUtcTimeInMs(v)}
    return {"type": name}


def value_from_json(spec: Any) -> Any:
    """Build an MmsValue from {"float": x} | {"int": n} | {"int16": n} | {"bool": b} |
    {"string": s} |
    {"bits": [size, [set bits]]} | {"struct": [specs]}."""
    ((kind, arg),) = spec.items()
    if kind == "float":
        return lib.MmsValue_newFloat(float(arg))
    if kind == "int":
        return lib.MmsValue_newIntegerFromInt32(int(arg))
    if kind == "int16":
        return lib.MmsValue_newIntegerFromInt16(int(arg))
    if kind == "bool":
        return lib.MmsValue_newBoolean(bool(arg))
    if kind == "string":
        return lib.MmsValue_newVisibleString(str(arg))
    if kind == "bits":
        size, set_bits = arg
        bs = lib.MmsValue_newBitString(int(size))
        for i in set_bits:
            lib.MmsValue_setBitStringBit(bs, int(i), True)
        return bs
    if kind == "struct":
        st = lib.MmsValue_createEmptyStructure(len(arg))
        for i, item in enumerate(arg):
            lib.MmsValue_setElement(st, i, value_from_json(item))
        return st
    raise ValueError(f"unknown value kind {kind}")


def spec_to_json(spec: Any) -> Any:
    """An MmsVariableSpecification as JSON (type code, name, children)."""
    if spec is None:
        return None
    t = lib.MmsVariableSpecification_getType(spec)
    out: dict[str, Any] = {"type": int(t), "name": lib.MmsVariableSpecification_getName(spec)}
    if t == lib.MMS_STRUCTURE:
        n = lib.MmsVariableSpecification_getSize(spec)
        out["children"] = [
            spec_to_json(lib.MmsVariableSpecification_getChildSpecificationByIndex(spec, i))
            for i in range(n)
        ]
    else:
        out["size"] = lib.MmsVariableSpecification_getSize(spec)
    return out


def linked_strings(ll: Any) -> list[str]:
    """A LinkedList of C strings as a Python list."""
    out: list[str] = []
    if ll is None:
        return out
    el = lib.LinkedList_getNext(ll)
    for _ in range(100_000):
        if el is None:
            break
        out.append(
            lib.toCharP(lib.LinkedList_getData(el))
            if hasattr(lib, "toCharP")
            else str(lib.LinkedList_getData(el))
        )
        el = lib.LinkedList_getNext(el)
    return out


# --------------------------------------------------------------------------- raw PDUs


def ber(tag: int, content: bytes) -> bytes:
    """One BER element (short or long definite length)."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + n.to_bytes(size, "big") + content


def transfer_report_ack(domain: str, transfer_set: str, stamp: int | None) -> bytes:
    """The MMS PDU of a Transfer_Report_ACK report (tase2-reference.md section 6.10)."""

    def variable(item: str) -> bytes:
        name = ber(0xA1, ber(0x1A, domain.encode()) + ber(0x1A, item.encode()))
        return ber(0x30, ber(0xA0, name))

    names = variable("Transfer_Report_ACK")
    mms_object_name = ber(
        0xA2, ber(0x86, b"\x01") + ber(0x8A, domain.encode()) + ber(0x8A, transfer_set.encode())
    )
    results = mms_object_name
    if stamp is not None:
        names += variable("Transfer_Set_Time_Stamp")
        length = max(1, (int(stamp).bit_length() + 8) // 8)
        results += ber(0x85, int(stamp).to_bytes(length, "big", signed=True))
    return ber(0xA3, ber(0xA0, ber(0xA0, names) + ber(0xA0, results)))


def aa_write_request(invoke_id: int, item: str, value: bool) -> bytes:
    """A confirmed Write request of the association-specific Boolean ``item``."""
    name = ber(0x82, item.encode())  # ObjectName aa-specific [2]
    spec = ber(0xA0, ber(0x30, ber(0xA0, name)))  # listOfVariable, variableSpecification name
    data = ber(0xA0, ber(0x83, b"\xff" if value else b"\x00"))  # listOfData: boolean
    write = ber(0xA5, spec + data)
    return ber(0xA0, ber(0x02, invoke_id.to_bytes(2, "big")) + write)


# --------------------------------------------------------------------------- reports


class ReportCollector(lib.InformationReportHandler):  # type: ignore[misc]
    """SWIG director receiving InformationReports on a C thread: copy and return."""

    def __init__(self) -> None:
        lib.InformationReportHandler.__init__(self)
        self.lock = threading.Lock()
        self.reports: list[dict[str, Any]] = []

    def trigger(self) -> None:
        try:
            item = {
                "domain": self.getDomainName(),
                "name": self.getVariableListName(),
                "is_list": bool(self.getIsVariableListName()),
                "value": value_to_json(self.getMmsValue()),
            }
            with self.lock:
                self.reports.append(item)
        except Exception as exc:  # never let an exception escape into C
            with self.lock:
                self.reports.append({"error": repr(exc)})


# --------------------------------------------------------------------------- TLS


_TLS_VERSIONS = {"1.2": "TLS_VERSION_TLS_1_2", "1.3": "TLS_VERSION_TLS_1_3"}


def tls_configuration(spec: dict[str, Any], client: bool) -> Any:
    """A TLSConfiguration from the ``tls`` object of the JSON config."""
    tls = lib.TLSConfiguration_create()
    if client:
        lib.TLSConfiguration_setClientMode(tls)
    if not lib.TLSConfiguration_setOwnCertificateFromFile(tls, spec["certificate"]):
        raise RuntimeError(f"cannot load certificate {spec['certificate']}")
    if not lib.TLSConfiguration_setOwnKeyFromFile(tls, spec["private_key"], None):
        raise RuntimeError(f"cannot load key {spec['private_key']}")
    if not lib.TLSConfiguration_addCACertificateFromFile(tls, spec["ca"]):
        raise RuntimeError(f"cannot load CA {spec['ca']}")
    lib.TLSConfiguration_setChainValidation(tls, True)
    for path in spec.get("allowed", []):
        lib.TLSConfiguration_addAllowedCertificateFromFile(tls, path)
    if spec.get("allowed"):
        lib.TLSConfiguration_setAllowOnlyKnownCertificates(tls, True)
    if spec.get("min_version"):
        lib.TLSConfiguration_setMinTlsVersion(tls, getattr(lib, _TLS_VERSIONS[spec["min_version"]]))
    if spec.get("max_version"):
        lib.TLSConfiguration_setMaxTlsVersion(tls, getattr(lib, _TLS_VERSIONS[spec["max_version"]]))
    if spec.get("renegotiation_ms"):
        lib.TLSConfiguration_setRenegotiationTime(tls, int(spec["renegotiation_ms"]))
    if "session_resumption" in spec:
        seconds = spec["session_resumption"]
        lib.TLSConfiguration_enableSessionResumption(tls, bool(seconds))
        if seconds:
            lib.TLSConfiguration_setSessionResumptionInterval(tls, int(seconds))
    return tls


# --------------------------------------------------------------------------- client mode

CONNECT_RACE_ATTEMPTS = 4
"""Tries of the first request after a connect (libiec61850's connect race, see
:meth:`Client._reconnect`); each loses the race independently."""
LOCAL_OPS = frozenset({"signal", "sleep", "clear_reports", "wait_reports"})
"""Steps that do not use the connection, so they cannot show whether it works."""


class Client:
    """Runs steps against an MMS server with libiec61850's MmsConnection."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.con = self._new_connection()
        self.collector: ReportCollector | None = None
        self.subscriber: Any = None
        self._unproven: dict[str, Any] | None = None  # the connect step, until a request works
        self._raced = self._lose_next = False

    def _new_connection(self) -> Any:
        if self.cfg.get("tls"):
            if getattr(self, "_tls", None) is None:
                self._tls = tls_configuration(self.cfg["tls"], client=True)
            con = lib.MmsConnection_createSecure(self._tls)
        else:
            con = lib.MmsConnection_create()
        lib.MmsConnection_setRequestTimeout(con, int(self.cfg.get("request_timeout_ms", 5000)))
        lib.MmsConnection_setConnectTimeout(con, int(self.cfg.get("connect_timeout_ms", 5000)))
        return con

    def err(self) -> Any:
        return lib.MmsError_create()

    def check(self, e: Any) -> None:
        code = lib.MmsError_getValue(e)
        if code != lib.MMS_ERROR_NONE:
            raise RuntimeError(f"MmsError {code} {lib.MmsError_toString(code)}")

    def op_connect(self, step: dict[str, Any]) -> Any:
        cfg = self.cfg
        self._unproven = None
        iso = lib.MmsConnection_getIsoConnectionParameters(self.con)
        if cfg.get("local_ap_title"):
            lib.IsoConnectionParameters_setLocalApTitle(
                iso, cfg["local_ap_title"], int(cfg.get("local_ae_qualifier", 12))
            )
        if cfg.get("remote_ap_title"):
            lib.IsoConnectionParameters_setRemoteApTitle(
                iso, cfg["remote_ap_title"], int(cfg.get("remote_ae_qualifier", 12))
            )
        if step.get("subscribe_reports", True):
            if self.subscriber is None:
                self.collector = ReportCollector()
                self.subscriber = lib.InformationReportSubscriber()
                self.subscriber.setEventHandler(self.collector)
            self.subscriber.setMmsConnection(self.con)
            self.subscriber.subscribe()
        e = self.err()
        ok = lib.MmsConnection_connect(self.con, e, cfg["host"], int(cfg["port"]))
        code = lib.MmsError_getValue(e)
        if not ok:
            raise RuntimeError(f"connect failed: MmsError {code} {lib.MmsError_toString(code)}")
        # Whether the connection is usable shows only at the first request (see _reconnect).
        self._unproven = step
        if self.cfg.get("simulate_connect_race") and not self._raced:
            self._raced = self._lose_next = True
        return {"local_detail": lib.MmsConnection_getLocalDetail(self.con)}

    def op_identify(self, step: dict[str, Any]) -> Any:
        e = self.err()
        ident = lib.MmsConnection_identify(self.con, e)
        self.check(e)
        return {"vendor": ident.vendorName, "model": ident.modelName, "revision": ident.revision}

    def op_domains(self, step: dict[str, Any]) -> Any:
        e = self.err()
        names = lib.MmsConnection_getDomainNames(self.con, e)
        self.check(e)
        return linked_strings(names)

    def op_vmd_variables(self, step: dict[str, Any]) -> Any:
        e = self.err()
        names = lib.MmsConnection_getVMDVariableNames(self.con, e)
        self.check(e)
        return linked_strings(names)

    def op_domain_variables(self, step: dict[str, Any]) -> Any:
        e = self.err()
        names = lib.MmsConnection_getDomainVariableNames(self.con, e, step["domain"])
        self.check(e)
        return linked_strings(names)

    def op_domain_lists(self, step: dict[str, Any]) -> Any:
        e = self.err()
        names = lib.MmsConnection_getDomainVariableListNames(self.con, e, step["domain"])
        self.check(e)
        return linked_strings(names)

    def op_gvaa(self, step: dict[str, Any]) -> Any:
        e = self.err()
        spec = lib.MmsConnection_getVariableAccessAttributes(
            self.con, e, step.get("domain"), step["item"]
        )
        self.check(e)
        return spec_to_json(spec)

    def op_read(self, step: dict[str, Any]) -> Any:
        e = self.err()
        value = lib.MmsConnection_readVariable(self.con, e, step.get("domain"), step["item"])
        self.check(e)
        return value_to_json(value)

    def op_write(self, step: dict[str, Any]) -> Any:
        e = self.err()
        result = lib.MmsConnection_writeVariable(
            self.con, e, step.get("domain"), step["item"], value_from_json(step["value"])
        )
        self.check(e)
        return {
            "data_access_error": int(result),
            "success": result == lib.DATA_ACCESS_ERROR_SUCCESS,
        }

    def op_define_list(self, step: dict[str, Any]) -> Any:
        members = lib.LinkedList_create()
        for dom, item in step["members"]:
            lib.LinkedList_add(members, lib.MmsVariableAccessSpecification_create(dom, item))
        e = self.err()
        lib.MmsConnection_defineNamedVariableList(
            self.con, e, step.get("domain"), step["name"], members
        )
        self.check(e)
        return True

    def op_read_list(self, step: dict[str, Any]) -> Any:
        e = self.err()
        value = lib.MmsConnection_readNamedVariableListValues(
            self.con, e, step.get("domain"), step["name"], False
        )
        self.check(e)
        return value_to_json(value)

    def _repeat(self, step: dict[str, Any], request: Any) -> Any:
        """Call ``request(error)`` one at a time until ``count`` calls or ``seconds`` pass."""
        count = int(step.get("count", 1_000_000))
        seconds = float(step.get("seconds", 5.0))
        done = 0
        start = time.perf_counter()
        stop = start + seconds
        while done < count and time.perf_counter() < stop:
            e = self.err()
            value = request(e)
            self.check(e)
            if value is None or lib.MmsValue_getType(value) == lib.MMS_DATA_ACCESS_ERROR:
                raise RuntimeError(f"request {done} answered {value_to_json(value)}")
            lib.MmsValue_delete(value)
            done += 1
        return {"count": done, "elapsed": time.perf_counter() - start}

    def op_read_repeat(self, step: dict[str, Any]) -> Any:
        """Read one variable as often as possible, one request at a time (a benchmark)."""
        domain, item = step.get("domain"), step["item"]
        return self._repeat(
            step, lambda e: lib.MmsConnection_readVariable(self.con, e, domain, item)
        )

    def op_read_list_repeat(self, step: dict[str, Any]) -> Any:
        """Read a named variable list's values repeatedly, one request at a time."""
        domain, name = step.get("domain"), step["name"]
        return self._repeat(
            step,
            lambda e: lib.MmsConnection_readNamedVariableListValues(
                self.con, e, domain, name, False
            ),
        )

    def op_delete_list(self, step: dict[str, Any]) -> Any:
        e = self.err()
        ok = lib.MmsConnection_deleteNamedVariableList(
            self.con, e, step.get("domain"), step["name"]
        )
        self.check(e)
        return bool(ok)

    def op_signal(self, step: dict[str, Any]) -> Any:
        """Print a marker line and wait for one line on stdin (the parent acts meanwhile)."""
        emit({"signal": step.get("name", "go")})
        sys.stdin.readline()
        return True

    def op_wait_reports(self, step: dict[str, Any]) -> Any:
        deadline = time.monotonic() + float(step.get("timeout", 5.0))
        want = int(step.get("count", 1))
        collector = self.collector
        if collector is None:
            raise RuntimeError("not subscribed to reports")
        while time.monotonic() < deadline:
            with collector.lock:
                if len(collector.reports) >= want:
                    return list(collector.reports)
            time.sleep(0.02)
        with collector.lock:
            return list(collector.reports)

    def op_clear_reports(self, step: dict[str, Any]) -> Any:
        """Forget the reports received so far."""
        if self.collector is not None:
            with self.collector.lock:
                self.collector.reports.clear()
        return True

    def op_send_ack(self, step: dict[str, Any]) -> Any:
        """Send Transfer_Report_ACK (TASE.2 section 6.10) as an unconfirmed InformationReport.

        libiec61850's client API cannot send InformationReports, so the PDU is built by hand
        here and sent with ``MmsConnection_sendRawData``. The time stamp is ``stamp``, or the
        Transfer_Set_Time_Stamp of the last report received.
        """
        domain, ts_name = step["domain"], step["transfer_set"]
        stamp = step.get("stamp")
        if stamp is None and self.collector is not None:
            with self.collector.lock:
                for rep in reversed(self.collector.reports):
                    if rep.get("name") == "Transfer_Set_Time_Stamp":
                        stamp = rep["value"]["value"]
                        break
        pdu = transfer_report_ack(domain, ts_name, stamp)
        buf = lib.MmsValue_newOctetString(len(pdu), len(pdu))
        for i, octet in enumerate(pdu):
            lib.MmsValue_setOctetStringOctet(buf, i, octet)
        e = self.err()
        lib.MmsConnection_sendRawData(self.con, e, lib.MmsValue_getOctetStringBuffer(buf), len(pdu))
        self.check(e)
        return {"stamp": stamp, "octets": len(pdu)}

    def op_write_aa(self, step: dict[str, Any]) -> Any:
        """Write an association-specific Boolean (``item``, ``value``) as a raw PDU.

        The answer is not seen by the raw API (its invoke id is not one of libiec61850's
        own); the caller checks the effect instead.
        """
        pdu = aa_write_request(int(step.get("invoke_id", 0x7F00)), step["item"], step["value"])
        buf = lib.MmsValue_newOctetString(len(pdu), len(pdu))
        for i, octet in enumerate(pdu):
            lib.MmsValue_setOctetStringOctet(buf, i, octet)
        e = self.err()
        lib.MmsConnection_sendRawData(self.con, e, lib.MmsValue_getOctetStringBuffer(buf), len(pdu))
        self.check(e)
        return {"octets": len(pdu)}

    def op_sleep(self, step: dict[str, Any]) -> Any:
        time.sleep(float(step.get("seconds", 0.1)))
        return True

    def op_conclude(self, step: dict[str, Any]) -> Any:
        e = self.err()
        lib.MmsConnection_conclude(self.con, e)
        self.check(e)
        return True

    def op_abort(self, step: dict[str, Any]) -> Any:
        e = self.err()
        lib.MmsConnection_abort(self.con, e)
        return True

    def _step(self, step: dict[str, Any]) -> Any:
        """Run one step; see :meth:`_reconnect` for the one failure that is not final."""
        op = getattr(self, f"op_{step['op']}")
        for attempt in range(1, CONNECT_RACE_ATTEMPTS + 1):
            try:
                if self._lose_next and step["op"] not in LOCAL_OPS:  # tests of the recovery
                    self._lose_next = False
                    raise RuntimeError("MmsError 2 connection-lost (simulated connect race)")
                result = op(step)
            except RuntimeError as exc:
                lost = "connection-lost" in str(exc).lower()
                if self._unproven is None or not lost or attempt == CONNECT_RACE_ATTEMPTS:
                    raise
                sys.stderr.write(f"connect race: {step['op']} failed ({exc}); reconnecting\n")
                self._reconnect(self._unproven)
                continue
            if step["op"] not in LOCAL_OPS and step["op"] != "connect":
                self._unproven = None
            return result
        raise AssertionError("unreachable")

    def _reconnect(self, connect_step: dict[str, Any]) -> None:
        """Replace a connection that libiec61850's connect race left unusable.

        ``MmsConnection_connect`` starts the association on its connection thread and only
        then marks the connection "connecting"; when the thread finishes the handshake first
        (a fast server, a descheduled caller), connect returns true but the state stays
        "connecting" for good, and every request fails at once with connection-lost
        without reaching the wire. The association is up at the server, so the old
        connection is destroyed (closing its socket) before a new one associates. The
        report subscriber is kept and moved over: re-creating it crashed the binding.
        """
        lib.MmsConnection_destroy(self.con)
        self.con = self._new_connection()
        self.op_connect(connect_step)

    def run(self, steps: list[dict[str, Any]]) -> int:
        failures = 0
        for i, step in enumerate(steps):
            op = step["op"]
            try:
                result = self._step(step)
                emit({"i": i, "op": op, "ok": True, "result": result})
            except Exception as exc:
                failures += 1
                emit({"i": i, "op": op, "ok": False, "error": str(exc)})
                if step.get("required", True) and op == "connect":
                    break
        return 1 if failures else 0


OPS = sorted(name[3:] for name in dir(Client) if name.startswith("op_"))


# --------------------------------------------------------------------------- IED server mode


def run_ied_server(cfg: dict[str, Any]) -> int:
    """A small IEC 61850 server built at run time; serves until told or timed out."""
    model = lib.IedModel_create("test")
    ld = lib.LogicalDevice_create("ld", model)
    lln0 = lib.LogicalNode_create("LLN0", ld)
    lib.CDC_ENS_create("Mod", lib.toModelNode(lln0) if hasattr(lib, "toModelNode") else lln0, 0)
    ggio = lib.LogicalNode_create("GGIO1", ld)
    parent = lib.toModelNode(ggio) if hasattr(lib, "toModelNode") else ggio
    lib.CDC_SPS_create("Ind1", parent, 0)
    analogs = int(cfg.get("analog_points", 1))
    for i in range(1, analogs + 1):
        lib.CDC_MV_create(f"AnIn{i}", parent, 0, False)
    lib.CDC_SPG_create("SPSet1", parent, 0)
    if cfg.get("tls"):
        server = lib.IedServer_createWithTlsSupport(model, tls_configuration(cfg["tls"], False))
    else:
        server = lib.IedServer_create(model)
    now_ms = int(time.time() * 1000)
    for i in range(1, analogs + 1 if "analog_points" in cfg else 1):
        ref = f"testld/GGIO1.AnIn{i}"
        mag = lib.IedModel_getModelNodeByObjectReference(model, f"{ref}.mag.f")
        stamp = lib.IedModel_getModelNodeByObjectReference(model, f"{ref}.t")
        lib.IedServer_updateFloatAttributeValue(server, lib.toDataAttribute(mag), i + 0.5)
        lib.IedServer_updateUTCTimeAttributeValue(server, lib.toDataAttribute(stamp), now_ms)
    lib.IedServer_setWriteAccessPolicy(server, lib.IEC61850_FC_SP, lib.ACCESS_POLICY_ALLOW)
    lib.IedServer_start(server, int(cfg["port"]))
    if not lib.IedServer_isRunning(server):
        emit({"ready": False, "error": "IedServer did not start"})
        return 1
    emit({"ready": True, "pid": os.getpid()})
    deadline = time.monotonic() + float(cfg.get("seconds", 30.0))
    stop = threading.Event()

    def wait_stdin() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    while time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.05)
    lib.IedServer_stop(server)
    emit({"stopped": True})
    return 0


def main() -> None:
    """Run the mode named in the JSON argument and leave through ``os._exit``."""
    code = 2
    faulthandler.enable()  # a crash in the binding leaves its Python stack on stderr
    try:
        cfg = json.loads(sys.argv[1])
        if cfg["mode"] == "client":
            client = Client(cfg)  # kept until os._exit: its subscriber can crash when freed
            code = client.run(cfg.get("steps", []))
        elif cfg["mode"] == "ied-server":
            code = run_ied_server(cfg)
        else:
            emit({"error": f"unknown mode {cfg['mode']}"})
    except Exception as exc:
        emit({"fatal": repr(exc)})
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
