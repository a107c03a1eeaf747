"""Keyword checking for the ZenML-shaped entry points: a misspelt option is an error.

``create_model``, ``Model``, ``@step`` and ``@pipeline`` are called with code written for
ZenML, which passes options modelplane has no use for (stack components, hooks, settings...).
Swallowing every unknown keyword let ``licence=`` or ``@pipeline(modle=...)`` pass silently,
so each entry point lists the ZenML options it tolerates: those are accepted with a
``ModelplaneIgnoredOptionWarning``; any other unknown keyword is an ``UnexpectedOptionError``
(a ``TypeError``, as Python raises for a misspelt argument) naming the closest real one.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import warnings
from collections.abc import Callable, Collection, Mapping
from typing import Any

from modelplane.domain.errors import RegistryError

#: ZenML's ``Client.create_model`` options modelplane does not use.
CREATE_MODEL_IGNORED = frozenset({"save_models_to_registry"})

#: ZenML's ``Model(...)`` fields modelplane does not use (``model_version_id`` is used).
MODEL_IGNORED = frozenset(
    {"save_models_to_registry", "suppress_class_validation_warnings", "was_created_in_this_run"}
)

#: Options both ZenML decorators take that have no effect on a local, eager run.
_DECORATOR_IGNORED = frozenset(
    {
        "enable_artifact_metadata",
        "enable_artifact_visualization",
        "enable_step_logs",
        "environment",
        "secrets",
        "settings",
        "extra",
        "on_start",
        "on_success",
        "on_failure",
        "on_end",
        "retry",
        "cache_policy",
    }
)

#: ZenML's ``@step`` options modelplane does not use.
STEP_IGNORED = _DECORATOR_IGNORED | {
    "experiment_tracker",
    "step_operator",
    "output_materializers",
    "step_type",
    "runtime",
    "heartbeat_healthy_threshold",
    "group",
}

#: ZenML's ``@pipeline`` options modelplane does not use.
PIPELINE_IGNORED = _DECORATOR_IGNORED | {
    "dynamic",
    "depends_on",
    "enable_pipeline_logs",
    "enable_heartbeat",
    "tags",
    "on_init",
    "on_init_kwargs",
    "on_cleanup",
    "on_pause",
    "on_resume",
    "execution_mode",
}


class ModelplaneIgnoredOptionWarning(UserWarning):
    """A ZenML option was passed that has no effect in modelplane (it is ignored)."""


class UnexpectedOptionError(RegistryError, TypeError):
    """Raised for a keyword argument that is neither a parameter nor a known ZenML option."""


@functools.cache
def _parameters(func: Callable[..., Any]) -> tuple[str, ...]:
    """The keyword parameters ``func`` declares (what a misspelling is compared with)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in kinds and p.name != "self"
    )


def check_options(
    where: str,
    func: Callable[..., Any],
    given: Mapping[str, Any],
    ignored: Collection[str],
    *,
    stacklevel: int = 3,
) -> None:
    """Refuse unknown keywords in ``given`` (the catch-all of ``func``); warn about ignored ones.

    Everything is checked before anything is warned about or done, so a call with one
    misspelt keyword fails as a whole.
    """
    for key in given:
        if key not in ignored:
            candidates = [*_parameters(func), *sorted(ignored)]
            close = difflib.get_close_matches(key, candidates, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            msg = f"{where}() got an unexpected keyword argument '{key}'{hint}"
            raise UnexpectedOptionError(msg)
    for key in given:
        warnings.warn(
            f"{where}(): the ZenML option '{key}' has no effect in modelplane and is ignored.",
            ModelplaneIgnoredOptionWarning,
            stacklevel=stacklevel,
        )
