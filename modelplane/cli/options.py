"""Options that several commands take, declared once so their spelling and help agree.

Each is an ``Annotated`` alias for a command's signature (``as_json: JsonOpt = False``); an
optional value is ``T | None`` with the default None. An option whose flag is shared but
whose meaning differs per command (``--force``) is made by a function taking the help.
How values are checked lives in ``params.py``; these only declare.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import typer

from modelplane.domain import stages
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS

from .params import MAX_PAGE, WholeNumber


def choices(values: Iterable[str]) -> str:
    """``none, staging, production or archived``."""
    values = tuple(values)
    return f"{', '.join(values[:-1])} or {values[-1]}"


#: The stages a version can be moved into or listed by, as help texts spell them.
STAGE_CHOICES = choices(stages.ASSIGNABLE)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PageOpt = Annotated[int, typer.Option(click_type=WholeNumber(1, MAX_PAGE), help="Page number.")]
SizeOpt = Annotated[int, typer.Option(click_type=WholeNumber(1, 10_000), help="Items per page.")]
CursorOpt = Annotated[
    str | None,
    typer.Option(help="Continue after a page: its next_cursor (in the --json output)."),
]

TagsOpt = Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag (repeatable).")]
AddTagsOpt = Annotated[list[str] | None, typer.Option("--add-tag", help="Add a tag (repeatable).")]
RemoveTagsOpt = Annotated[
    list[str] | None, typer.Option("--remove-tag", help="Remove a tag (repeatable).")
]

ModelFilterOpt = Annotated[
    str | None, typer.Option("--model", help="Only those of this model (every life of its name).")
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        help="As of a log position (digits) or an ISO 8601 time such as "
        "2026-11-26T09:15:00+01:00; a time without an offset is UTC."
    ),
]
REASON_HELP = "Why (kept in the log)."
ReasonOpt = Annotated[str | None, typer.Option(help=REASON_HELP)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")]
VersionDescriptionOpt = Annotated[
    str | None, typer.Option("--description", help="Description of the version.")
]


def force_option(help: str) -> Any:
    """``--force``/``-f``, with what forcing does in this command."""
    return typer.Option("--force", "-f", help=help)


# ------------------------------------------------------------------ the model card

#: What each model-card option sets; the fields and their order are ``DESCRIPTIVE_FIELDS``.
CARD_HELP: dict[str, str] = {
    "license": "License of the model.",
    "description": "What the model is for.",
    "audience": "Who the model is meant for.",
    "use_cases": "Uses the model is meant for.",
    "limitations": "Known limitations of the model.",
    "trade_offs": "Trade-offs made in the model.",
    "ethics": "Ethical considerations about the model.",
}

#: The fields of a model card a command was given (None where an option was left out).
ModelCard = dict[str, str | None]


def card_option(field: str) -> Any:
    """The option of one model-card field: ``use_cases`` is ``--use-cases``."""
    return Annotated[
        str | None, typer.Option(f"--{field.replace('_', '-')}", help=CARD_HELP.get(field))
    ]


def card_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per model-card field in place of its ``card`` parameter.

    The fields come from ``DESCRIPTIVE_FIELDS``, so a field added there is an option of
    ``model register`` and ``model update`` without touching them; the command gets the
    values as one ``ModelCard`` dict, ready for ``create_model(**card)``. typer reads the
    options from the signature, so the returned function carries the rewritten one.
    """
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    at = next(i for i, p in enumerate(params) if p.name == "card")
    fields = [
        inspect.Parameter(field, params[at].kind, default=None, annotation=card_option(field))
        for field in DESCRIPTIVE_FIELDS
    ]
    params[at : at + 1] = fields

    def with_card(**values: Any) -> None:
        card: ModelCard = {field: values.pop(field) for field in DESCRIPTIVE_FIELDS}
        command(**values, card=card)

    with_card.__name__ = command.__name__
    with_card.__qualname__ = command.__qualname__
    with_card.__module__ = command.__module__
    with_card.__doc__ = command.__doc__
    with_card.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    with_card.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    return with_card
