"""TASE.2 test fixtures (the peers they run against are in :mod:`tests.support.peers`).

* :mod:`.annex_a` - the frames and MMS PDUs of the reference's Annex A;
* :mod:`.mms_strategies` - hypothesis strategies for MMS values, types and names;
* :mod:`.mms_model` - a small MMS object model and handler for the ``mms/aio`` tests;
* :mod:`.server` - a bus with a point per point type, bilateral tables, the
  ``tase2-server`` adapter running, our client associated to it, :func:`~.server.probe`;
* :mod:`.client` - the ``tase2-client`` adapter set up against that server;
* :mod:`.quirky` - a TASE.2 server of our own that is non-standard in configurable ways
  (FreeTASE2-like; :data:`~.quirky.FREETASE2` is all of FreeTASE2's at once), for the
  client and the probe;
* :mod:`.flow` - the libiec61850 client flow of tase2-reference.md section 6.8;
* :mod:`.demo` - the demo gateway (mappings/demo.yaml) with its devices, on free ports.
"""
