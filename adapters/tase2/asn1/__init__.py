"""BER (X.690), the encoding under the ISO upper layers and MMS."""
