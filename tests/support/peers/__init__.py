"""Programs we did not write, run as peers of the gateway in the tests (and benchmarks).

* :mod:`.mosquitto` - a throwaway mosquitto broker on a free loopback port;
* :mod:`.modbus_peer` - a pymodbus server in its own process (script and asyncio handle);
* :mod:`.libiec61850` - the libiec61850 peer (:mod:`.libiec61850_peer`, a script that imports
  the GPL binding pyiec61850, so it runs in a subprocess and product code never imports it);
* :mod:`.dnp3_outstation` - an opendnp3 outstation (yadnp3) in its own process, driven by the
  DNP3 master tests (:mod:`.dnp3_outstation_peer`, the script; the test process never imports
  yadnp3);
* :mod:`.dnp3_master` - opendnp3's DNP3 master (yadnp3, :mod:`.dnp3_master_peer` run in a
  subprocess that ends with ``os._exit``), for the ``dnp3-outstation`` tests;
* :mod:`.py1815_outstation` - py1815's own outstation in a subprocess, a second independent
  outstation for the master;
* :mod:`.dnp3_quirky` - a scripted outstation on py1815's framing that misbehaves on demand
  (the master's quirky-peer tests);
* :mod:`.tshark` - a loopback capture and tshark's verdict on it.
"""
