"""Unit: domain messages a CLI command did not reword still reach the terminal in CLI words."""

from __future__ import annotations

from modelplane.cli import _in_cli_words
from modelplane.exceptions import StageOccupiedError, ValidationError


def test_force_is_the_option() -> None:
    error = StageOccupiedError(
        "Model version '1' of model 'm' is in production; promoting version '2' needs "
        "force=True, which moves '1' to archived.",
        stage="production",
        holder="1",
    )
    assert "needs --force, which" in _in_cli_words(error)
    assert "force=True" not in _in_cli_words(error)


def test_a_listing_is_the_command() -> None:
    error = ValidationError(
        "Several versions of 'm' may be in stage 'archived'; "
        "list them with list_model_versions(stage='archived')."
    )
    assert _in_cli_words(error).endswith(
        "list them with modelplane model version list MODEL --stage archived."
    )
