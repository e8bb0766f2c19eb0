"""Protobuf text format, syntax only: tokens, literals and a reader that walks messages field by field.

The reader knows no field of any proto: the caller decides what a name means, which fields repeat,
how a value converts. Every problem is one :class:`PipelineError` line ``<file>:<line>: <problem>``,
raised as soon as it is met, so that the first bad line of a file is the one reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import List, Optional, TypeVar, Union

from ..errors import PipelineError

_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
    | (?P<space>[ \t\r\f\v]+)
    | (?P<comment>\#[^\n]*)
    | (?P<punct>[{}<>\[\]:;,])
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<word>[A-Za-z0-9_.+\-]+)
    """,
    re.VERBOSE,
)
# protobuf text format: decimal, 0x hex, 0-prefixed octal
_INT = re.compile(r"(?P<sign>[+-]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*))")
BOOLS = {"true": True, "True": True, "t": True, "1": True,
         "false": False, "False": False, "f": False, "0": False}
_CLOSE = {"{": "}", "<": ">"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|[xX]([0-9a-fA-F]{1,2})|(.))", re.DOTALL)

V = TypeVar("V")


@dataclass(frozen=True)
class Token:
    """One token: ``punct`` ({ } < > [ ] : ; ,), ``string`` (quotes included) or ``word``; its 1-based line."""

    kind: str
    text: str
    line: int

    def is_punct(self, chars: str) -> bool:
        """True for a punctuation token that is one of ``chars``."""
        return self.kind == "punct" and self.text in chars


class LineErrors:
    """Formats ``<file>:<line>: <field>: <problem>`` errors for one file."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, line: int, what: str, problem: str | None = None) -> PipelineError:
        text = f"{what}: {problem}" if problem is not None else what
        return PipelineError(f"{self.name}:{line}: {text}")


def tokenize(text: str, err: LineErrors) -> list[Token]:
    """The tokens of ``text``; whitespace and ``#`` comments dropped."""
    tokens: list[Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise err(line, "unterminated string")
            raise err(line, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind in ("punct", "string", "word"):
            tokens.append(Token(kind, match.group(), line))
        pos = match.end()
    return tokens


def unquote(token: Token, key: str, err: LineErrors) -> str:
    """The text of a quoted string token, escapes decoded; ``key`` names the field in an error."""

    def decode(match: re.Match) -> str:
        octal, hexa, char = match.groups()
        if octal is not None:
            return chr(int(octal, 8))
        if hexa is not None:
            return chr(int(hexa, 16))
        if char in _ESCAPES:
            return _ESCAPES[char]
        raise err(token.line, key, f"invalid escape '\\{char}' in {token.text}")

    return _ESCAPE.sub(decode, token.text[1:-1])


def parse_int(text: str) -> int | None:
    """An integer literal (decimal, ``0x`` hex, ``0``-prefixed octal), or None."""
    match = _INT.fullmatch(text)
    if match is None:
        return None
    if match.group("hex") is not None:
        value = int(match.group("hex"), 16)
    elif match.group("oct") is not None:
        value = int(match.group("oct"), 8)
    else:
        value = int(match.group("dec"))
    return -value if match.group("sign") == "-" else value


def parse_float(text: str) -> float | None:
    """A number literal (an integer literal, or a float with an optional ``f`` suffix), or None."""
    parsed = parse_int(text)
    if parsed is not None:
        return float(parsed)
    try:
        return float(text[:-1] if text[-1:] in "fF" and not text.lower().endswith("inf") else text)
    except (ValueError, OverflowError):
        return None


class Reader:
    """Walks the tokens of one file; the caller says what each name means."""

    def __init__(self, text: str, err: LineErrors) -> None:
        self.tokens = tokenize(text, err)
        self.err = err
        self.i = 0

    def peek(self, offset: int = 0) -> Optional[Token]:
        """The token ``offset`` places ahead, not consumed; None at the end."""
        return self.tokens[self.i + offset] if self.i + offset < len(self.tokens) else None

    def next(self) -> Optional[Token]:
        """The next token, consumed; None at the end."""
        tok = self.peek()
        self.i += 1
        return tok

    def top_level(self) -> Iterator[Token]:
        """Each token that starts a top-level entry; a stray closing brace is an error."""
        while self.peek() is not None:
            tok = self.next()
            assert tok is not None
            if tok.is_punct("}>"):
                raise self.err(tok.line, f"unbalanced braces: '{tok.text}' without a matching "
                                         f"'{'{' if tok.text == '}' else '<'}'")
            yield tok

    def open_message(self, name: Token) -> str:
        """After a message's name: an optional ``:`` and ``{`` or ``<``, consumed; returns the closing brace."""
        nxt = self.peek()
        if nxt is not None and nxt.text == ":":  # protobuf text allows 'name: { ... }'
            self.i += 1
            nxt = self.peek()
        if nxt is None or not nxt.is_punct("{<"):
            raise self.err(name.line, name.text, f"expected '{{' after {name.text}")
        self.i += 1
        return _CLOSE[nxt.text]

    def field_names(self, message: Token, close: str) -> Iterator[Token]:
        """The field names of the message opened by ``message``, up to its ``close``; ``;`` and ``,`` skipped."""
        while True:
            key = self.peek()
            if key is None:
                raise self.err(message.line, message.text, "unbalanced braces: the block opened here is never closed")
            self.i += 1
            if key.is_punct(close):
                return
            if key.is_punct(";,"):
                continue
            if key.kind != "word":
                raise self.err(key.line, f"unexpected {key.text!r} where a field name should be")
            yield key

    def colon(self, key: Token) -> None:
        """The ``:`` after a scalar field's name, consumed."""
        colon = self.peek()
        if colon is None or colon.text != ":":
            raise self.err(key.line, key.text, "expected ':' after the field name")
        self.i += 1

    def values(self, key: Token, convert: Callable[[Token], V], *, repeated: bool,
               joins_strings: bool) -> List[Union[V, str]]:
        """The value(s) after ``key:``: one token, a ``[a, b]`` list (``repeated`` fields only) or, for
        ``joins_strings``, adjacent string literals joined and decoded; ``convert`` checks one value token."""
        first = self.next()
        if first is None:
            raise self.err(key.line, key.text, "missing value")
        if first.is_punct("["):
            if not repeated:
                raise self.err(first.line, key.text, "a list '[...]' is only allowed for repeated fields")
            items: List[Union[V, str]] = []
            while True:
                tok = self.next()
                if tok is None:
                    raise self.err(first.line, key.text, "unterminated list: ']' missing")
                if tok.is_punct("]") and not items:
                    return items
                items.append(convert(tok))
                sep = self.next()
                if sep is not None and sep.is_punct("]"):
                    return items
                if sep is None or sep.text != ",":
                    raise self.err(first.line, key.text, "expected ',' or ']' in the list")
        if first.kind == "string" and joins_strings:
            parts = [first]
            while True:  # protobuf text format joins adjacent string literals
                more = self.peek()
                if more is None or more.kind != "string":
                    break
                parts.append(more)
                self.i += 1
            return ["".join(unquote(part, key.text, self.err) for part in parts)]
        return [convert(first)]
