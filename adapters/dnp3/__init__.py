"""DNP3 (IEEE 1815) adapters: `dnp3-master` polls and controls outstations, `dnp3-outstation`
serves bus points to a SCADA master.

Both stand on py1815 (Apache-2.0) for the link layer, the transport function and the
application envelope. The master's association and object decoder are ours (`master/`,
`objects.py`): py1815's master decodes every object into a dataclass (several µs a point)
and reads no double-bit binaries.
"""
