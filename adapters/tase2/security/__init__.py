"""Secure ICCP (IEC 62351-3 profile): TLS settings, certificates, expiry checks (sans-IO).

:mod:`.tls_settings` is the YAML ``tls:`` block shared by ``tase2-server`` and
``tase2-client``; :mod:`.certificates` reads X.509 certificates (subject, fingerprint,
expiry) and pins; :mod:`.expiry` says when a certificate's remaining days cross a warning
threshold. The I/O side lives in :mod:`adapters.tase2.mms.aio`: ``tls_context`` builds the
:class:`ssl.SSLContext` of one endpoint, ``tls_reloader`` follows its files, and ``tls`` is
the TLS layer below COTP.
"""
