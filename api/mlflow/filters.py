"""MLflow's search filter grammar, parsed into clauses (``search.py`` runs them in SQL).

What ``search_registered_models`` and ``search_model_versions`` accept
(``mlflow.utils.search_utils``): clauses joined by ``AND`` (never ``OR``), each an identifier,
a comparator and a value::

    name LIKE 'fr%' AND tag.`mlflow.prompt.is_prompt` != 'true'
    run_id IN ('a', 'b') AND version_number >= 3 AND tags.team = "vision"

Identifiers: attributes (``name`` for models; ``name``, ``run_id``, ``source_path`` and
``version_number`` for versions, optionally written ``attribute.name``), and tags (``tag.`` or
``tags.`` and a key, bare or in backticks or double quotes). Strings are quoted with ``'`` or
``"`` (a doubled quote stands for itself); ``version_number`` takes an integer. Comparators:
``= !=`` everywhere, ``LIKE ILIKE`` on strings (``%`` any run, ``_`` one character, ``ILIKE``
ignoring case), ``IN`` and ``NOT IN`` with a parenthesised list for ``name`` and ``run_id``,
``< <= > >=`` on ``version_number``.

Matching is MLflow's: an entity without the tag (or with no ``run_id``) matches no clause on
it, except the one clause every ``MlflowClient.search_registered_models`` call appends,
``tag.`mlflow.prompt.is_prompt` != 'true'`` (and its ``= 'false'`` twin), which models
without the tag must match, or no search would find anything.

Pure: text in, clauses out; refusals are ``ValidationError``
(400 ``INVALID_PARAMETER_VALUE``), naming the position in the filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from modelplane.domain.errors import ValidationError

#: the tag MLflow marks prompts with (``mlflow.prompt.registry_utils.IS_PROMPT_TAG_KEY``)
PROMPT_TAG = "mlflow.prompt.is_prompt"

Kind = Literal["attribute", "tag"]
Value = str | int | tuple[str, ...]

_TAG_PREFIXES = frozenset({"tag", "tags"})
_ATTRIBUTE_PREFIXES = frozenset({"attribute", "attributes", "attr"})
STRING_COMPARATORS = frozenset({"=", "!=", "LIKE", "ILIKE"})
LIST_COMPARATORS = frozenset({"IN", "NOT IN"})
NUMBER_COMPARATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class Grammar:
    """What one search accepts: its attributes, which of them are numbers, which take lists."""

    entity: str
    attributes: frozenset[str]
    numeric: frozenset[str] = frozenset()
    listable: frozenset[str] = frozenset()


REGISTERED_MODELS = Grammar("registered models", frozenset({"name"}), listable=frozenset({"name"}))
MODEL_VERSIONS = Grammar(
    "model versions",
    frozenset({"name", "run_id", "source_path", "version_number"}),
    numeric=frozenset({"version_number"}),
    listable=frozenset({"name", "run_id"}),
)


@dataclass(frozen=True)
class Clause:
    kind: Kind
    key: str
    comparator: str
    value: Value

    @property
    def matches_missing(self) -> bool:
        """Whether an entity without the tag satisfies this clause: only the prompt clause
        the MLflow client appends (and its ``= 'false'`` twin) does."""
        return (
            self.kind == "tag"
            and self.key == PROMPT_TAG
            and (self.comparator, self.value) in (("!=", "true"), ("=", "false"))
        )


# ---------------------------------------------------------------------------- parsing

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<number>-?\d+(?![\w.]))
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][\w.]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _tokens(text: str) -> list[_Token]:
    found = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise _error(text, at, f"unexpected character {text[at]!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            found.append(_Token(kind, match.group(), at))
        at = match.end()
    return found


def _error(text: str, at: int, what: str) -> ValidationError:
    shown = text if len(text) <= 200 else text[:200] + "..."
    return ValidationError(f"Invalid filter '{shown}': {what} at position {at}.")


def _unquote(token: _Token) -> str:
    quote = token.text[0]
    return token.text[1:-1].replace(quote * 2, quote)


class _Parser:
    def __init__(self, text: str, grammar: Grammar) -> None:
        self.text = text
        self.grammar = grammar
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise _error(self.text, len(self.text), f"expected {what}, found the end")
        self.i += 1
        return token

    def fail(self, token: _Token, what: str) -> ValidationError:
        return _error(self.text, token.at, what)

    def clauses(self) -> tuple[Clause, ...]:
        if not self.tokens:
            return ()
        found = [self.clause()]
        while (token := self.peek()) is not None:
            if token.upper != "AND":
                if token.upper == "OR":
                    raise self.fail(token, "OR is not supported (clauses join with AND only)")
                raise self.fail(token, f"expected AND, found {token.text!r}")
            self.i += 1
            found.append(self.clause())
        return tuple(found)

    def clause(self) -> Clause:
        start = self.peek()
        kind, key = self.identifier()
        comparator = self.comparator()
        assert start is not None
        if kind == "tag":
            if comparator not in STRING_COMPARATORS:
                raise self.fail(start, f"a tag takes one of = != LIKE ILIKE, not {comparator}")
            return Clause(kind, key, comparator, self.string())
        if key in self.grammar.numeric:
            if comparator not in NUMBER_COMPARATORS:
                raise self.fail(start, f"'{key}' takes one of = != < <= > >=, not {comparator}")
            return Clause(kind, key, comparator, self.integer(key))
        if comparator in LIST_COMPARATORS:
            if key not in self.grammar.listable:
                listable = ", ".join(sorted(self.grammar.listable))
                raise self.fail(start, f"only {listable} may be compared with a list")
            return Clause(kind, key, comparator, self.string_list())
        if comparator not in STRING_COMPARATORS:
            raise self.fail(start, f"'{key}' takes one of = != LIKE ILIKE, not {comparator}")
        return Clause(kind, key, comparator, self.string())

    def identifier(self) -> tuple[Kind, str]:
        token = self.take("an attribute or a tag")
        if token.kind == "backtick" or (token.kind == "string" and token.text[0] == '"'):
            return self.attribute(token, _unquote(token))
        if token.kind != "word":
            raise self.fail(token, f"expected an attribute or a tag, found {token.text!r}")
        prefix, dot, rest = token.text.partition(".")
        if not dot:
            return self.attribute(token, token.text)
        if prefix.lower() in _TAG_PREFIXES:
            key = rest or self.quoted_key(token)
            return "tag", key
        if prefix.lower() in _ATTRIBUTE_PREFIXES:
            return self.attribute(token, rest or self.quoted_key(token))
        raise self.fail(token, f"unknown identifier {token.text!r} (use tag.<key> or an attribute)")

    def quoted_key(self, after: _Token) -> str:
        """The key after ``tag.`` written in backticks or double quotes (``tag.`a.b```)."""
        token = self.peek()
        glued = token is not None and token.at == after.at + len(after.text)
        if token is None or not glued or not (token.kind == "backtick" or token.text[0] == '"'):
            raise self.fail(after, f"{after.text!r} must be followed by a key")
        self.i += 1
        key = _unquote(token)
        if not key:
            raise self.fail(token, "a tag key must not be empty")
        return key

    def attribute(self, token: _Token, name: str) -> tuple[Kind, str]:
        if name not in self.grammar.attributes:
            valid = ", ".join(sorted(self.grammar.attributes))
            raise self.fail(
                token, f"invalid attribute key '{name}' for {self.grammar.entity} (valid: {valid})"
            )
        return "attribute", name

    def comparator(self) -> str:
        token = self.take("a comparator")
        if token.kind == "op":
            if token.text == "<>":
                return "!="
            return token.text
        word = token.upper
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            following = self.take("IN")
            if following.upper == "IN":
                return "NOT IN"
            raise self.fail(following, f"expected IN after NOT, found {following.text!r}")
        raise self.fail(token, f"expected a comparator, found {token.text!r}")

    def string(self) -> str:
        token = self.take("a quoted string")
        if token.kind != "string":
            raise self.fail(token, f"expected a quoted string, found {token.text!r}")
        return _unquote(token)

    def integer(self, key: str) -> int:
        token = self.take("an integer")
        text = _unquote(token) if token.kind == "string" else token.text
        if token.kind not in ("number", "string") or not re.fullmatch(r"-?\d{1,19}", text):
            raise self.fail(token, f"'{key}' takes an integer, not {token.text!r}")
        return int(text)

    def string_list(self) -> tuple[str, ...]:
        opening = self.take("(")
        if opening.text != "(":
            raise self.fail(opening, f"expected a list in parentheses, found {opening.text!r}")
        values = [self.string()]
        while (token := self.take("',' or ')'")).text == ",":
            values.append(self.string())
        if token.text != ")":
            raise self.fail(token, f"expected ',' or ')', found {token.text!r}")
        return tuple(values)


def parse(text: str | None, grammar: Grammar) -> tuple[Clause, ...]:
    """The clauses of a filter (none for an empty or missing one)."""
    if text is None or not text.strip():
        return ()
    return _Parser(text, grammar).clauses()
