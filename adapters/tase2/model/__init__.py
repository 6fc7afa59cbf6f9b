"""The role-neutral TASE.2 object model (IEC 60870-6-802), sans-IO.

* :mod:`.points` - the indication point types and their MMS form;
* :mod:`.objects` - the ICC and VCC objects (names, types, values);
* :mod:`.transfer_set` - the ``DSTransferSet`` structure and its codec;
* :mod:`.devices` - device values: kinds, types, tags;
* :mod:`.messages` - Block 4 information messages.
"""
