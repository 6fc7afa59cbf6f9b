"""ICCP / TASE.2 (IEC 60870-6-503/802) for the gateway, in layers from the wire up.

Sans-IO layers (bytes in, events and bytes out; no sockets, clocks or event loop):

* ``asn1/`` - BER;
* ``iso/`` - TPKT, COTP, session, presentation and ACSE;
* ``mms/`` - MMS PDUs, Data and TypeSpecification codecs, object names, and the
  :class:`~adapters.tase2.mms.association.Association` state machine of both roles;
* ``model/`` - the role-neutral TASE.2 objects: point types, ICC/VCC objects, the
  DSTransferSet structure, device values and information messages.

On top of them, one package per role, each a thin asyncio shell over sans-IO engines:

* ``mms/aio/`` - every asyncio piece of MMS: the stream link, the server and the client;
* ``server/`` - the ``tase2-server`` adapter: bilateral tables, data sets, the transfer
  engine, report encoding and sending, device control, the service handler;
* ``client/`` - the ``tase2-client`` adapter: the plan, fail-over, report ingest, writes,
  remote devices, and the session steps shared with the probe;
* ``tools/`` - ``iccp-gateway probe``.

The server and the client never import each other.
"""
