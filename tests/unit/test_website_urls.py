import pytest

from app.tracking.urls import InvalidWebsiteURL, normalise_website_url, site_host


@pytest.mark.parametrize("typed, stored", [
    ("example.com", "https://example.com"),
    ("  https://www.Example.COM/  ", "https://www.example.com"),
    ("http://shop.example.co.uk:80/", "http://shop.example.co.uk"),
    ("https://example.com:443", "https://example.com"),
    ("https://example.com:8443/store/?utm=x#top", "https://example.com:8443/store"),
    ("www.example.org", "https://www.example.org"),
    ("example.com:8080", "https://example.com:8080"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
    ("http://93.184.216.34", "http://93.184.216.34"),
])
def test_addresses_are_normalised(typed, stored):
    assert normalise_website_url(typed) == stored


@pytest.mark.parametrize("typed, message", [
    ("", "Enter your website's address"),
    ("   ", "Enter your website's address"),
    ("example", "full domain name"),
    ("ftp://x", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("mailto:someone@example.com", "http:// or https://"),
    ("https://" + "a" * 2100 + ".com", "too long"),
    ("https://exa mple.com", "cannot contain spaces"),
    ("https://user:secret@example.com", "user name and password"),
    ("https://-bad-.example.com", "full domain name"),
    ("https://example.123", "full domain name"),
    ("http:example.com", "full address"),
    ("https://example.com:99999", "port"),
    ("http://localhost:8000", "not localhost"),
])
def test_bad_addresses_get_a_clear_message(typed, message):
    with pytest.raises(InvalidWebsiteURL, match=message):
        normalise_website_url(typed)


def test_localhost_is_accepted_outside_production_when_allowed():
    assert normalise_website_url("http://localhost:8000/", allow_localhost=True) == "http://localhost:8000"


def test_site_host_ignores_www_and_case():
    assert site_host("https://www.Example.com/shop") == "example.com"
    assert site_host("https://blog.example.com") == "blog.example.com"
