"""Campaign content: Telegram HTML checked before sending, placeholders, JSON, per-platform
rendering (store.campaigns.content, .placeholders, .telegram_html)."""

from __future__ import annotations

import html
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.campaigns.content import (
    CampaignContent,
    ContentError,
    Media,
    UrlButton,
    WhatsAppTemplate,
    render,
)
from store.campaigns.placeholders import (
    ClientFields,
    Placeholder,
    PlaceholderError,
    escape_braces,
    fill,
    parse,
    placeholders_of,
)
from store.campaigns.telegram_html import HtmlError, plain_text, validate_html

ANNA = ClientFields("Анна Петрова", {"Город": "Казань", "code": "a&b c"})


@pytest.mark.parametrize(
    "text",
    [
        "<b>bold</b> <i>it</i> <u>u</u> <s>s</s> <tg-spoiler>x</tg-spoiler>",
        '<a href="https://example.com/?a=1&amp;b=2">link</a>',
        '<pre><code class="language-python">x = 1 &lt; 2</code></pre>',
        '<span class="tg-spoiler">hidden</span> &#128512; &#x1F600; &quot;',
        "<blockquote expandable>quote <b>bold</b></blockquote>",
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "no markup at all > still fine",
    ],
)
def test_html_telegram_accepts_passes(text: str) -> None:
    validate_html(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<b>bold", "<b> opened at 0 is never closed"),
        ("<b><i>x</b></i>", "</b> at 7 closes <i> opened at 3"),
        ("x</b>", "</b> at 1 closes nothing"),
        ("<div>x</div>", "<div> at 0 is not a tag Telegram accepts"),
        ("1 < 2", "'<' at 2 does not start a tag"),
        ("Tom & Jerry", "'&' at 4 is not an entity"),
        ("&nbsp;", "Telegram knows only"),
        ("<a>x</a>", "<a> at 0 needs an href"),
        ('<b class="x">y</b>', "may not have the attribute 'class'"),
        ("<span>x</span>", 'only <span class="tg-spoiler">'),
        ("<code><b>x</b></code>", "<b> at 6 inside <code>"),
        ("<blockquote><blockquote>x</blockquote></blockquote>", "inside another blockquote"),
        ("&#xD800;", "is not a character"),
    ],
)
def test_html_telegram_refuses_is_refused_in_one_line(text: str, problem: str) -> None:
    with pytest.raises(HtmlError) as caught:
        validate_html(text)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_plain_text_drops_tags_decodes_entities_and_spells_links() -> None:
    text = '<b>Sale</b> &lt;50%&gt; <a href="https://s.example/x">shop</a> &amp; <a href="https://a.b">https://a.b</a>'
    assert plain_text(text) == "Sale <50%> shop (https://s.example/x) & https://a.b"


@given(st.text())
def test_escaped_text_is_valid_html_and_plain_text_gives_it_back(text: str) -> None:
    escaped = html.escape(text, quote=False)
    validate_html(escaped)
    assert plain_text(escaped) == text


@given(st.text())
def test_any_text_is_either_refused_in_one_line_or_accepted(text: str) -> None:
    try:
        validate_html(text)
    except HtmlError as exc:
        assert "\n" not in str(exc)


def test_placeholders_parse_with_unicode_names_and_defaults() -> None:
    parts = parse("Привет, {first_name|друг}! {{скидка}} в {var:Город|вашем городе}, {name}")
    assert parts == [
        "Привет, ",
        Placeholder("first_name", None, "друг"),
        "! {скидка} в ",
        Placeholder("var", "Город", "вашем городе"),
        ", ",
        Placeholder("name"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hi {frist_name}", "unknown placeholder {frist_name} at 3"),
        ("Hi {name", "a lone '{' at 3"),
        ("50% }", "a lone '}' at 4"),
        ("{var:}", "a variable name is missing"),
    ],
)
def test_bad_placeholders_are_refused_naming_where(text: str, problem: str) -> None:
    with pytest.raises(PlaceholderError) as caught:
        parse(text)
    assert problem in str(caught.value)


def test_fill_uses_value_then_default_then_empty() -> None:
    nobody = ClientFields("  ", {"Город": " "})
    template = "{first_name|друг}/{name}/{var:Город|—}/{var:Город}/{var:none|?}"
    assert fill(template, ANNA) == "Анна/Анна Петрова/Казань/Казань/?"
    assert fill(template, nobody) == "друг//—//?"


@given(st.text())
def test_escape_braces_reads_back_literally(text: str) -> None:
    assert fill(escape_braces(text), ANNA) == text
    assert placeholders_of(escape_braces(text)) == []


@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_characters="{}")),
            st.sampled_from(["{name}", "{first_name}", "{var:Город}", "{var:code|x}"]),
        )
    ),
    st.text(),
)
def test_telegram_render_escapes_any_value_into_valid_html(pieces: list[str], name: str) -> None:
    text = html.escape("".join(pieces), quote=False).replace("&#x27;", "'")
    content = CampaignContent(text=text or "x")
    try:
        content.validate()
    except ContentError:
        return  # e.g. too long: refused, not rendered
    fields = ClientFields(name, {"Город": "<b>&", "code": name})
    row = render(content, fields, "telegram")
    validate_html(row.text)  # whatever the values hold, Telegram can parse the message
    assert row.extra["parse_mode"] == "HTML"
    expected = fill(content.text, fields, lambda v: html.escape(v, quote=True))
    assert plain_text(row.text) == plain_text(expected)
    assert render(content, fields, "whatsapp").text == plain_text(row.text)


PHOTO_CAMPAIGN = CampaignContent(
    text="<b>{first_name|Друг}</b>, скидка в {var:Город}!",
    media=Media("photo", url="https://cdn.example/sale.jpg"),
    buttons=(UrlButton("Купить", "https://shop.example/?city={var:Город}"),),
    template=WhatsAppTemplate("sale_ru", "ru", ("{first_name|Друг}", "{var:Город}")),
    subject="Скидка для {name}",
)


def test_render_telegram_html_caption_photo_and_inline_button() -> None:
    row = render(PHOTO_CAMPAIGN, ANNA, "telegram")
    assert row.text == "<b>Анна</b>, скидка в Казань!"
    assert row.extra == {
        "parse_mode": "HTML",
        "reply_markup": {
            "inline_keyboard": [
                [
                    {
                        "text": "Купить",
                        "url": "https://shop.example/?city=%D0%9A%D0%B0%D0%B7%D0%B0%D0%BD%D1%8C",
                    }
                ]
            ]
        },
    }
    assert row.attachments == ({"kind": "photo", "url": "https://cdn.example/sale.jpg"},)
    assert row.subject is None


def test_render_whatsapp_plain_in_window_template_outside() -> None:
    inside = render(PHOTO_CAMPAIGN, ANNA, "whatsapp", in_window=True)
    assert inside.text == "Анна, скидка в Казань!"
    assert "parse_mode" not in inside.extra
    assert inside.attachments[0]["kind"] == "photo"
    assert inside.extra["upload_media"] is True  # the URL's file uploaded once, then by id
    outside = render(PHOTO_CAMPAIGN, ClientFields("", {}), "whatsapp", in_window=False)
    assert outside.text == "" and outside.attachments == ()
    assert outside.extra == {
        "template": {
            "name": "sale_ru",
            "language": "ru",
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "Друг"}, {"type": "text", "text": ""}],
                }
            ],
        }
    }


def test_render_email_plain_text_subject_and_links() -> None:
    row = render(PHOTO_CAMPAIGN, ANNA, "email")
    assert row.subject == "Скидка для Анна Петрова"
    assert row.text == "Анна, скидка в Казань!"
    assert row.extra["reply_markup"]["inline_keyboard"][0][0]["text"] == "Купить"


def test_template_only_content_is_sent_on_whatsapp_only() -> None:
    content = CampaignContent(template=WhatsAppTemplate("hello_world"))
    assert render(content, ANNA, "whatsapp").extra["template"]["name"] == "hello_world"
    with pytest.raises(ContentError, match="nothing to send on telegram"):
        render(content, ANNA, "telegram")


def test_json_round_trip_keeps_every_part() -> None:
    again = CampaignContent.from_json(PHOTO_CAMPAIGN.to_json())
    assert again == PHOTO_CAMPAIGN
    assert json.loads(again.to_json())["media"]["kind"] == "photo"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "content is empty"),
        ({"text": "<b>x"}, "text: <b> opened at 0 is never closed"),
        ({"text": "Hi {frist_name}"}, "text: unknown placeholder"),
        ({"text": "x", "colour": "red"}, "unknown field 'colour'"),
        ({"text": "x", "media": {"kind": "gif", "url": "https://a.b/x.gif"}}, "media: kind"),
        ({"text": "x", "media": {"kind": "photo"}}, "media: give either a url or a path"),
        ({"text": "x", "media": {"kind": "photo", "url": "ftp://a/b"}}, "not a http/https URL"),
        ({"text": "x", "buttons": [{"text": "Go", "url": "javascript:alert(1)"}]}, "button 1"),
        ({"text": "x", "buttons": [{"text": " ", "url": "https://a.b"}]}, "text is empty"),
        ({"text": "x", "buttons": [{"label": "Go"}]}, "button 1 has an unknown field 'label'"),
        ({"text": "x", "buttons": [{"text": "Go", "url": None}]}, "button 1 url must be a string"),
        ({"text": "x", "buttons": "Go"}, "buttons must be a list"),
        ({"text": "x", "subject": 5}, "subject must be a string"),
        ({"text": "x", "media": {"kind": "photo", "url": 5}}, "media.url must be a string"),
        ({"text": "x", "template": "hello"}, "template must be a JSON object"),
        (
            {"text": "x", "template": {"name": "a", "params": "abc"}},
            "template.params must be a list",
        ),
        ({"text": "x", "subject": "a\nb"}, "subject: one line only"),
        ({"text": "x" * 1025, "media": {"kind": "photo", "url": "https://a.b/c"}}, "over 1024"),
        ({"text": "x" * 4097}, "over 4096"),
        ({"template": {"name": "t", "params": ["{oops}"]}}, "template parameter 1"),
        ("[1]", "must be a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_bad_content_is_refused_in_one_line(data: object, problem: str) -> None:
    raw = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(ContentError) as caught:
        CampaignContent.from_json(raw)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_placeholders_of_content_lists_each_once_across_parts() -> None:
    keys = [p.key for p in PHOTO_CAMPAIGN.placeholders()]
    assert keys == ["{first_name}", "{var:Город}", "{name}"]


def test_sendable_on_says_where_a_template_only_content_goes() -> None:
    only_template = CampaignContent(template=WhatsAppTemplate("hello_world"))
    assert [only_template.sendable_on(p) for p in ("telegram", "whatsapp", "email")] == [
        False,
        True,
        False,
    ]
    assert all(PHOTO_CAMPAIGN.sendable_on(p) for p in ("telegram", "whatsapp", "email"))
