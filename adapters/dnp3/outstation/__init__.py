"""The `dnp3-outstation` adapter: bus points served to a SCADA master over DNP3."""
