"""``@step`` and ``@pipeline``, bare or with arguments, as ZenML spells them.

A decorated function stays callable: a pipeline call runs the body locally and returns the
run (``PipelineRunResponse``); a step call inside a pipeline runs the step at once and
returns handles on its outputs (``StepArtifact``, a tuple of them for several outputs, None
for none), which other steps accept as inputs; a step called on its own is a one-step run
and returns its value(s). ``enable_cache`` is accepted and recorded, nothing is cached.
Other ZenML options (settings, hooks, stack components...) are accepted with a
``ModelplaneIgnoredOptionWarning``; a misspelt keyword (``modle=``) is a ``TypeError``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, overload

from modelplane.domain.names import check_name, normalise_name

from ..model import Model
from ..options import PIPELINE_IGNORED, STEP_IGNORED, check_options
from ..responses import PipelineRunResponse
from . import context
from .outputs import output_specs


class Step:
    """A step function and its options; calling it runs it (see the module docstring)."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        model: Model | None = None,
        substitutions: dict[str, str] | None = None,
        enable_cache: bool | None = None,
    ) -> None:
        self.entrypoint = func
        self.name = check_name(normalise_name(name or func.__name__), "step")  # checked early
        self.model = model
        self.substitutions = dict(substitutions or {})
        self.enable_cache = enable_cache
        self.outputs = output_specs(func)  # a malformed annotation fails at decoration
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if context.current_step() is not None:
            return self.entrypoint(*args, **kwargs)  # a step inside a step is a plain call
        from . import execution  # loads the store's modules: decorating must stay cheap

        run = context.current_run()
        if run is None:
            return execution.standalone_step(
                self.name, self.entrypoint, self.outputs, self.model, self.substitutions,
                args, kwargs,
            )  # fmt: skip
        result = execution.run_step(
            run, self.name, self.entrypoint, self.outputs, self.model, args, kwargs
        )
        handles = result.outputs
        if self.outputs is not None and len(self.outputs) > 1:
            return tuple(handles)
        return handles[0] if handles else None

    def __repr__(self) -> str:
        return f"<step {self.name}>"


class Pipeline:
    """A pipeline function and its options; calling it runs it and returns the run."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        model: Model | None = None,
        substitutions: dict[str, str] | None = None,
        enable_cache: bool | None = None,
    ) -> None:
        self.entrypoint = func
        self.name = check_name(normalise_name(name or func.__name__), "pipeline")
        self.model = model
        self.substitutions = dict(substitutions or {})
        self.enable_cache = enable_cache
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> PipelineRunResponse:
        """Run the pipeline now and return its ``PipelineRunResponse``.

        A failing step (or body) marks the run failed and raises the original exception.
        """
        from . import execution  # loads the store's modules: decorating must stay cheap

        execution.check_not_nested()
        parameters = inspect.signature(self.entrypoint).bind(*args, **kwargs)
        parameters.apply_defaults()
        run = execution.start_run(
            self.name, self.model, self.substitutions, dict(parameters.arguments)
        )
        with execution.active_run(run):
            self.entrypoint(*args, **kwargs)
        from ..client import Client

        return Client().get_pipeline_run(run.run_id)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


@overload
def step(func: Callable[..., Any], /) -> Step: ...
@overload
def step(
    func: None = None,
    /,
    *,
    name: str | None = None,
    model: Model | None = None,
    substitutions: dict[str, str] | None = None,
    enable_cache: bool | None = None,
    **zenml_options: Any,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    model: Model | None = None,
    substitutions: dict[str, str] | None = None,
    enable_cache: bool | None = None,
    **zenml_options: Any,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """``@step`` or ``@step(model=..., name=..., enable_cache=...)``.

    ZenML's other options (settings, experiment_tracker...) are accepted with a warning that
    they have no effect, so decorators written for ZenML still apply; any other keyword is
    refused at decoration, before a misspelt ``model=`` could run a step without its model.
    """
    check_options("step", step, zenml_options, STEP_IGNORED)

    def wrap(f: Callable[..., Any]) -> Step:
        return Step(
            f, name=name, model=model, substitutions=substitutions, enable_cache=enable_cache
        )

    return wrap if func is None else wrap(func)


@overload
def pipeline(func: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(
    func: None = None,
    /,
    *,
    name: str | None = None,
    model: Model | None = None,
    substitutions: dict[str, str] | None = None,
    enable_cache: bool | None = None,
    **zenml_options: Any,
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    model: Model | None = None,
    substitutions: dict[str, str] | None = None,
    enable_cache: bool | None = None,
    **zenml_options: Any,
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """``@pipeline`` or ``@pipeline(model=Model(...), name=..., substitutions=...)``.

    As for ``@step``: ZenML's other options are ignored with a warning, anything else (a
    misspelt ``modle=``) is a ``TypeError`` at decoration.
    """
    check_options("pipeline", pipeline, zenml_options, PIPELINE_IGNORED)

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(
            f, name=name, model=model, substitutions=substitutions, enable_cache=enable_cache
        )

    return wrap if func is None else wrap(func)
