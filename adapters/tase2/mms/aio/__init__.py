"""Every asyncio piece of the MMS layer; the code below this package never touches I/O.

* :mod:`.link` - one association over one stream (reads, whole-TSDU writes);
* :mod:`.server` - the MMS server: one association per connection, dispatch to a handler;
* :mod:`.client` - the MMS client: requests matched to answers, a bounded window.
"""
