"""The TASE.2 client role: the ``tase2-client`` adapter and what it asks of a remote server.

* :mod:`.adapter` / :mod:`.settings` - the adapter bound to the point bus, its settings;
* :mod:`.failover` - which address to try next, and link status;
* :mod:`.plan` - data sets and Read chunks sized to the PDU, transfer-set values;
* :mod:`.ingest` - reports and Read results into the bus;
* :mod:`.writes` - bus commands as Writes; :mod:`.devices` - remote Block 5 devices.
"""
