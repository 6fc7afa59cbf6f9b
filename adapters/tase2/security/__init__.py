"""Secure ICCP (IEC 62351-3 profile): TLS settings, certificates, contexts, expiry checks.

:mod:`.tls_settings` is the YAML ``tls:`` block shared by ``tase2-server`` and
``tase2-client``; :mod:`.certificates` reads X.509 certificates (subject, fingerprint,
expiry) and pins; :mod:`.context` builds the :class:`ssl.SSLContext` of one endpoint;
:mod:`.expiry` says when a certificate's remaining days cross a warning threshold. The
asyncio TLS layer below COTP is :mod:`adapters.tase2.mms.aio.tls`.
"""
