"""Alias names: the words MLflow and W&B give versions (``champion``), checked as MLflow does.

An alias names at most one version of a model at a time; the model keeps which one
(``Model.set_alias``). The names follow MLflow's rule so that what an MLflow client may set,
modelplane accepts, and the reverse: word characters and hyphens (``^[\\w\\-]*$``, Unicode
word characters included), 1 to 255 characters, case-sensitive. ``latest`` (in any case) and
``v<digits>`` are refused: MLflow reserves them for "the newest version" and "version N".
A purely numeric alias (``3``) is allowed, as in MLflow: aliases are never read as version
selectors. An alias is NFC-normalised first, as names are (``names.normalise_name``), so a
decomposed ``é`` (which is not a word character) names the same alias as a composed one.
"""

from __future__ import annotations

import re

from .errors import ValidationError
from .names import normalise_name

#: MLflow's limit on an alias's length.
MAX_ALIAS_LENGTH = 255

_ALIAS = re.compile(r"[\w\-]+")
_VERSION_ALIAS = re.compile(r"[vV]\d+")
_LATEST = "latest"


def check_alias(alias: object) -> str:
    """The alias in NFC, or ``ValidationError`` saying which rule it breaks."""
    if not isinstance(alias, str):
        msg = f"An alias must be a string, not {type(alias).__name__}."
        raise ValidationError(msg)
    alias = normalise_name(alias)
    if not alias:
        raise ValidationError("An alias must not be empty.")
    if len(alias) > MAX_ALIAS_LENGTH:
        msg = f"The alias is {len(alias)} characters long; the limit is {MAX_ALIAS_LENGTH}."
        raise ValidationError(msg)
    if _ALIAS.fullmatch(alias) is None:
        msg = (
            f"Invalid alias {alias!r}: an alias holds only letters, digits, underscores and "
            "hyphens."
        )
        raise ValidationError(msg)
    if alias.lower() == _LATEST:
        msg = f"The alias '{alias}' is reserved ('latest', in any case, names the newest version)."
        raise ValidationError(msg)
    if _VERSION_ALIAS.fullmatch(alias) is not None:
        msg = f"The alias '{alias}' is reserved ('v' and a number names that version)."
        raise ValidationError(msg)
    return alias
