"""normalize(): page bytes to a canonical Document, rule by rule and on real pages."""

from __future__ import annotations

import codecs

import pytest

from monitor.normalize import (
    ExtractionError,
    Range,
    Selection,
    normalize,
    split_numbering,
    validate_selector,
)

PAGE_URL = "https://example.com/legal/privacy"


def page(body: str, head: str = "<title>Privacy Policy | Example</title>") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def blocks(document) -> list[tuple[str, str]]:
    return [(block.kind, block.text) for section in document.sections for block in section.blocks]


def texts(document) -> list[str]:
    return [text for _, text in blocks(document)]


POLICY = "<h1>Privacy Policy</h1><p>We collect your name.</p><p>We keep it one year.</p>"


# --- furniture --------------------------------------------------------------------------

FURNITURE = [
    "<nav><a href='/'>Home</a> <a href='/jobs'>Jobs</a></nav>",
    "<header><a href='/'>Example</a> Sign in</header>",
    "<footer>© 2024 Example Inc. All rights reserved.</footer>",
    "<div id='onetrust-banner-sdk'><p>We use cookies.</p><button>Accept all</button></div>",
    "<div class='cookie-consent-banner'>We use cookies. <a onclick='x()'>OK</a></div>",
    "<div role='dialog'><p>Subscribe to our newsletter</p></div>",
    "<script>var now = 1712345;</script><style>p {color: red}</style>",
    "<noscript>Please enable JavaScript</noscript><template><p>Later</p></template>",
    "<p hidden>Hidden note</p><p style='display: none'>Invisible</p>",
    "<p aria-hidden='true'>Decoration</p><svg><text>Icon</text></svg>",
    "<button>Print this page</button><form><label>Email</label><input></form>",
    "<ol class='breadcrumb'><li><a href='/'>Home</a></li><li>Legal</li></ol>",
    "<div class='language-switcher'><a href='/fr'>Français</a><a href='/de'>Deutsch</a></div>",
    "<iframe src='https://ads.example.com'></iframe>",
    "<div aria-label='Breadcrumb'><a href='/'>Home</a> / Legal</div>",
    "<div role='navigation'><a href='/'>Home</a> <a href='/jobs'>Jobs</a></div>",
]


@pytest.mark.parametrize("furniture", FURNITURE)
def test_page_furniture_is_not_policy_text(furniture: str) -> None:
    plain = normalize(page(f"<main>{POLICY}</main>"))
    furnished = normalize(page(f"{furniture}<main>{POLICY}</main>{furniture}"))
    assert furnished.text == plain.text
    assert texts(plain) == ["We collect your name.", "We keep it one year."]


@pytest.mark.parametrize("furniture", [FURNITURE[i] for i in (3, 4, 6, 7, 8, 9, 13)])
def test_widgets_and_hidden_parts_go_even_inside_the_selection(furniture: str) -> None:
    selection = Selection.from_config("main", None)
    plain = normalize(page(f"<main>{POLICY}</main>"), selection=selection)
    furnished = normalize(page(f"<main>{POLICY}{furniture}</main>"), selection=selection)
    assert furnished.text == plain.text


def test_auto_mode_finds_the_body_among_page_sections() -> None:
    menu = "".join(f"<li><a href='/p{i}'>Page {i}</a></li>" for i in range(6))
    body = (
        f"<div class='top'><ul>{menu}</ul></div>"
        "<div class='wrap'><div class='hero'><h1>Terms</h1><p>Last updated: 1 May 2024</p></div>"
        "<div class='content'>"
        + "".join(f"<p>Clause {i} says something long enough to be prose.</p>" for i in range(9))
        + f"</div></div><div class='bottom'><ul>{menu}</ul></div>"
    )
    document = normalize(page(body))
    assert document.title == "Terms"
    assert texts(document)[0] == "Last updated: 1 May 2024"
    assert len(texts(document)) == 10


COLLAPSED = "We share your data with payment providers to process your subscription. " * 6


@pytest.mark.parametrize(
    ("panel", "kept"),
    [
        (f"<div aria-hidden='true'><p>{COLLAPSED}</p></div>", True),
        (f"<div hidden='until-found'><p>{COLLAPSED}</p></div>", True),
        (f"<div hidden><p>{COLLAPSED}</p></div>", False),
        (f"<div style='display:none'><p>{COLLAPSED}</p></div>", False),
        ("<div aria-hidden='true'><p>Close</p></div>", False),
    ],
)
def test_collapsed_accordion_panels_are_policy_text(panel: str, kept: bool) -> None:
    document = normalize(page(f"<main><h2>Sharing</h2>{panel}<p>See above.</p></main>"))
    assert (COLLAPSED.strip() in texts(document)) == kept


def test_disclosure_buttons_keep_their_heading_words() -> None:
    toggle = "<button aria-expanded='false'>Your rights</button>"
    body = f"<main><h2>{toggle}</h2><p>You may ask.</p></main>"
    assert [s.heading for s in normalize(page(body)).sections] == ["Your rights"]


# --- text normalization -----------------------------------------------------------------

SAME_TEXT = [
    ("<p>We  collect\n your <b>name</b>.</p>", "<p>We collect your name.</p>"),
    ("<p>We&nbsp;collect your na\u00admeo\u200b.</p>", "<p>We collect your nameo.</p>"),
    ("<p>Caf\u0065\u0301 data.</p>", "<p>Caf\u00e9 data.</p>"),
    ("<div><div class='x'><p>One.</p></div></div><p>Two.</p>", "<p>One.</p><p>Two.</p>"),
    ("<p class='a' id='b'>One <span class='c'>two</span>.</p>", "<p id='b' class='a'>One two.</p>"),
    ("<p>One.<br>Two.</p>", "<p>One.</p><p>Two.</p>"),
    ("<section><p>One <em>two</em> <a>three</a>.</p></section>", "<p>One two three.</p>"),
    ("<div>Loose text.<p>Para.</p></div>", "<p>Loose text.</p><p>Para.</p>"),
    ("<ul><li><p>Item.</p></li></ul>", "<ul><li>Item.</li></ul>"),
]


@pytest.mark.parametrize(("one", "other"), SAME_TEXT)
def test_same_visible_text_renders_byte_identical(one: str, other: str) -> None:
    first = normalize(page(f"<main><h1>P</h1>{one}</main>"))
    second = normalize(page(f"<main><h1>P</h1>{other}</main>"))
    assert first.text == second.text


def test_heading_levels_are_ranks_of_the_levels_used() -> None:
    shallow = "<h1>Policy</h1><h2>Data</h2><p>A.</p><h3>Names</h3><p>B.</p><h2>Rights</h2><p>C.</p>"
    deep = shallow.replace("h3>", "h4>").replace("h2>", "h3>")
    first, second = normalize(page(shallow)), normalize(page(deep))
    assert first.text == second.text
    assert [(s.heading, s.level) for s in first.sections] == [
        ("Data", 1),
        ("Names", 2),
        ("Rights", 1),
    ]


PSEUDO_HEADINGS = [
    ("<p><strong>Your rights</strong></p>", "", "Your rights"),
    ("<div role='heading' aria-level='3'>Your rights</div>", "", "Your rights"),
    ("<p>2.1 Personal Information</p>", "2.1", "Personal Information"),
    ("<p><b>Article 3 - Fees</b></p>", "Article 3", "Fees"),
]


@pytest.mark.parametrize(("markup", "number", "heading"), PSEUDO_HEADINGS)
def test_elements_acting_as_headings_start_sections(markup, number, heading) -> None:
    document = normalize(page(f"<main><p>Intro.</p>{markup}<p>We may share data.</p></main>"))
    assert [(s.number, s.heading) for s in document.sections] == [("", ""), (number, heading)]


@pytest.mark.parametrize(
    ("text", "number", "heading"),
    [
        ("2.1 Personal Information", "2.1", "Personal Information"),
        ("1. Introduction", "1", "Introduction"),
        ("Article 3 - Fees", "Article 3", "Fees"),
        ("§ 4 Kündigung", "§ 4", "Kündigung"),
        ("IV. Your rights", "IV", "Your rights"),
        ("A) Scope", "A)", "Scope"),
        ("Cookies", "", "Cookies"),
        ("2024 update", "", "2024 update"),
    ],
)
def test_heading_numbering_is_kept_apart(text: str, number: str, heading: str) -> None:
    assert split_numbering(text) == (number, heading)


def test_bold_sentence_stays_a_paragraph() -> None:
    body = "<main><p>Intro.</p><p><b>We never sell your data.</b></p></main>"
    assert [s.heading for s in normalize(page(body)).sections] == [""]


TABLE = (
    "<table><tr><th>Data</th><th>Purpose</th></tr>"
    "<tr><td><p>Name</p></td><td>Account <b>creation</b></td></tr></table>"
)


def test_table_rows_join_their_cells() -> None:
    assert blocks(normalize(page(f"<main>{TABLE}</main>"))) == [
        ("row", "Data | Purpose"),
        ("row", "Name | Account creation"),
    ]


def test_layout_table_cells_are_read_as_text() -> None:
    body = "<table><tr><td><h2>Scope</h2><p>This applies.</p></td></tr></table>"
    document = normalize(page(body))
    assert [(s.heading, s.text) for s in document.sections] == [("Scope", "This applies.")]


# --- e-mails and links ------------------------------------------------------------------

EMAILS = [
    (
        "<a href='/cdn-cgi/l/email-protection' class='__cf_email__' "
        "data-cfemail='5a2a28332c3b39231a3f223b372a363f74393537'>[email&#160;protected]</a>",
        "Write to privacy@example.com.",
        ("mailto:privacy@example.com",),
    ),
    (
        "<a href='/cdn-cgi/l/email-protection#5a2a28332c3b39231a3f223b372a363f74393537'>"
        "<span class='__cf_email__' data-cfemail='5a2a28332c3b39231a3f223b372a363f74393537'>"
        "[email&#160;protected]</span></a>",
        "Write to privacy@example.com.",
        ("mailto:privacy@example.com",),
    ),
    ("<span>[email&#160;protected]</span>", "Write to [email].", ()),
    (
        "<a href='mailto:dpo@example.com'>dpo@example.com</a>",
        "Write to dpo@example.com.",
        ("mailto:dpo@example.com",),
    ),
]


@pytest.mark.parametrize(("markup", "text", "links"), EMAILS)
def test_obfuscated_emails_are_decoded(markup: str, text: str, links: tuple[str, ...]) -> None:
    body = f"<main><p>Write to {markup}.</p></main>"
    block = normalize(page(body), url=PAGE_URL).sections[0].blocks[0]
    assert (block.text, block.links) == (text, links)


LINKS = [
    ("/terms?utm_source=mail&utm_medium=x", "https://example.com/terms"),
    ("terms.pdf?v=123&lang=fr", "https://example.com/legal/terms.pdf?lang=fr"),
    ("https://x.org/a?gclid=1&fbclid=2&id=7&_ga=3", "https://x.org/a?id=7"),
    ("https://x.org/a;jsessionid=AB12?hsCtaTracking=9", "https://x.org/a"),
    ("#section-3", "#"),
    ("https://example.com/legal/privacy#rights", "#"),
    ("https://example.com/legal/cookies#types", "https://example.com/legal/cookies#types"),
    ("javascript:void(0)", None),
    ("mailto:dpo@example.com", "mailto:dpo@example.com"),
]


@pytest.mark.parametrize(("href", "expected"), LINKS)
def test_link_targets_are_absolute_and_untracked(href: str, expected: str | None) -> None:
    body = f"<main><p>See <a href='{href}'>this page</a>.</p></main>"
    block = normalize(page(body), url=PAGE_URL).sections[0].blocks[0]
    assert block.text == "See this page."
    assert block.links == ((expected,) if expected else ())


# --- encodings and content types --------------------------------------------------------

ENCODED = [
    ("<p>Données à caractère personnel.</p>".encode("cp1252"), None),
    (
        b"<meta charset='iso-8859-1'>" + "<p>Données à caractère personnel.</p>".encode("latin-1"),
        None,
    ),
    ("<p>Données à caractère personnel.</p>".encode("cp1252"), "text/html; charset=windows-1252"),
    (codecs.BOM_UTF8 + "<p>Données à caractère personnel.</p>".encode(), None),
    (codecs.BOM_UTF16_LE + "<p>Données à caractère personnel.</p>".encode("utf-16-le"), None),
    ("<p>Données à caractère personnel.</p>".encode(), "text/html"),
    # UTF-8 read as its bytes: the page's own labels do not make the parser read it otherwise.
    (b"<meta charset='iso-8859-1'>" + "<p>Données à caractère personnel.</p>".encode(), None),
    (
        b"<meta charset='shift_jis'>" + "<p>Données à caractère personnel.</p>".encode(),
        "text/html; charset=utf-8",
    ),
    (
        b"<?xml version='1.0' encoding='iso-8859-1'?><html><body>"
        + "<p>Données \x01à\x7f caractère personnel.</p></body></html>".encode(),
        None,
    ),
    (codecs.BOM_UTF8 + "<p>Données à caractère\x0c personnel.</p>".encode(), None),
]


@pytest.mark.parametrize(("body", "content_type"), ENCODED)
def test_any_declared_or_sniffed_encoding(body: bytes, content_type: str | None) -> None:
    html = b"<html><body>" + body + b"</body></html>"
    if body.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"<?xml")):
        html = body
    assert texts(normalize(html, content_type=content_type)) == ["Données à caractère personnel."]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_form_feed_is_a_line_break(encoding: str) -> None:
    body = page("<pre>Données\x0cà caractère personnel.</pre>").decode().encode(encoding)
    document = normalize(body, content_type=f"text/html; charset={encoding}")
    assert texts(document) == ["Données\nà caractère personnel."]


def test_a_bom_with_a_byte_that_is_not_utf8_reads_the_rest() -> None:
    body = codecs.BOM_UTF8 + "<p>Données à \0 caractère personnel.</p>".encode()
    body = body.replace(b"\0", b"\xff")  # not UTF-8
    assert texts(normalize(body)) == ["Données à \ufffd caractère personnel."]


def test_plain_text_headings_and_bullets() -> None:
    text = (
        "Privacy Policy\n\nLast Updated: May 1, 2024\n\n1. Introduction\n\nWe respect you.\n\n"
        "2.1 Personal Information\n\nWe collect:\n\n  • your name\n  - your e-mail\n"
    )
    document = normalize(text.encode(), content_type="text/plain")
    assert document.title == "Privacy Policy"
    assert [(s.number, s.heading, s.level) for s in document.sections] == [
        ("", "", 0),
        ("1", "Introduction", 1),
        ("2.1", "Personal Information", 2),
    ]
    assert blocks(document)[-2:] == [("li", "your name"), ("li", "your e-mail")]


ONE_LINE_PER_PARAGRAPH = (
    "PRIVACY NOTICE OF EXAMPLE TRADING LIMITED\n"
    "(Last updated October 2018)\n"
    "This notice explains how we collect, use and disclose personal information in the course"
    " of our business, including when you visit our website or call our support line.\n"
    "1. Who we are\n"
    "Example Trading Limited is a private company registered in Scotland under number SC123456."
    " We are registered with the regulator as a data controller.\n"
    "2. Information Collection and Use\n"
    "We collect the following information when you create an account with us:\n"
    "  • Identifiers: your name, e-mail address, billing address, shipping address, password"
    " and the IP address of the device you use.\n"
    "  • Commercial information: the products you purchased and the payment method you chose"
    " at the checkout.\n"
)


def _wrapped(text: str, width: int) -> str:
    """`text` hard-wrapped at `width` the way mail clients do, list items indented."""
    out = []
    for line in text.splitlines():
        indent = "    " if line.lstrip().startswith("•") else ""
        current = ""
        for word in line.split(" "):
            if current.strip() and len(current) + len(word) > width:
                out.append(current.rstrip())
                current = indent
            current += word + " "
        out.append(current.rstrip())
    return "\n".join(out)


@pytest.mark.parametrize("width", [60, 72, 80])
def test_hard_wrapped_plain_text_reads_as_its_paragraphs(width: int) -> None:
    unwrapped = normalize(ONE_LINE_PER_PARAGRAPH.encode(), content_type="text/plain")
    wrapped = normalize(_wrapped(ONE_LINE_PER_PARAGRAPH, width).encode(), content_type="text/plain")
    assert wrapped.text == unwrapped.text
    assert [(s.number, s.heading) for s in wrapped.sections] == [
        ("", ""),
        ("1", "Who we are"),
        ("2", "Information Collection and Use"),
    ]
    assert [kind for kind, _ in blocks(wrapped)] == ["p", "p", "p", "p", "li", "li"]


DOCUMENT_HEADERS = [
    pytest.param(
        "<div class='container'><header class='doc-header'><span>Privacy</span>"
        "<h1>Privacy Policy</h1><div class='updated'>Last updated: May 2, 2026</div></header>"
        "<article>{policy}</article></div>",
        True,
        id="header-titling-the-document",
    ),
    pytest.param(
        "<header class='hero'><h1>Privacy Policy</h1><p>How we use your data</p></header>"
        "<main><a href='/'>Back</a><p class='date'>Last updated: May 2, 2026</p>"
        "<div class='content'>{policy}</div></main>",
        True,
        id="hero-header-with-a-sibling-date-line",
    ),
    pytest.param(
        "<header><h1 class='logo'>Example</h1><a href='/'>Home</a> <a href='/blog'>Blog</a>"
        " <a href='/jobs'>Jobs</a><p>Last updated: May 2, 2026</p></header>"
        "<main>{policy}</main>",
        False,
        id="site-header-with-navigation",
    ),
]

LONG_POLICY = "".join(
    f"<h2>{n}. Section</h2><p>We collect your name and e-mail address to run the service and"
    f" keep them for {n} years after your last visit, unless the law requires otherwise.</p>"
    for n in range(1, 9)
)


@pytest.mark.parametrize(("layout", "dated"), DOCUMENT_HEADERS)
def test_a_header_that_titles_the_document_is_policy_text(layout: str, dated: bool) -> None:
    document = normalize(page(layout.format(policy=LONG_POLICY)), url=PAGE_URL)
    assert (document.last_updated is not None) is dated
    assert ("Last updated: May 2, 2026" in document.text) is dated


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica, with a correct cross-reference table."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = "%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def test_pdf_policy_is_read_like_plain_text() -> None:
    pytest.importorskip("pypdf")
    body = tiny_pdf(
        ["Privacy Policy", "1. Introduction", "We collect your name and keep it a year.", "2"]
    )
    document = normalize(body, content_type="application/pdf")
    assert document.title == "Privacy Policy"
    assert [(s.label, s.text) for s in document.sections] == [
        ("1 Introduction", "We collect your name and keep it a year.")
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "binary"),
        (b"\x00\x01\x02\x03", None, "binary"),
        (b'{"policy": "none"}', "application/json", "unsupported"),
        (page(""), None, "empty"),
        (page("<nav><a href='/'>Home</a></nav>"), None, "empty"),
        (
            page(
                "<p>Checking your browser before accessing the site.</p>",
                "<title>Just a moment...</title>",
            ),
            None,
            "challenge",
        ),
        (page("<p>Please enable JavaScript and cookies to continue</p>"), None, "challenge"),
        (
            b"<html><head><meta http-equiv='refresh' content='0;/.well-known/sgcaptcha/?r=%2F'>"
            b"</head></html>",
            "text/html",
            "challenge",
        ),
    ],
)
def test_no_document_without_policy_text(body: bytes, content_type: str | None, kind: str) -> None:
    with pytest.raises(ExtractionError) as raised:
        normalize(body, content_type=content_type)
    assert raised.value.kind == kind
    assert "\n" not in str(raised.value)


def test_a_policy_mentioning_captcha_is_not_a_challenge() -> None:
    body = "<main><h1>Privacy</h1><p>We use reCAPTCHA to stop abuse.</p></main>"
    assert texts(normalize(page(body))) == ["We use reCAPTCHA to stop abuse."]


# --- selection --------------------------------------------------------------------------

SELECTABLE = (
    "<div id='a'><p>First.</p><div class='inner'><p>Nested.</p></div></div>"
    "<p class='note'>Between.</p>"
    "<div id='b'><h2 id='start'>Start</h2><p>Kept.</p><h2 id='stop'>Stop</h2><p>After.</p></div>"
)

SELECTIONS = [
    (Selection.from_config("#a", None), ["First.", "Nested."]),
    (Selection.from_config("//div[@id='a']//p", None), ["First.", "Nested."]),
    (Selection.from_config(["#b", "#a", ".inner"], None), ["First.", "Nested.", "Kept.", "After."]),
    (Selection.from_config([".note", "#a"], ".inner"), ["First.", "Between."]),
    (Selection.from_config({"startAfter": "#start", "endBefore": "#stop"}, None), ["Kept."]),
    (
        Selection.from_config({"startBefore": ".note", "endAfter": "#stop"}, None),
        ["Between.", "Kept."],
    ),
    (
        Selection.from_config("body", [{"startBefore": "#start", "endBefore": "#stop"}, ".none"]),
        ["First.", "Nested.", "Between.", "After."],
    ),
]


@pytest.mark.parametrize(("selection", "expected"), SELECTIONS)
def test_selection_is_a_union_in_document_order(selection: Selection, expected) -> None:
    assert texts(normalize(page(SELECTABLE), selection=selection)) == expected


BETWEEN_SELECTED = [
    # Unselected blocks between two selected parts of one paragraph still end its first block.
    ("<p><span id='a'>One</span><span>x<div>y</div></span><span id='b'>two</span></p>",
     [("p", "One"), ("p", "two")]),
    ("<p><span id='a'>One</span><b>x <i>y</i></b><span id='b'>two</span></p>", [("p", "Onetwo")]),
    ("<ul><li><span id='a'>One</span><table><tr><td>x</td><td><p>y</p></td></tr></table>"
     "<span id='b'>two</span></li></ul>", [("li", "One"), ("li", "two")]),
    ("<table><tr><td id='a'>A</td><td><div><p>x</p></div></td><td id='b'>B</td></tr></table>",
     [("row", "A |  | B")]),
    ("<nav-like><div><ul><li><h3>Menu</h3></li></ul></div></nav-like><p id='a'>One</p>"
     "<div><table><tr><td>x</td><td>y</td></tr></table></div><p id='b'>two</p>",
     [("p", "One"), ("p", "two")]),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), BETWEEN_SELECTED)
def test_unselected_markup_between_selected_parts(body: str, expected) -> None:
    selection = Selection.from_config(["#a", "#b"], None)
    assert blocks(normalize(page(body), selection=selection)) == expected


def test_selected_elements_are_kept_whatever_they_look_like() -> None:
    body = "<div class='cookie-notice'><p>Our cookie policy.</p><button>OK</button></div>"
    selection = Selection.from_config(".cookie-notice", None)
    assert texts(normalize(page(body), selection=selection)) == ["Our cookie policy."]


def test_a_partial_selector_miss_is_a_warning() -> None:
    document = normalize(page(SELECTABLE), selection=Selection.from_config(["#a", ".gone"], None))
    assert texts(document) == ["First.", "Nested."]
    assert document.warnings == ("selector '.gone' matched nothing",)


@pytest.mark.parametrize(
    "select",
    [".terms-view", "//article", {"startAfter": "#nowhere", "endBefore": "#stop"}],
)
def test_selector_that_matches_nothing_is_an_error(select) -> None:
    with pytest.raises(ExtractionError) as raised:
        normalize(page(SELECTABLE), selection=Selection.from_config(select, None))
    assert raised.value.kind == "selector-miss"
    assert "matched nothing" in str(raised.value)


@pytest.mark.parametrize("selector", ["div[", "//div[", "p:nth-child(", ""])
def test_malformed_selectors_are_rejected(selector: str) -> None:
    with pytest.raises(ExtractionError) as raised:
        validate_selector(selector)
    assert raised.value.kind == "invalid-selector"


def test_configuration_forms_of_a_selection() -> None:
    assert Selection.from_config(None, None) == Selection()
    assert Selection.from_config(
        ".a", [".b", {"start_after": "h1", "endBefore": "h2"}]
    ) == Selection(select=(".a",), remove=(".b", Range(start_after="h1", end_before="h2")))


def test_title_is_the_selected_h1_else_the_cleaned_page_title() -> None:
    assert normalize(page(f"<main>{POLICY}</main>")).title == "Privacy Policy"
    untitled = page("<main><p>We collect data.</p></main>", "<title>Data Policy | Example</title>")
    assert normalize(untitled).title == "Data Policy"


def test_language_from_html_lang() -> None:
    body = b"<html lang='fr-FR'><body><main><p>Nous collectons.</p></main></body></html>"
    assert normalize(body).language == "fr"
