"""Wire oracle: frames built by our encoders, written to a pcap, decoded by tshark.

Four loopback TCP conversations to port 10102 (decoded as TPKT): a full association with
data, a segmented TSDU and release; an association that ends in an abort; a CR refused with
a DR; and an association refused with RF( CPR( AARE ) ), followed by an ER.
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.tase2.asn1.ber import tlv
from adapters.tase2.iso.acse import Aare, Aarq, Abrt, AssociateResult, UserDiagnostic
from adapters.tase2.iso.cotp import (
    ConnectionRequest,
    DisconnectReason,
    DisconnectRequest,
    ErrorCause,
    TpduError,
    accept_connection,
)
from adapters.tase2.iso.presentation import default_contexts, negotiate_contexts
from adapters.tase2.iso.stack import (
    tpdu_frame,
    tsdu_frames,
    wrap_aare,
    wrap_aarq,
    wrap_abort,
    wrap_data,
    wrap_refuse,
    wrap_release_request,
    wrap_release_response,
)
from tests.support import require_program
from tests.support.tase2 import annex_a

PORT = 10102
TPDU_SIZE = 256

# MMS PDUs for the data phase (the MMS codec is not this layer's business)


def get_name_list_response(count: int) -> bytes:
    """A confirmed GetNameList response listing ``count`` identifiers (several TPDUs long)."""
    names = b"".join(tlv(0x1A, f"Variable_{i:04d}".encode()) for i in range(count))
    return tlv(0xA1, tlv(0x02, b"\x03") + tlv(0xA1, tlv(0xA0, names) + tlv(0x81, b"\x00")))


# --------------------------------------------------------------------------- pcap writer


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass
class TcpConversation:
    """One loopback TCP connection, handshake included, serialised as Ethernet frames."""

    client_port: int
    server_port: int = PORT
    seq: dict[bool, int] = field(default_factory=lambda: {True: 1000, False: 5000})
    packets: list[bytes] = field(default_factory=list)

    def _segment(self, from_client: bool, flags: int, payload: bytes = b"") -> None:
        src, dst = (self.client_port, self.server_port)
        if not from_client:
            src, dst = dst, src
        ack = self.seq[not from_client] if flags & 0x10 else 0
        tcp = struct.pack(
            "!HHIIBBHHH", src, dst, self.seq[from_client], ack, 5 << 4, flags, 65535, 0, 0
        )
        pseudo = struct.pack(
            "!4s4sBBH", b"\x7f\0\0\1", b"\x7f\0\0\1", 0, 6, len(tcp) + len(payload)
        )
        tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp + payload)) + tcp[18:]
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, b"\x7f\0\0\1", b"\x7f\0\0\1"
        )
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        ether = b"\x00" * 12 + b"\x08\x00"
        self.packets.append(ether + ip + tcp + payload)
        self.seq[from_client] += len(payload) + (1 if flags & 0x03 else 0)

    def handshake(self) -> None:
        """SYN, SYN-ACK, ACK."""
        self._segment(True, 0x02)
        self._segment(False, 0x12)
        self._segment(True, 0x10)

    def send(self, from_client: bool, frames: list[bytes]) -> None:
        """Each TPKT frame in its own PSH-ACK segment."""
        for frame in frames:
            self._segment(from_client, 0x18, frame)


def write_pcap(path: Path, packets: list[bytes]) -> None:
    """Classic pcap, Ethernet link type, one microsecond apart."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, pkt in enumerate(packets):
        out.append(struct.pack("<IIII", 1_700_000_000, i, len(pkt), len(pkt)) + pkt)
    path.write_bytes(b"".join(out))


# --------------------------------------------------------------------------- traffic


def association(conv: TcpConversation) -> None:
    """COTP connect and A-ASSOCIATE, as libiec61850 would do it, with our encoders."""
    conv.handshake()
    cr = ConnectionRequest(tpdu_size=TPDU_SIZE)
    conv.send(True, [tpdu_frame(cr)])
    conv.send(False, [tpdu_frame(accept_connection(cr))])
    aarq = Aarq(
        user_information=annex_a.INITIATE_REQUEST,
        called_ap_title="1.1.1.999.1",
        called_ae_qualifier=12,
        calling_ap_title="1.1.1.999",
        calling_ae_qualifier=12,
    )
    conv.send(True, tsdu_frames(wrap_aarq(aarq), TPDU_SIZE))
    aare = Aare(
        user_information=annex_a.INITIATE_RESPONSE,
        responding_ap_title="1.1.1.999.1",
        responding_ae_qualifier=12,
    )
    negotiation = negotiate_contexts(default_contexts())
    conv.send(False, tsdu_frames(wrap_aare(aare, negotiation), TPDU_SIZE))


def tshark_lines(tshark: str, pcap: Path, *args: str) -> list[str]:
    """Run tshark on ``pcap`` with port 10102 decoded as TPKT; its non-empty output lines."""
    result = subprocess.run(
        [tshark, "-r", str(pcap), "-d", f"tcp.port=={PORT},tpkt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tshark() -> str:
    return require_program("tshark", "tshark")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pcap of both conversations."""
    full = TcpConversation(client_port=40001)
    association(full)
    full.send(True, tsdu_frames(wrap_data(annex_a.GET_NAME_LIST_DOMAINS), TPDU_SIZE))
    big = tsdu_frames(wrap_data(get_name_list_response(60)), TPDU_SIZE)
    assert len(big) > 3
    full.send(False, big)
    full.send(True, tsdu_frames(wrap_data(b"\x8b\x00"), TPDU_SIZE))  # Conclude-Request
    full.send(False, tsdu_frames(wrap_data(b"\x8c\x00"), TPDU_SIZE))  # Conclude-Response
    full.send(True, tsdu_frames(wrap_release_request(), TPDU_SIZE))
    full.send(False, tsdu_frames(wrap_release_response(), TPDU_SIZE))

    aborted = TcpConversation(client_port=40002)
    association(aborted)
    aborted.send(True, tsdu_frames(wrap_abort(Abrt(source=0)), TPDU_SIZE))

    refused_cr = TcpConversation(client_port=40003)
    refused_cr.handshake()
    refused_cr.send(True, [tpdu_frame(ConnectionRequest(called_tsap=b"\x00\x09"))])
    refused_cr.send(False, [tpdu_frame(DisconnectRequest(1, 0, DisconnectReason.ADDRESS_UNKNOWN))])

    refused = TcpConversation(client_port=40004)
    refused.handshake()
    cr = ConnectionRequest(tpdu_size=TPDU_SIZE)
    refused.send(True, [tpdu_frame(cr)])
    refused.send(False, [tpdu_frame(accept_connection(cr))])
    stranger = Aarq(user_information=annex_a.INITIATE_REQUEST, calling_ap_title="1.2.3")
    refused.send(True, tsdu_frames(wrap_aarq(stranger), TPDU_SIZE))
    rejection = Aare(
        result=AssociateResult.REJECTED_PERMANENT,
        diagnostic=UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED,
    )
    negotiation = negotiate_contexts(default_contexts())
    refused.send(False, tsdu_frames(wrap_refuse(rejection, negotiation), TPDU_SIZE))
    refused.send(True, [tpdu_frame(TpduError(1, ErrorCause.INVALID_TPDU_TYPE, b"\x02\x55"))])

    path = tmp_path_factory.mktemp("tshark") / "iso.pcap"
    conversations = (full, aborted, refused_cr, refused)
    write_pcap(path, [packet for conv in conversations for packet in conv.packets])
    return path


def test_no_malformed_packet_and_no_expert_warning(tshark: str, capture: Path) -> None:
    problems = tshark_lines(
        tshark, capture, "-Y", "_ws.malformed || _ws.expert.severity >= warning"
    )
    assert problems == []


def test_frames_decode_as_the_expected_layers(tshark: str, capture: Path) -> None:
    lines = tshark_lines(
        tshark, capture, "-Y", "cotp", "-T", "fields", "-E", "separator=|", "-e", "frame.protocols"
    )
    stacks = [line.split(":tcp:", 1)[1].removeprefix("tpkt:") for line in lines]
    assert stacks == [
        "cotp",
        "cotp",  # CR, CC
        "cotp:ses:pres:acse:mms",
        "cotp:ses:pres:acse:mms",  # AARQ+Initiate, AARE+Initiate
        "cotp:ses:pres:mms",  # GetNameList request
        "cotp",
        "cotp",
        "cotp",
        "cotp:ses:pres:mms",  # segmented response, reassembled
        "cotp:ses:pres:mms",
        "cotp:ses:pres:mms",  # Conclude request / response
        "cotp:ses:pres:acse",
        "cotp:ses:pres:acse",  # FINISH(RLRQ), DISCONNECT(RLRE)
        "cotp",
        "cotp",
        "cotp:ses:pres:acse:mms",
        "cotp:ses:pres:acse:mms",
        "cotp:ses:pres:acse",  # ABORT(ARU(ABRT))
        "cotp",
        "cotp",  # CR, DR
        "cotp",
        "cotp",
        "cotp:ses:pres:acse:mms",
        "cotp:ses:pres:acse",  # REFUSE(CPR(AARE))
        "cotp",  # ER
    ]
    fields = ("acse.aSO_context_name", "acse.reason", "acse.abort_source", "acse.result")
    args = [arg for name in fields for arg in ("-e", name)]
    names = tshark_lines(tshark, capture, "-Y", "acse", "-T", "fields", "-E", "separator=|", *args)
    assert names == [
        "1.0.9506.2.3|||",  # AARQ
        "1.0.9506.2.3|||0",  # AARE accepted
        "|0||",  # RLRQ normal
        "|||",  # RLRE
        "1.0.9506.2.3|||",
        "1.0.9506.2.3|||0",
        "||0|",  # ABRT from the service user
        "1.0.9506.2.3|||",
        "1.0.9506.2.3|||1",  # AARE rejected-permanent, inside CPR inside RF
    ]
    refusals = tshark_lines(tshark, capture, "-Y", "cotp.type == 0x08 || cotp.type == 0x07")
    assert len(refusals) == 2  # the DR and the ER
