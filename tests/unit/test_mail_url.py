import pytest

from app.messaging.mail import SmtpTransport


def test_smtp_url_with_credentials_and_starttls():
    transport = SmtpTransport.from_url("smtp://user%40x:p%3Ass@mail.example:587?starttls=true")
    assert (transport.host, transport.port, transport.username, transport.password) == \
        ("mail.example", 587, "user@x", "p:ss")
    assert transport.starttls and not transport.use_ssl


def test_smtps_defaults_to_port_465():
    transport = SmtpTransport.from_url("smtps://mail.example")
    assert transport.use_ssl and transport.port == 465


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_other_urls_are_refused(url):
    with pytest.raises(ValueError, match="MAIL_URL"):
        SmtpTransport.from_url(url)
