"""A page as visible lines: the same text in any markup gives the same lines."""

from __future__ import annotations

from trialwatch.parsers.sitepage import Line, read_page


def _texts(body: bytes) -> list[str]:
    return [line.text for line in read_page(body).lines]


def test_blocks_breaks_and_inline_elements() -> None:
    body = (
        b"<html><head><title>t</title><style>p{}</style></head><body>"
        b"<nav>Home</nav><h1>Title &amp; more</h1>"
        b"<div><span>Phase 1</span><span>Accepts Healthy Volunteers?</span></div>"
        b"<dl><dt>Sex</dt><dd>All</dd></dl><table><tr><th>Ages</th><td>18-60 years</td></tr>"
        b"</table><p>one<br>two</p><script>var x = '<p>no</p>';</script></body></html>"
    )
    assert _texts(body) == [
        "Title & more",
        "Phase 1Accepts Healthy Volunteers?",
        "Sex",
        "All",
        "Ages",
        "18-60 years",
        "one",
        "two",
    ]


def test_list_items_and_their_paragraphs() -> None:
    html = b"<ul><li>4. first part<br><br>second part</li><li>- 5. next</li></ul><p>after</p>"
    text = b"  \xe2\x80\xa2 4. first part\n\n    second part\n  \xe2\x80\xa2 - 5. next\n\nafter\n"
    expected = (
        Line("4. first part", "item"),
        Line("second part", "line"),
        Line("5. next", "item"),
        Line("after", "block"),
    )
    assert read_page(html).lines == expected
    assert read_page(text).lines == expected


def test_a_block_starting_with_a_bullet_is_an_item() -> None:
    body = b"<div><div><span>\xe2\x80\xa2</span> a<br><br>b</div><p>c</p></div>"
    assert read_page(body).lines == (Line("a", "item"), Line("b", "line"), Line("c", "block"))


def test_trial_json_is_found_and_bad_json_is_ignored() -> None:
    body = (
        b'<html><head><script type="application/ld+json">{not json</script>'
        b'<script type="application/ld+json">{"@graph": [{"@type": "WebPage"},'
        b' {"@type": "MedicalStudy", "name": "X"}]}</script></head><body><p>x</p></body></html>'
    )
    page = read_page(body)
    assert page.trial_json == {"@type": "MedicalStudy", "name": "X"}
    assert read_page(b"<html><body><p>x</p></body></html>").trial_json is None
