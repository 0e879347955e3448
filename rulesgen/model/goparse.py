"""Parse an annotation or label as Prometheus parses it (Go's text/template), so a
template Prometheus would refuse is a spec error at validate time, not a rule file
promtool rejects. It checks what Go's parser checks: delimiters, comments, quoting,
parentheses, control blocks, declared variables and defined functions; messages are
Go's. Execution is `gotemplate.expand`'s business."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Prometheus 2.42's template functions and text/template's builtins; newer functions
# (now, toDuration, urlQueryEscape) are left out so older servers accept the output.
_FUNCTION_NAMES = (
    "query first label value strvalue args reReplaceAll safeHtml match title toUpper toLower graphLink "
    "tableLink sortByLabel humanize humanize1024 humanizeDuration humanizePercentage humanizeTimestamp "
    "toTime pathPrefix externalURL parseDuration stripPort stripDomain "
    "and call html index slice js len not or print printf println urlquery eq ge gt le lt ne"
)
FUNCTIONS = frozenset(_FUNCTION_NAMES.split())
# Prometheus declares these before expanding a rule's labels and annotations.
PREDECLARED = frozenset({"$", "$labels", "$externalLabels", "$externalURL", "$value"})
_BLOCKS = {"if", "range", "with", "define", "block"}
_SPACE = " \t\r\n"


class GoTemplateError(ValueError):
    """Go's parse error for a template, without its `template: name:line:` prefix."""


@dataclass
class _Token:
    kind: str  # ident, var, field, string, number, char, op, keyword
    text: str


_NUMBER = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?)(i)?")
_WORD = re.compile(r"[A-Za-z_]\w*")
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "block", "template", "break", "continue"}
_KEYWORDS |= {"nil", "true", "false"}


def check(template: str) -> None:
    """Raise GoTemplateError with Go's message when text/template would not parse `template`."""
    if "{{" not in template:
        return
    _Parser().parse(_actions(template))


def _actions(text: str) -> list[list[_Token]]:
    """The token lists of the template's actions, comments left out."""
    actions = []
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        pos = start + 2
        if text.startswith("-", pos) and pos + 1 < len(text) and text[pos + 1] in _SPACE:
            pos += 2
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        if text.startswith("/*", pos):
            pos = _comment(text, pos)
            continue
        tokens, pos = _lex_action(text, pos)
        actions.append(tokens)
    return actions


def _comment(text: str, pos: int) -> int:
    end = text.find("*/", pos + 2)
    if end < 0:
        raise GoTemplateError("unclosed comment")
    rest = end + 2
    for closing in ("}}", " -}}"):
        if text.startswith(closing, rest):
            return rest + len(closing)
    raise GoTemplateError("comment ends before closing delimiter")


def _lex_action(text: str, pos: int) -> tuple[list[_Token], int]:
    tokens: list[_Token] = []
    depth = 0
    while True:
        if pos >= len(text):
            raise GoTemplateError("unclosed action")
        c = text[pos]
        trim_close = c in _SPACE and text.startswith("-}}", pos + 1)
        if text.startswith("}}", pos) or trim_close:
            if depth:
                raise GoTemplateError("unclosed left paren")
            return tokens, pos + (4 if trim_close else 2)
        if c in _SPACE:
            pos += 1
        elif c in "\"`'":
            pos = _quoted(text, pos, tokens)
        elif c == "(" or c == ")":
            depth += 1 if c == "(" else -1
            if depth < 0:
                raise GoTemplateError('unexpected ")" in command')
            tokens.append(_Token("op", c))
            pos += 1
        elif c == ":":
            if not text.startswith(":=", pos):
                raise GoTemplateError("expected :=")
            tokens.append(_Token("op", ":="))
            pos += 2
        elif c in "|=,":
            tokens.append(_Token("op", c))
            pos += 1
        elif c == "$":
            word = _WORD.match(text, pos + 1)
            end = word.end() if word else pos + 1
            tokens.append(_Token("var", text[pos:end]))
            pos = end
        elif c == "." and not (pos + 1 < len(text) and text[pos + 1].isdigit()):
            word = _WORD.match(text, pos + 1)
            end = word.end() if word else pos + 1
            tokens.append(_Token("field", text[pos:end]))
            pos = end
        elif c.isdigit() or c in "+-.":
            number = _NUMBER.match(text, pos)
            end = number.end() if number else pos
            if number is None or not number.group() or _WORD.match(text, end):
                raise GoTemplateError(f'bad number syntax: "{text[pos : end + 1]}"')
            tokens.append(_Token("number", number.group()))
            pos = number.end()
        elif _WORD.match(text, pos):
            word = _WORD.match(text, pos)
            assert word is not None
            kind = "keyword" if word.group() in _KEYWORDS else "ident"
            tokens.append(_Token(kind, word.group()))
            pos = word.end()
            # Go's field chains on a call result (`(x).Field`) and bare `.` after names.
            while pos < len(text) and text[pos] == "." and (chain := _WORD.match(text, pos + 1)):
                pos = chain.end()
        elif c.isascii() and c.isprintable():
            raise GoTemplateError(f'unexpected "{c}" in operand')
        else:
            raise GoTemplateError(f"unrecognized character in action: {c!r}")


def _quoted(text: str, pos: int, tokens: list[_Token]) -> int:
    quote = text[pos]
    i = pos + 1
    while i < len(text) and text[i] != quote:
        if quote != "`" and (text[i] == "\n"):
            break
        i += 2 if quote != "`" and text[i] == "\\" else 1
    if i >= len(text) or text[i] != quote:
        raise GoTemplateError(
            {"`": "unterminated raw quoted string", '"': "unterminated quoted string"}.get(
                quote, "unterminated character constant"
            )
        )
    tokens.append(_Token("char" if quote == "'" else "string", text[pos : i + 1]))
    return i + 1


@dataclass
class _Parser:
    blocks: list[str] = field(default_factory=list)
    scopes: list[set[str]] = field(default_factory=lambda: [set(PREDECLARED)])

    def parse(self, actions: list[list[_Token]]) -> None:
        for tokens in actions:
            self.action(tokens)
        if self.blocks:
            raise GoTemplateError("unexpected EOF")

    def action(self, tokens: list[_Token]) -> None:
        head = tokens[0].text if tokens and tokens[0].kind == "keyword" else ""
        rest = tokens[1:]
        if head == "end":
            if not self.blocks or rest:
                raise GoTemplateError("unexpected {{end}}" if not self.blocks else "unexpected token in end")
            self.blocks.pop()
            self.scopes.pop()
        elif head == "else":
            if not self.blocks or self.blocks[-1] not in {"if", "with", "range"}:
                raise GoTemplateError("unexpected {{else}}")
            if rest and rest[0].text in {"if", "with"}:
                self.pipeline(rest[1:], rest[0].text)
            elif rest:
                raise GoTemplateError("unexpected token in else")
        elif head in {"break", "continue"}:
            if "range" not in self.blocks:
                raise GoTemplateError(f"{{{{{head}}}}} outside {{{{range}}}}")
        elif head in {"define", "block", "template"}:
            if not rest or rest[0].kind != "string":
                raise GoTemplateError(f"unexpected token in {head} clause")
            if rest[1:]:
                self.pipeline(rest[1:], head)
            if head != "template":
                self.open(head)
        elif head in {"if", "range", "with"}:
            self.open(head)
            self.pipeline(rest, head)
        else:
            self.pipeline(tokens, "command")

    def open(self, block: str) -> None:
        self.blocks.append(block)
        self.scopes.append(set())

    def pipeline(self, tokens: list[_Token], context: str) -> None:
        declared = _declaration(tokens)
        body = tokens[len(declared) * 2 :] if declared else tokens
        if declared and body and body[0].text == ",":
            raise GoTemplateError("too many declarations")
        if not body:
            raise GoTemplateError(f"missing value for {context}")
        commands = _split(body, "|")
        # Go's parser accepts a trailing `|` (`{{ $value | }}`); an empty first command it does not.
        if len(commands) > 1 and not commands[-1]:
            commands.pop()
        for command in commands:
            self.command(command)
        assigned = {t.text for t in declared}
        if tokens[len(declared) * 2 - 1 : len(declared) * 2] == [_Token("op", "=")]:
            for name in assigned:
                self.variable(name)
        else:
            self.scopes[-1].update(assigned)

    def command(self, tokens: list[_Token]) -> None:
        if not tokens:
            raise GoTemplateError("missing value for command")
        depth = 0
        inner: list[_Token] = []
        for token in tokens:
            if token.text == "(" and token.kind == "op":
                depth += 1
                if depth == 1:
                    inner = []
                    continue
            elif token.text == ")" and token.kind == "op":
                depth -= 1
                if depth == 0:
                    if not inner:
                        raise GoTemplateError("missing value for parenthesized pipeline")
                    for command in _split(inner, "|"):
                        self.command(command)
                    continue
            if depth:
                inner.append(token)
            else:
                self.operand(token)

    def operand(self, token: _Token) -> None:
        if token.kind == "ident" and token.text not in FUNCTIONS:
            raise GoTemplateError(f'function "{token.text}" not defined')
        if token.kind == "var":
            self.variable(token.text)
        if token.kind == "keyword" and token.text not in {"nil", "true", "false"}:
            raise GoTemplateError(f"unexpected <{token.text}> in command")
        if token.kind == "op":
            raise GoTemplateError(f"unexpected {token.text!r} in operand")

    def variable(self, name: str) -> None:
        if not any(name in scope for scope in self.scopes):
            raise GoTemplateError(f'undefined variable "{name}"')


def _declaration(tokens: list[_Token]) -> list[_Token]:
    """The variables `$x :=`, `$x =` or `$i, $e :=` declare at the pipeline's start."""
    if len(tokens) >= 2 and tokens[0].kind == "var" and tokens[1].text in {":=", "="}:
        return [tokens[0]]
    if [t.kind for t in tokens[:3]] == ["var", "op", "var"] and [t.text for t in tokens[1:4:2]] == [",", ":="]:
        return [tokens[0], tokens[2]]
    return []


def _split(tokens: list[_Token], separator: str) -> list[list[_Token]]:
    """Commands of a pipeline: split on top-level `|`."""
    parts: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "op" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        if depth == 0 and token.kind == "op" and token.text == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts
