import pytest

from app.messaging.sms import SmsLength, shorten_links, sms_segments


@pytest.mark.parametrize("length, segments", [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_boundaries(length, segments):
    assert sms_segments("a" * length) == SmsLength("GSM-7", length, segments)


@pytest.mark.parametrize("length, segments", [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_boundaries(length, segments):
    assert sms_segments("ж" * length) == SmsLength("UCS-2", length, segments)


def test_extension_characters_count_two():
    assert sms_segments("€" * 80) == SmsLength("GSM-7", 160, 1)
    assert sms_segments("€" * 81) == SmsLength("GSM-7", 162, 2)
    assert sms_segments("^{}\\[~]|").characters == 16


def test_the_whole_basic_alphabet_stays_gsm7():
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ÄÖÑÜ§¿äöñüà"
    assert sms_segments(text).encoding == "GSM-7"
    assert sms_segments(text).characters == len(text)


@pytest.mark.parametrize("char", ["ç", "á", "`", "\t", "ж", "\u00a0"])
def test_a_character_outside_the_alphabet_switches_to_ucs2(char):
    assert sms_segments("Hello " + char).encoding == "UCS-2"


def test_an_emoji_switches_to_ucs2_and_counts_two():
    assert sms_segments("Sale 👍") == SmsLength("UCS-2", 7, 1)
    assert sms_segments("👍" * 35) == SmsLength("UCS-2", 70, 1)
    assert sms_segments("👍" * 36).segments == 2


def test_a_segment_never_splits_an_escape_or_a_surrogate_pair():
    # 306 septets would fit two segments, but the euro sign cannot straddle the first boundary.
    assert sms_segments("a" * 152 + "€" + "a" * 152) == SmsLength("GSM-7", 306, 3)
    assert sms_segments("ж" * 66 + "👍" + "ж" * 66) == SmsLength("UCS-2", 134, 3)


def test_empty_text_is_no_segment():
    assert sms_segments("") == SmsLength("GSM-7", 0, 0)


def short(url: str) -> str:
    return f"<{url}>"


@pytest.mark.parametrize("text, expected", [
    ("No links here.", "No links here."),
    ("Sale: https://shop.example/sale.", "Sale: <https://shop.example/sale>."),
    ("Go to http://shop.example/a?b=1&c=2, now!", "Go to <http://shop.example/a?b=1&c=2>, now!"),
    ("Really? https://shop.example/?!", "Really? <https://shop.example/>?!"),
    ("(see https://shop.example/terms)", "(see <https://shop.example/terms>)"),
    ("https://en.wikipedia.org/wiki/Foo_(bar).", "<https://en.wikipedia.org/wiki/Foo_(bar)>."),
    ("A https://a.example B https://b.example/x#y\nC HTTPS://C.EXAMPLE",
     "A <https://a.example> B <https://b.example/x#y>\nC <HTTPS://C.EXAMPLE>"),
    ("Mail mailto:shop@example.com or call tel:+15550001111",
     "Mail mailto:shop@example.com or call tel:+15550001111"),
    ("ftp://shop.example and https:// alone", "ftp://shop.example and https:// alone"),
])
def test_shorten_links(text, expected):
    assert shorten_links(text, short) == expected


def test_shorten_links_passes_each_original_url():
    seen = []
    shorten_links("https://a.example/1 https://a.example/1 https://b.example",
                  lambda url: seen.append(url) or "s")
    assert seen == ["https://a.example/1", "https://a.example/1", "https://b.example"]
