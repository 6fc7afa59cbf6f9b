"""MMS (ISO 9506) codec for TASE.2: sans-IO, bytes in, objects out, and back.

Modules: ``data`` (Data values, AccessResult), ``types`` (TypeSpecification), ``names``
(ObjectName), ``access`` (variable lists, alternate access), ``services`` (confirmed service
bodies, InformationReport), ``service_error`` (ServiceError classes and codes), ``initiate``
(Initiate bodies, CBBs, negotiation), ``pdu`` (the top-level MMSpdu), ``report_fast`` (the
columnar Data_RealQTimeTag report fast path) and ``errors`` (MmsDecodeError, MmsEncodeError).
"""

from __future__ import annotations

from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.pdu import MmsPdu, decode_pdu, encode_pdu

__all__ = ["MmsDecodeError", "MmsEncodeError", "MmsPdu", "decode_pdu", "encode_pdu"]
