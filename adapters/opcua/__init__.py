"""OPC UA adapters on asyncua (LGPL-3.0+, imported, never copied): `opcua-client` subscribes to
a plant's servers, `opcua-server` exposes bus points. `status` maps StatusCodes to TASE.2
quality and bus command outcomes, both ways (sans-IO)."""
