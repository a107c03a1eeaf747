"""Pipelines and steps: ``@pipeline``, ``@step`` and the contexts a running step can ask.

``from modelplane import step, pipeline, get_step_context, get_pipeline_context``. Runs
execute locally and eagerly; every run, step, output and link is an event in the log.
"""

from modelplane.pipelines.context import (
    PipelineContext,
    StepContext,
    current_step,
    get_pipeline_context,
    get_step_context,
)
from modelplane.pipelines.decorators import Pipeline, Step, pipeline, step
from modelplane.pipelines.handles import LazyArtifact, StepArtifact
from modelplane.pipelines.outputs import StepOutputError

__all__ = [
    "LazyArtifact",
    "Pipeline",
    "PipelineContext",
    "Step",
    "StepArtifact",
    "StepContext",
    "StepOutputError",
    "current_step",
    "get_pipeline_context",
    "get_step_context",
    "pipeline",
    "step",
]
