"""Certificate expiry warnings (30/7/1 days, once each), reload on file change, the status
figures, pins and subject rules, and clear errors for unusable files."""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

import pytest

from adapters.tase2.mms.aio.tls_reloader import TlsReloader
from adapters.tase2.security.binding import CertificateRule
from adapters.tase2.security.certificates import CertificateError, load_certificate
from adapters.tase2.security.expiry import ExpiryWatch
from adapters.tase2.security.tls_settings import TlsSettings
from tests.support.tls import TestPki


def test_expiry_thresholds_fire_once_each_and_rearm_after_renewal() -> None:
    watch = ExpiryWatch((30, 7, 1))
    assert watch.check(45.0) is None
    assert watch.check(29.5) == 30
    assert watch.check(20.0) is None  # already said
    assert watch.check(6.0) == 7
    assert watch.check(0.5) == 1
    assert watch.check(0.2) is None
    assert watch.check(365.0) is None  # renewed
    assert watch.check(25.0) == 30
    fresh = ExpiryWatch((30, 7, 1))
    assert fresh.check(3.0) == 7  # under 30 and 7 at once: one warning, the lowest


def test_reloader_warns_under_30_days_and_reports_days_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = TestPki(tmp_path)
    soon = pki.identity("soon", days=20)
    caplog.set_level(logging.WARNING, "adapters.tase2.mms.aio.tls_reloader")
    reloader = TlsReloader("gw", pki.settings(soon), server_side=True)
    status = reloader.status()
    assert 19.9 < float(status["certificate_days_left"]) <= 20  # type: ignore[arg-type]
    assert status["expiry_warning"] == "expires within 30 days"
    assert "expires in 20.0 days" in caplog.text and "under 30 days" in caplog.text
    caplog.clear()
    reloader.check()
    assert caplog.text == ""  # once per threshold


def test_reloader_picks_up_changed_files_and_keeps_the_old_on_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = TestPki(tmp_path)
    ident = pki.identity("gw")
    reloader = TlsReloader("gw", pki.settings(ident), server_side=True)
    first = reloader.endpoint
    assert reloader.check() is False and reloader.endpoint is first
    renewed = pki.identity("gw-renewed", days=700)
    ident.certificate.write_bytes(renewed.certificate.read_bytes())
    ident.private_key.write_bytes(renewed.private_key.read_bytes())
    os.utime(ident.certificate, ns=(1, 1))
    assert reloader.check() is True and reloader.endpoint is not first
    assert reloader.endpoint.own.subject.startswith("CN=gw-renewed")
    assert reloader.status()["reloads"] == 1
    good = reloader.endpoint
    caplog.set_level(logging.ERROR, "adapters.tase2.mms.aio.tls_reloader")
    ident.certificate.write_text("not a certificate")
    assert reloader.check() is False and reloader.endpoint is good
    assert "not reloaded" in caplog.text and str(ident.certificate) in caplog.text
    assert reloader.status()["reload_error"]


def test_unusable_files_name_themselves(tmp_path: Path) -> None:
    pki = TestPki(tmp_path)
    ident = pki.identity("gw")
    with pytest.raises(CertificateError, match=r"missing\.pem"):
        TlsReloader("gw", pki.settings(ident, ca=tmp_path / "missing.pem"), server_side=True)
    other = pki.identity("other")
    with pytest.raises(CertificateError, match="private_key"):
        TlsReloader(
            "gw",
            TlsSettings(
                certificate=ident.certificate, private_key=other.private_key, ca=pki.ca_file
            ),
            server_side=True,
        )
    with pytest.raises(ValueError, match="min_version"):
        pki.settings(ident, min_version="1.3", max_version="1.2")


def test_certificate_rules(tmp_path: Path) -> None:
    pki = TestPki(tmp_path)
    ident = pki.identity("rto-a", organization="RTO")
    der_info = load_certificate(ident.certificate)
    der = ssl.PEM_cert_to_DER_cert(ident.certificate.read_text())
    assert CertificateRule(subject="CN=rto-a").refusal(der) is None
    assert CertificateRule(subject="CN=rto-a, O=RTO").refusal(der) is None
    assert "does not match" in (CertificateRule(subject="CN=rto-b").refusal(der) or "")
    fp = der_info.fingerprint
    colons = ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()
    assert CertificateRule(fingerprints=(colons,)).refusal(der) is None
    assert CertificateRule(fingerprints=("0" * 64,)).refusal(der) is not None
    assert "not TLS" in (CertificateRule(subject="CN=rto-a").refusal(None) or "")
    with pytest.raises(ValueError):
        CertificateRule()
    with pytest.raises(ValueError):
        CertificateRule(fingerprints=("abc",))
