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
    for body in (html, text):
        assert [(ln.text, ln.start) for ln in read_page(body).lines] == [
            (ln.text, ln.start) for ln in expected
        ]


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


def test_chrome_elements_are_dropped_by_tag_role_and_class() -> None:
    body = (
        b"<html><body><header><a>Site name</a></header>"
        b"<div id='cookie-consent'>We store cookies<a>OK</a></div>"
        b"<div class='top-nav'>Home</div><div role='navigation'>Search</div>"
        b"<main><article><header><h1>Trial title</h1></header><p>Status: Recruiting</p>"
        b"<div class='shareBar'>Tweet</div><aside>Related trials</aside>"
        b"<form><input name='q'>Find a trial</form><div role='dialog'>Contact us</div>"
        b"<div style='display: none'>Hidden</div><p>Phase 2</p></article></main>"
        b"</body></html>"
    )
    assert _texts(body) == ["Trial title", "Status: Recruiting", "Phase 2"]


def test_a_page_footer_ends_the_page() -> None:
    for footer in (b"<footer>", b"<div role='contentinfo'>", b"<div class='site-footer'>"):
        body = (
            b"<html><body><div><p>Status: Recruiting</p></div>"
            + footer
            + b"<p>Privacy policy</p></div><p>Phase: 3</p><p>NCT01234567</p></body></html>"
        )
        assert _texts(body) == ["Status: Recruiting"], footer


def test_a_footer_inside_the_content_is_only_dropped() -> None:
    body = (
        b"<html><body><main><section><p>Status: Recruiting</p><footer>Data sourced from"
        b" the registry</footer></section><p>Phase: 3</p></main></body></html>"
    )
    assert _texts(body) == ["Status: Recruiting", "Phase: 3"]


def test_a_page_wrapped_in_a_form_is_read() -> None:
    # Some frameworks put the whole page in one <form>; a small form is a search or sign-up.
    criteria = b"".join(b"<li>Criterion number %d, long enough to count</li>" % i for i in range(9))
    body = (
        b"<html><body><form id='page'><h1>Title</h1><ul>" + criteria + b"</ul></form></body></html>"
    )
    assert _texts(body)[:2] == ["Title", "Criterion number 0, long enough to count"]


def test_empty_paragraphs_are_blank_lines() -> None:
    body = b"<p>one</p><p>two</p><p>&nbsp;</p><p>three</p><div><br></div><div>four</div>"
    assert read_page(body).lines == (
        Line("one", "block"),
        Line("two", "block"),
        Line("three", "block", gap=True),
        Line("four", "block", gap=True),
    )
    # An empty <div> is decoration, not a blank line.
    assert read_page(b"<p>one</p><div class='icon'></div><p>two</p>").lines[1].gap is False


def test_a_bullet_in_an_element_of_its_own_makes_the_next_line_an_item() -> None:
    html = (
        b"<table><tr><td>-</td><td>1. Age</td></tr><tr><td>\xe2\x80\xa2</td><td>b</td></tr></table>"
    )
    assert read_page(html).lines == (Line("1. Age", "item"), Line("b", "item"))
    assert read_page(b"-\n1. Age\n\xe2\x80\xa2\nb\n").lines == (
        Line("1. Age", "item"),
        Line("b", "item"),
    )


def test_a_wrapper_with_a_chrome_word_keeps_the_content_it_holds() -> None:
    body = (
        b"<html><body class='nav-open'><div class='menu-collapsed'><header><h1>Trial title</h1>"
        b"</header><div class='share'>Share</div><p>Status: Recruiting</p></div></body></html>"
    )
    assert _texts(body) == ["Trial title", "Status: Recruiting"]
