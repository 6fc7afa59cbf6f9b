"""The error root of the TASE.2 layer (model, server, client, tools).

The codecs below keep their own roots (:class:`~adapters.tase2.asn1.ber.BerError`,
:class:`~adapters.tase2.iso.errors.IsoError`, :class:`~adapters.tase2.mms.errors.MmsError`).
Above them, every TASE.2 exception is a :class:`Tase2Error`, split as h11 splits its
protocol errors:

* :class:`RemoteError` - the other end sent or asked for something this side cannot accept
  (a malformed point value, a refused transfer-set write, a data set it may not define), or
  refused what this side asked;
* :class:`LocalError` - this side's own configuration or call is wrong (a bilateral table
  that cannot be served, a client plan that does not fit the server).
"""

from __future__ import annotations

__all__ = ["LocalError", "RemoteError", "Tase2Error"]


class Tase2Error(Exception):
    """Root of every TASE.2-layer error."""


class RemoteError(Tase2Error):
    """What the peer sent, asked or answered cannot be accepted; the message says what."""


class LocalError(Tase2Error):
    """This side's configuration or call is wrong; the message names the setting."""
