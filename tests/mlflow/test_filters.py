"""MLflow's search filter grammar: what parses, what is refused and why, and what matches."""

from __future__ import annotations

import pytest

from modelplane.api.mlflow import filters
from modelplane.api.mlflow.filters import MODEL_VERSIONS, PROMPT_TAG, REGISTERED_MODELS, Clause
from modelplane.domain.errors import ValidationError
from tests.mlflow import filter_oracle


def models(text: str | None) -> tuple[Clause, ...]:
    return filters.parse(text, REGISTERED_MODELS)


def versions(text: str | None) -> tuple[Clause, ...]:
    return filters.parse(text, MODEL_VERSIONS)


def model_matches(text: str, name: str, tags: dict[str, str] | None = None) -> bool:
    return filter_oracle.matches(models(text), {"name": name}, tags or {})


def version_matches(
    text: str, tags: dict[str, str] | None = None, **attributes: str | int | None
) -> bool:
    return filter_oracle.matches(versions(text), attributes, tags or {})


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_filter_has_no_clauses_and_matches_everything(empty: str | None) -> None:
    assert models(empty) == ()
    assert filter_oracle.matches((), {"name": "any"}, {})


def test_the_clause_the_mlflow_client_appends_parses_in_every_spelling() -> None:
    for text in (
        f"tag.`{PROMPT_TAG}` != 'true'",
        f"tags.`{PROMPT_TAG}` != 'true'",
        f'tags."{PROMPT_TAG}" != "true"',
        f"tags.{PROMPT_TAG} != 'true'",
    ):
        (clause,) = models(text)
        assert (clause.kind, clause.key, clause.comparator, clause.value) == (
            "tag",
            PROMPT_TAG,
            "!=",
            "true",
        ), text


def test_models_without_the_prompt_tag_match_the_prompt_clause() -> None:
    appended = f"name LIKE 'fr%' AND tag.`{PROMPT_TAG}` != 'true'"
    assert model_matches(appended, "fraud")
    assert not model_matches(appended, "fraud", {PROMPT_TAG: "true"})
    assert model_matches(appended, "fraud", {PROMPT_TAG: "false"})
    assert not model_matches(appended, "iris")
    assert model_matches(f"tag.`{PROMPT_TAG}` = 'false'", "anything")
    assert not model_matches(f"tag.`{PROMPT_TAG}` = 'true'", "anything")


def test_any_other_missing_tag_matches_no_clause_on_it() -> None:
    assert not model_matches("tag.team != 'vision'", "m")
    assert model_matches("tag.team != 'vision'", "m", {"team": "nlp"})
    assert not model_matches("tag.team LIKE '%'", "m")
    assert model_matches("tag.team LIKE '%'", "m", {"team": ""})


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("name = 'iris'", "iris", True),
        ("name = 'iris'", "Iris", False),
        ("name != 'iris'", "iris", False),
        ("name LIKE 'ir%'", "iris", True),
        ("name LIKE 'ir%'", "Iris", False),
        ("name ILIKE 'ir%'", "IRIS", True),
        ("name LIKE '%7'", "CreateRMsearch017", True),
        ("name LIKE '%7'", "CreateRMsearch017x", False),
        ("name LIKE 'i_is'", "iris", True),
        ("name LIKE 'i_is'", "irris", False),
        ("name LIKE 'a.b'", "a.b", True),
        ("name LIKE 'a.b'", "axb", False),  # regex characters are literal
        ("name LIKE '%rm%00%'", "CreateRMsearch001", False),
        ("name ILIKE '%rm%00%'", "CreateRMsearch001", True),
        ("name IN ('a', 'iris')", "iris", True),
        ("name NOT IN ('a', 'iris')", "iris", False),
        ("name = 'it''s'", "it's", True),
        ('name = "say ""hi"""', 'say "hi"', True),
    ],
)
def test_name_clauses(text: str, name: str, expected: bool) -> None:
    assert model_matches(text, name) is expected


def test_keywords_ignore_case_and_clauses_join_with_and() -> None:
    text = "name like 'ir%' and tags.`team` = 'vision' AND tag.\"stage two\" ilike 'GO%'"
    tags = {"team": "vision", "stage two": "go-live"}
    assert model_matches(text, "iris", tags)
    assert not model_matches(text, "iris", {**tags, "team": "nlp"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version_number = 3", True),
        ("version_number = '3'", True),
        ("version_number != 3", False),
        ("version_number > 2 AND version_number <= 3", True),
        ("version_number < 3", False),
        ("version_number >= 4", False),
        ("run_id = 'r1'", True),
        ("run_id IN ('r0', 'r1')", True),
        ("run_id NOT IN ('r0', 'r1')", False),
        ("source_path = 's3://b/m'", True),
        ("source_path LIKE 's3://%'", True),
        ("attribute.name = 'iris' AND tags.`k` = ''", True),
        ("name = 'iris' AND tag.k = 'x'", False),
    ],
)
def test_version_clauses(text: str, expected: bool) -> None:
    found = version_matches(
        text, name="iris", version_number=3, run_id="r1", source_path="s3://b/m", tags={"k": ""}
    )
    assert found is expected


def test_a_version_without_a_run_id_matches_no_run_id_clause() -> None:
    assert not version_matches("run_id != 'r1'", name="m", version_number=1, run_id=None)
    assert not version_matches("run_id NOT IN ('r1')", name="m", version_number=1, run_id=None)


@pytest.mark.parametrize(
    ("text", "grammar", "said"),
    [
        ("name = 'a' OR name = 'b'", REGISTERED_MODELS, "OR is not supported"),
        ("name = 'a' name = 'b'", REGISTERED_MODELS, "expected AND"),
        ("run_id = 'x'", REGISTERED_MODELS, "invalid attribute key 'run_id'"),
        ("NAME = 'x'", REGISTERED_MODELS, "invalid attribute key 'NAME'"),  # case-sensitive
        ("current_stage = 'Production'", MODEL_VERSIONS, "invalid attribute key 'current_stage'"),
        ("alias = 'champion'", MODEL_VERSIONS, "invalid attribute key 'alias'"),
        ("name > 'a'", REGISTERED_MODELS, "takes one of = != LIKE ILIKE"),
        ("tag.k IN ('a')", REGISTERED_MODELS, "a tag takes one of"),
        ("source_path IN ('a')", MODEL_VERSIONS, "may be compared with a list"),
        ("version_number LIKE '1%'", MODEL_VERSIONS, "takes one of = != < <= > >="),
        ("version_number = 'one'", MODEL_VERSIONS, "takes an integer"),
        ("version_number = 1.5", MODEL_VERSIONS, "unexpected character"),
        ("name = iris", REGISTERED_MODELS, "expected a quoted string"),
        ("name = 'iris", REGISTERED_MODELS, "unexpected character"),
        ("name", REGISTERED_MODELS, "expected a comparator, found the end"),
        ("name =", REGISTERED_MODELS, "expected a quoted string, found the end"),
        ("name IN 'a'", REGISTERED_MODELS, "expected a list in parentheses"),
        ("name IN ('a' 'b')", REGISTERED_MODELS, "expected ',' or ')'"),
        ("name NOT LIKE 'a'", REGISTERED_MODELS, "expected IN after NOT"),
        ("tag. = 'a'", REGISTERED_MODELS, "must be followed by a key"),
        ("tag.`` = 'a'", REGISTERED_MODELS, "must not be empty"),
        ("metric.acc > 1", REGISTERED_MODELS, "unknown identifier"),
        ("= 'a'", REGISTERED_MODELS, "expected an attribute or a tag"),
        ("name = 'a' AND", REGISTERED_MODELS, "found the end"),
        ("name = 'a'; DROP TABLE x", REGISTERED_MODELS, "unexpected character ';'"),
    ],
)
def test_refusals_name_the_rule_and_the_position(
    text: str, grammar: filters.Grammar, said: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        filters.parse(text, grammar)
    assert said in str(refused.value)
    assert "position" in str(refused.value)
