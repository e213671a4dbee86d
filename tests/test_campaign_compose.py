"""A campaign's content written as one message with part lines (store.campaigns.compose)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.campaigns.compose import PART, compose, describe
from store.campaigns.content import (
    CampaignContent,
    ContentError,
    Media,
    UrlButton,
    WhatsAppTemplate,
)

MESSAGE = """<b>Friday sale</b>, {first_name|friend}!
button: inside the text is text
20% off in {var:Город|your city}.
photo: https://cdn.example/sale.jpg
button: Shop | now | https://shop.example/sale
Button: Call us | tg://resolve?domain=shop
subject: Friday sale
template: sale_ru ru | {first_name|friend} | {var:Город|your city}"""


def test_compose_reads_text_then_part_lines_from_the_end() -> None:
    content = compose(MESSAGE)
    assert content == CampaignContent(
        text="<b>Friday sale</b>, {first_name|friend}!\nbutton: inside the text is text\n"
        "20% off in {var:Город|your city}.",
        media=Media("photo", url="https://cdn.example/sale.jpg"),
        buttons=(
            UrlButton("Shop | now", "https://shop.example/sale"),
            UrlButton("Call us", "tg://resolve?domain=shop"),
        ),
        template=WhatsAppTemplate(
            "sale_ru", "ru", ("{first_name|friend}", "{var:Город|your city}")
        ),
        subject="Friday sale",
    )
    assert compose(describe(content)) == content


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("Hi\nphoto: /etc/passwd", "media: '/etc/passwd' is not a http/https URL"),
        ("Hi\nphoto: https://a.b/1.jpg\nvideo: https://a.b/2.mp4", "video: one photo"),
        ("Hi\nbutton: no url here", "button: write it as TEXT | URL"),
        ("Hi\nsubject:", "subject: is empty"),
        ("Hi\ntemplate: a b c | x", "template: write it as NAME [LANGUAGE]"),
        ("Hi {oops}", "text: unknown placeholder {oops}"),
        ("<b>Hi", "never closed"),
        ("x" * 1025 + "\nphoto: https://a.b/c.jpg", "over 1024 characters, the limit of a caption"),
    ],
)
def test_compose_refuses_in_one_line(message: str, problem: str) -> None:
    with pytest.raises(ContentError) as caught:
        compose(message)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


SAFE = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=["Cs", "Cc", "Zl", "Zp"], blacklist_characters="{}<>&|\n\r\x85"
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)


@given(
    text=SAFE,
    buttons=st.lists(
        st.tuples(SAFE, st.sampled_from(["https://a.b/x", "http://c.d/?q=1"])), max_size=3
    ),
    subject=st.one_of(st.none(), SAFE),
    kind=st.sampled_from(["photo", "video", "document", None]),
)
def test_describe_then_compose_gives_the_content_back(
    text: str, buttons: list[tuple[str, str]], subject: str | None, kind: str | None
) -> None:
    media = Media(kind, url="https://cdn.example/f") if kind else None  # type: ignore[arg-type]
    content = CampaignContent(
        text=text,
        media=media,
        buttons=tuple(UrlButton(t[:60], u) for t, u in buttons),
        subject=subject,
    )
    try:
        content.validate()
    except ContentError:
        return
    if PART.match(text.splitlines()[-1].strip()):
        return  # a last text line that reads as a part line is a part line, by the rule
    assert compose(describe(content)) == content


PART_LINE = st.sampled_from(
    ["photo: ", "video:", "button: ", "subject:", "template: ", "document: ", "Button:"]
)


@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            PART_LINE.flatmap(lambda p: st.text(max_size=30).map(lambda t: p + t)),
        ),
        max_size=6,
    )
)
def test_any_message_is_read_or_refused_in_one_line(lines: list[str]) -> None:
    try:
        content = compose("\n".join(lines))
    except ContentError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    content.validate()  # what compose returns is always valid


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = st.sampled_from(["text", "media", "buttons", "template", "subject"])


PART_KEYS = st.sampled_from(["kind", "url", "path", "text", "name", "language", "params", "x"])
SHAPED = st.one_of(
    JSON,
    st.dictionaries(PART_KEYS, JSON, max_size=4),
    st.lists(st.dictionaries(PART_KEYS, JSON, max_size=3), max_size=3),
)


@given(st.dictionaries(FIELDS, SHAPED, max_size=5))
def test_any_json_content_is_read_or_refused_in_one_line(data: dict[str, object]) -> None:
    try:
        CampaignContent.from_json(data)
    except ContentError as exc:
        assert "\n" not in str(exc) and str(exc)
