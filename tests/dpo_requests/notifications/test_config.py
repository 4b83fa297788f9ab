"""Mail settings (``VIGIE_SMTP_*``): no server is a misconfiguration outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dpo_requests.notifications.config import MailMisconfigured, SmtpSettings
from dpo_requests.notifications.sender import LogTransport, MailSender, SmtpTransport


def test_settings_refuse_to_run_without_a_server_outside_development() -> None:
    with pytest.raises(MailMisconfigured, match="VIGIE_SMTP_HOST"):
        SmtpSettings(host=None).check("production")
    with pytest.raises(MailMisconfigured, match="TLS"):
        SmtpSettings(host="relay", security="none", username="u", password="p").check("production")
    with pytest.raises(ValidationError, match="go together"):
        SmtpSettings(host="relay", username="u")
    with pytest.raises(ValidationError, match="e-mail address"):
        SmtpSettings(from_address="not an address")
    ok = SmtpSettings(host="smtp.univ.example", security="tls").check("production")
    assert ok.effective_port == 465
    assert isinstance(MailSender(ok)._transport, SmtpTransport)
    assert isinstance(MailSender(SmtpSettings())._transport, LogTransport)


def test_settings_come_from_vigie_smtp_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_SMTP_HOST", "smtp.univ.example")
    monkeypatch.setenv("VIGIE_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("VIGIE_SMTP_USERNAME", "vigie")
    monkeypatch.setenv("VIGIE_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("VIGIE_SMTP_FROM_ADDRESS", "RGPD <rgpd@univ.example>")
    settings = SmtpSettings()
    assert settings.effective_port == 587
    assert settings.sender.addr_spec == "rgpd@univ.example"
    assert settings.password is not None
    assert "s3cret" not in repr(settings)
