"""The fuzz test's material: valid platform payloads, written from the platforms' documented
shapes, and hypothesis strategies that mutate them (structure and content).

A ``Case`` is a base payload (by index) and the mutations applied to it, each a kind, a path
and a value, so a case that once failed can be written down as an ``@example`` literal.
Values that ``json.dumps`` cannot write (a number of 5,000 digits, 10,000 levels of nesting)
are ``Raw`` JSON text, spliced into the body after encoding.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

PHONE_ID = "106540352242922"
NOW = 1_764_000_000  # 2025-11-24, a plausible "date" for the bases

Path = tuple[str | int, ...]

TELEGRAM: list[dict[str, Any]] = [
    {
        "update_id": 1,
        "message": {
            "message_id": 11,
            "from": {
                "id": 4242,
                "is_bot": False,
                "first_name": "Ann",
                "last_name": "Lee",
                "username": "ann_lee",
                "language_code": "en",
            },
            "chat": {"id": 4242, "type": "private", "first_name": "Ann", "username": "ann_lee"},
            "date": NOW,
            "text": "/start promo_1",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    },
    {
        "update_id": 2,
        "message": {
            "message_id": 12,
            "from": {"id": 4243, "is_bot": False, "first_name": "Борис"},
            "chat": {"id": 4243, "type": "private", "first_name": "Борис"},
            "date": NOW,
            "photo": [
                {
                    "file_id": "AgAC-small",
                    "file_unique_id": "u1",
                    "width": 90,
                    "height": 90,
                    "file_size": 1200,
                },
                {
                    "file_id": "AgAC-large",
                    "file_unique_id": "u2",
                    "width": 800,
                    "height": 800,
                    "file_size": 64000,
                },
            ],
            "caption": "my cat",
        },
    },
    {
        "update_id": 3,
        "edited_message": {
            "message_id": 13,
            "from": {"id": 4242, "is_bot": False, "first_name": "Ann"},
            "chat": {"id": 4242, "type": "private", "first_name": "Ann"},
            "date": NOW,
            "edit_date": NOW + 60,
            "text": "fixed",
        },
    },
    {
        "update_id": 4,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": 4242, "is_bot": False, "first_name": "Ann"},
            "message": {
                "message_id": 14,
                "from": {"id": 999, "is_bot": True, "first_name": "Shop"},
                "chat": {"id": 4242, "type": "private", "first_name": "Ann"},
                "date": NOW,
                "text": "Choose",
            },
            "chat_instance": "-42",
            "data": "answer:yes",
        },
    },
    {
        "update_id": 5,
        "my_chat_member": {
            "chat": {"id": 4244, "type": "private", "first_name": "Cy"},
            "from": {"id": 4244, "is_bot": False, "first_name": "Cy"},
            "date": NOW,
            "old_chat_member": {
                "status": "member",
                "user": {"id": 999, "is_bot": True, "first_name": "Shop"},
            },
            "new_chat_member": {
                "status": "kicked",
                "until_date": 0,
                "user": {"id": 999, "is_bot": True, "first_name": "Shop"},
            },
        },
    },
    {
        "update_id": 6,
        "message": {
            "message_id": 15,
            "from": {"id": 4245, "is_bot": False, "first_name": "Dee"},
            "chat": {"id": -100500, "type": "supergroup", "title": "Fans"},
            "date": NOW,
            "document": {
                "file_id": "BQAC-doc",
                "file_unique_id": "d1",
                "file_name": "bill.pdf",
                "mime_type": "application/pdf",
                "file_size": 8,
            },
            "location": {"latitude": 55.75, "longitude": 37.61},
        },
    },
]


def _wa_value(
    messages: Sequence[dict[str, Any]] = (),
    statuses: Sequence[dict[str, Any]] = (),
    contacts: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_ID},
    }
    if contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def _wa(kind: str, body: Any, sender: str = "16315551181", n: int = 1) -> dict[str, Any]:
    return {
        "from": sender,
        "id": f"wamid.HBgLMTYzMTU1NTExODEVAgASGBQz{n:06d}",
        "timestamp": str(NOW),
        "type": kind,
        kind: body,
    }


ANN = [{"profile": {"name": "Kerry Fisher"}, "wa_id": "16315551181"}]
WHATSAPP: list[dict[str, Any]] = [
    _wa_value([_wa("text", {"body": "Hello, is the shop open?"})], contacts=ANN),
    _wa_value(
        [
            _wa(
                "image",
                {
                    "caption": "pic",
                    "mime_type": "image/jpeg",
                    "sha256": "abc=",
                    "id": "1003383421387256",
                },
                n=2,
            )
        ],
        contacts=ANN,
    ),
    _wa_value(
        [
            {
                **_wa(
                    "interactive",
                    {"type": "button_reply", "button_reply": {"id": "b1", "title": "Yes"}},
                    n=3,
                ),
                "context": {"from": "15550000000", "id": "wamid.ctx"},
            }
        ],
        contacts=ANN,
    ),
    _wa_value(
        [
            _wa(
                "location",
                {"latitude": 38.9, "longitude": -77.0, "name": "Shop", "address": "1 Main St"},
                n=4,
            ),
            _wa(
                "contacts",
                [
                    {
                        "name": {"formatted_name": "Bob B", "first_name": "Bob"},
                        "phones": [{"phone": "+1 555 0100", "type": "CELL", "wa_id": "15550100"}],
                    }
                ],
                n=5,
            ),
        ],
        contacts=ANN,
    ),
    _wa_value(
        statuses=[
            {
                "id": "wamid.out1",
                "status": "delivered",
                "timestamp": str(NOW),
                "recipient_id": "16315551181",
                "conversation": {"id": "c1", "origin": {"type": "service"}},
                "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
            },
            {
                "id": "wamid.out2",
                "status": "failed",
                "timestamp": str(NOW),
                "recipient_id": "16315551181",
                "errors": [
                    {
                        "code": 131047,
                        "title": "Re-engagement message",
                        "message": "Re-engagement message",
                        "error_data": {"details": "More than 24 hours have passed"},
                    }
                ],
            },
        ]
    ),
    _wa_value([_wa("reaction", {"message_id": "wamid.out1", "emoji": "👍"}, n=6)], contacts=ANN),
]


@dataclass(frozen=True)
class Raw:
    """JSON text put in the body as is (what ``json.dumps`` cannot or will not write)."""

    text: str


@dataclass(frozen=True)
class Mutation:
    kind: str  # the strategy that made it (type_swap, remove, huge_string, nul, ...)
    path: Path
    value: Any = None  # ignored by "remove"


@dataclass(frozen=True)
class Case:
    base: int
    mutations: tuple[Mutation, ...]

    def doc(self, bases: Sequence[Any]) -> tuple[Any, dict[str, str]]:
        """The mutated base, and the ``Raw`` texts by the marker strings standing in for them."""
        doc = copy.deepcopy(bases[self.base])
        raws: dict[str, str] = {}
        for mutation in self.mutations:
            doc = _apply(doc, mutation, raws)
        return doc, raws

    def body(self, bases: Sequence[Any]) -> bytes:
        """The mutated base as the bytes of a JSON request body."""
        doc, raws = self.doc(bases)
        text = json.dumps(doc)
        for marker, raw in raws.items():
            text = text.replace(json.dumps(marker), raw)
        return text.encode()


def _apply(doc: Any, mutation: Mutation, raws: dict[str, str]) -> Any:
    value = mutation.value
    if callable(getattr(value, "build", None)):  # kept small in the case, built here
        value = value.build()
    if isinstance(value, Raw):
        marker = f"@@raw{len(raws)}@@"
        raws[marker] = value.text
        value = marker
    if not mutation.path:
        return doc if mutation.kind == "remove" else value
    *parents, last = mutation.path
    node = doc
    for key in parents:  # a path an earlier mutation removed: nothing to do
        if not _has(node, key):
            return doc
        node = node[key]
    if not _has(node, last):
        return doc
    if mutation.kind == "remove":
        del node[last]
    else:
        node[last] = value
    return doc


def _has(node: Any, key: str | int) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)


def paths(doc: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path below ``doc`` (dict keys and list indexes), parents before children."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


SCALARS = [None, True, False, 0, -1, 1.5, "", "x", [], {}, [1, "a"], {"a": 1}]
ODD_NUMBERS = [0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 1e308, -0.0, 0.1]
ODD_DATES = [
    0,
    -1,
    946684799,
    253402300799,
    253402300800,
    10**11,
    -62135596800,
    NOW + 86400 * 2,
    "2024-01-01",
    "9999999999",
    1.5e9,
]
CONTROL = "".join(chr(c) for c in [*range(1, 32), 127, *range(0x80, 0xA0)]) + "\u2028\u200b\ufeff"

# What each kind puts at the chosen path.
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "type_swap": st.sampled_from(SCALARS),
    "remove": st.none(),
    "huge_string": st.sampled_from([1_000, 10_000, 200_000]).flatmap(
        lambda n: st.sampled_from(["A" * n, "я" * n, "😀" * (n // 4), "9" * n])
    ),
    "empty_string": st.just(""),
    "control_chars": st.text(alphabet=CONTROL, min_size=1, max_size=20).map(lambda s: f"a{s}b"),
    "text": st.text(max_size=50),
    "odd_number": st.sampled_from(ODD_NUMBERS),
    "odd_date": st.sampled_from(ODD_DATES),
    "nested": st.integers(2, 20).map(lambda n: json.loads("[" * n + "1" + "]" * n)),
    "nul": st.sampled_from(["\x00", "a\x00b", "\x00" * 50]),
    "surrogate": st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800"]),
    "long_number": st.sampled_from([Raw("9" * 5000), Raw("-" + "1" * 200), Raw("1" + "0" * 400)]),
    "deep_nesting": st.sampled_from([101, 1_000, 10_000]).map(lambda n: Raw("[" * n + "]" * n)),
}


def cases(
    bases: Sequence[Any],
    kinds: Sequence[str],
    values: dict[str, st.SearchStrategy[Any]] | None = None,
    exclude: Callable[[Mutation], object] = lambda _: None,
) -> st.SearchStrategy[Case]:
    """Cases of 1–3 mutations of one of ``bases``, mutation kinds drawn from ``kinds``, their
    values from ``values`` (default ``VALUES``); a mutation ``exclude`` is true for is left
    out (a case may then be the base as it is)."""
    values = VALUES if values is None else values
    kinds = [k for k in kinds if k in values]
    if not kinds:  # FUZZ_KINDS named none of this channel's: the bases as they are
        return st.integers(0, len(bases) - 1).map(lambda i: Case(i, ()))

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        base = draw(st.integers(0, len(bases) - 1))
        where = [(), *paths(bases[base])]
        mutations = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(list(kinds)))
            path = draw(st.sampled_from(where[1:] if kind == "remove" else where))
            mutation = Mutation(kind, path, draw(values[kind]))
            if not exclude(mutation):  # a mutation whose fix is pending: left out
                mutations.append(mutation)
        return Case(base, tuple(mutations))

    return build()
