"""The JSON form of the response objects and errors, shared by the server and its client.

A response object crosses the wire as its public fields (those not starting with ``_``), in
the JSON orjson writes for them (UUIDs and datetimes as ISO text, stages as their value). The
server encodes with ``encode``; the HTTP backend decodes with ``decode`` into the same class,
bound to itself, so a remote ``ModelVersionResponse`` reads its metadata through the server.
Both sides derive the fields from the dataclass, so a field added to a response travels
without a second edit; ``api.schemas`` derives the OpenAPI schema from the same fields.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")
Convert = Callable[[Any, Any], Any]


@functools.cache
def public_fields(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """``(name, type hint, default)`` of each public field of a response dataclass."""
    hints = typing.get_type_hints(cls, localns={"Backend": object, "Client": object})
    found = []
    for field in dataclasses.fields(cls):
        if field.name.startswith("_"):
            continue
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = ...
        found.append((field.name, hints[field.name], default))
    return tuple(found)


def encode(obj: Any) -> Any:
    """The JSON-ready form of a response object (or a list or dict of them)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: encode(getattr(obj, name)) for name, _, _ in public_fields(type(obj))}
    if isinstance(obj, list | tuple):
        return [encode(item) for item in obj]
    if isinstance(obj, dict):
        return {key: encode(value) for key, value in obj.items()}
    return obj


def decode(cls: type[T], data: dict[str, Any], backend: Any = None) -> T:
    """A response object from its JSON form; ``backend`` becomes its ``_backend``."""
    values = {
        name: convert(data.get(name, default), backend)
        for name, convert, default in _decoders(cls)  # type: ignore[arg-type]
    }
    if backend is not None and "_backend" in cls.__dataclass_fields__:  # type: ignore[attr-defined]
        values["_backend"] = backend
    return cls(**values)


@functools.cache
def _decoders(cls: type) -> tuple[tuple[str, Convert, Any], ...]:
    return tuple(
        (name, _converter(hint), None if default is ... else default)
        for name, hint, default in public_fields(cls)
    )


def _identity(value: Any, _backend: Any) -> Any:
    return value


def _converter(hint: Any) -> Convert:
    """How to turn the JSON of a value of type ``hint`` back into that type (a nested
    response object is bound to the same backend)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            inner = _converter(options[0])
            return lambda v, b: None if v is None else inner(v, b)
        if str in options:  # ``ModelStages | str``: the enum where the value is one
            enums = [a for a in options if isinstance(a, type) and issubclass(a, enum.Enum)]
            return lambda v, b: _enum_or_text(enums, v)
        return _identity
    if origin is list:
        item = _converter(args[0]) if args else _identity
        return lambda v, b: [item(x, b) for x in v]
    if origin is dict:
        value = _converter(args[1]) if len(args) == 2 else _identity
        return lambda v, b: {k: value(x, b) for k, x in v.items()}
    if hint is UUID:
        return lambda v, b: v if isinstance(v, UUID) else UUID(v)
    if hint is datetime:
        return lambda v, b: v if isinstance(v, datetime) else datetime.fromisoformat(v)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v, b: hint(v)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda v, b: decode(hint, v, b)
    return _identity


def _enum_or_text(enums: list[type[enum.Enum]], value: Any) -> Any:
    for kind in enums:
        try:
            return kind(value)
        except ValueError:
            continue
    return value


@functools.cache
def _error_types() -> dict[str, type[Exception]]:
    from modelplane import exceptions
    from modelplane.domain import errors
    from modelplane.domain.errors import RegistryError

    from . import errors as service_errors

    found: dict[str, type[Exception]] = {}
    for module in (errors, exceptions, service_errors):
        for name in dir(module):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, RegistryError):
                found[value.__name__] = value
    found["AmbiguousPrefixError"] = exceptions.AmbiguousPrefixError
    return found


def error_from(status: int, body: Any) -> Exception:
    """The exception a server's error answer stands for, of the type the use case raised."""
    from modelplane.domain.errors import (
        NotFoundError,
        PermissionDeniedError,
        PreconditionFailedError,
        RunEndedError,
        StageOccupiedError,
        ValidationError,
    )

    from .errors import AuthenticationError, PayloadTooLargeError, ServerError

    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return ServerError(f"The server answered {status} without an error body.")
    kind, message = str(error.get("type")), error["message"]
    if kind == "StageOccupiedError":
        stage, holder = str(error.get("stage", "")), str(error.get("holder", ""))
        return StageOccupiedError(message, stage=stage, holder=holder)
    if kind == "PreconditionFailedError":
        held = error.get("holder")
        return PreconditionFailedError(
            message,
            stage=str(error.get("stage", "")),
            holder=None if held is None else str(held),
            expected=str(error.get("expected", "")),
        )
    if kind == "RunEndedError":
        ended, why = str(error.get("status", "")), error.get("run_error")
        return RunEndedError(message, status=ended, error=why)
    cls = _error_types().get(kind)
    if cls is not None and kind not in ("Exception", "BaseException"):
        return cls(message)
    by_status: dict[int, type[Exception]] = {
        400: ValidationError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        413: PayloadTooLargeError,
        422: ValidationError,
    }
    return by_status.get(status, ServerError)(message)
