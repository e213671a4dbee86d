"""Reading a Bot API request's parameters the way Telegram does.

Parameters may come in the query string, a JSON body, an urlencoded form or a multipart form
(aiogram always sends multipart, with JSON-encoded objects and files as ``attach://<field>``).
Values from forms are strings; the typed accessors convert them and answer 400 like Telegram.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from emulators.telegram.model import ApiError, bad_request


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a multipart form."""

    data: bytes
    file_name: str | None
    content_type: str | None


@dataclass(slots=True)
class Params:
    values: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    received: float = 0.0  # the emulator's clock (s) when the request arrived

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def str_(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def required_str(self, name: str) -> str:
        value = self.str_(name)
        if value is None or value == "":
            raise bad_request(f"parameter {name} is required")
        return value

    def int_(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def required_int(self, name: str) -> int:
        value = self.int_(name)
        if value is None:
            raise bad_request(f"parameter {name} is required")
        return value

    def bool_(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def json_(self, name: str) -> Any:
        """An object parameter: JSON in forms, already decoded in JSON bodies."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def chat_id(self) -> int | str:
        """``chat_id``: an integer id or an ``@channelusername``."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            if text.startswith("@"):
                return text
            raise bad_request("chat not found") from None

    def recorded(self) -> dict[str, Any]:
        """The parameters as recorded in ``Call.params``: objects decoded, files described."""
        data: dict[str, Any] = {}
        for key, value in self.values.items():
            if isinstance(value, str) and value[:1] in ("{", "["):
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
            data[key] = value
        for key, upload in self.files.items():
            data[key] = {"file_name": upload.file_name, "size": len(upload.data)}
        return data


async def read_params(request: web.Request) -> Params:
    """Every parameter of ``request``; 400 for a body that is not what it claims to be."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method != "POST" or not request.can_read_body:
        return Params(values, files)
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "Bad Request: can't parse JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON body must be an object")
        values.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = Upload(value.file.read(), value.filename, value.content_type)
            else:
                values[key] = value
    return Params(values, files)
