"""The API's JSON parser: a nesting-depth limit checked before parsing, so ``[[[[...]]]]`` is a 400, not a 500.

Python's json module recurses once per level: 10,000 nested arrays raise RecursionError (DRF's parser only turns
ValueError into a 400), and a body that parses at depth 900 can still blow the stack later in validation or in
encoding. No request of this API nests deeper than a few levels; 32 is generous.

The body's charset is the client's to name, but only a Unicode encoding (RFC 8259 asks for UTF-8; UTF-16 and UTF-32
are what JSON was once allowed in): Python's codec registry also holds transforms such as ``base64``, ``rot13`` and
``zlib`` (a few kilobytes inflating to gigabytes), which must never be run on a request body.
"""

from __future__ import annotations

import codecs
import json
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

MAX_DEPTH = 32
CHARSETS = frozenset({"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            codec = None
        if codec is None or codec.name not in CHARSETS:
            raise ParseError(f"JSON must be sent in UTF-8 (or UTF-16 or UTF-32), not {encoding[:40]!r}.")
        try:
            text = codec.streamreader(stream).read()
        except UnicodeError as exc:  # UnicodeDecodeError, and UTF-16's or UTF-32's missing byte-order mark
            raise ParseError(f"JSON parse error - {exc}") from None
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        try:
            parse_constant = drf_json.strict_constant if api_settings.STRICT_JSON else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
