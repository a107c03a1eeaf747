"""A step's outputs, named by its return annotation, and the check of what it returned.

``-> Annotated[T, "name"]`` or ``-> Annotated[T, ArtifactConfig("name", ...)]`` names one
output; ``-> tuple[Annotated[...], Annotated[...]]`` gives several; no annotation (or a plain
type) gives one output called ``output``; ``-> None`` gives none. The annotation is read once,
when the step is decorated, so a malformed one fails at import, not mid-run.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelplane.domain.errors import ValidationError

from ..artifacts.artifact_config import ArtifactConfig

DEFAULT_OUTPUT = "output"


class StepOutputError(ValidationError):
    """Raised when a step returns a different number of outputs than its annotation names.

    Nothing of the step's outputs is stored or recorded.
    """


@dataclass(frozen=True)
class OutputSpec:
    name: str
    config: ArtifactConfig


def output_specs(func: Callable[..., Any]) -> list[OutputSpec] | None:
    """The outputs ``func``'s return annotation declares; None means "no annotation"."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:
        # A forward reference that cannot be resolved: fall back to what is written.
        hints = dict(getattr(func, "__annotations__", {}))
    if "return" not in hints:
        return None
    annotation = hints["return"]
    if annotation is None or annotation is type(None):
        return []
    if typing.get_origin(annotation) is tuple:
        members = typing.get_args(annotation)
        if members and members[-1] is not Ellipsis and any(_named(m) for m in members):
            specs = [_spec(m, f"{DEFAULT_OUTPUT}_{i}") for i, m in enumerate(members)]
            return _unique(specs, func)
    return [_spec(annotation, DEFAULT_OUTPUT)]


def split_outputs(step: str, specs: list[OutputSpec] | None, value: Any) -> list[Any]:
    """The returned value as one value per declared output, or ``StepOutputError``."""
    if specs is None:
        return [] if value is None else [value]
    if len(specs) == 0:
        if value is not None:
            msg = (
                f"Step '{step}' is annotated to return nothing (-> None) but returned a "
                f"{type(value).__name__}."
            )
            raise StepOutputError(msg)
        return []
    if len(specs) == 1:
        return [value]
    names = ", ".join(s.name for s in specs)
    if not isinstance(value, (tuple, list)):
        msg = (
            f"Step '{step}' declares {len(specs)} outputs ({names}) but returned one "
            f"{type(value).__name__}; return a tuple of {len(specs)} values."
        )
        raise StepOutputError(msg)
    if len(value) != len(specs):
        msg = (
            f"Step '{step}' declares {len(specs)} outputs ({names}) but returned "
            f"{len(value)} values."
        )
        raise StepOutputError(msg)
    return list(value)


def names_of(specs: list[OutputSpec] | None) -> list[str]:
    return [DEFAULT_OUTPUT] if specs is None else [s.name for s in specs]


def _named(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Annotated


def _spec(annotation: Any, default: str) -> OutputSpec:
    if _named(annotation):
        for extra in annotation.__metadata__:
            if isinstance(extra, str):
                return OutputSpec(extra, ArtifactConfig(extra))
            if isinstance(extra, ArtifactConfig):
                return OutputSpec(extra.name or default, extra)
    return OutputSpec(default, ArtifactConfig(default))


def _unique(specs: list[OutputSpec], func: Callable[..., Any]) -> list[OutputSpec]:
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        msg = f"Step '{func.__name__}' names two outputs alike: {', '.join(names)}."
        raise ValidationError(msg)
    return specs
