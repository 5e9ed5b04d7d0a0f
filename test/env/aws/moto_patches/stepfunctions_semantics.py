"""Step Functions interpreter fixes: where moto's ASL interpreter reads data unlike AWS.

moto 5.2.5 runs state machines with LocalStack's ASL interpreter (``moto.stepfunctions.
parser``). Three of its readings differ from AWS in ways a generated state machine meets:

1. **``StringMatches``** is evaluated with :func:`fnmatch.fnmatch`, where ``?`` matches any one
   character and ``[...]`` is a character class. The Amazon States Language has one wildcard:
   ``*`` matches any run of characters (none included), ``\\*`` is a literal ``*`` and ``\\\\``
   a literal backslash; every other character, ``?`` and ``[`` included, stands for itself. So
   ``*?*`` ("contains a question mark") matched every non-empty string here.
2. **A definite JSONPath through an array index**, such as ``$.items[0].id``, gives a
   one-element list (``[7]``) instead of the value (``7``): a rule meant for indefinite paths
   (``$.items[*].id``, which AWS answers with a list) is applied to every path whose last step
   sits under an index. Definite paths (no wildcard, slice, filter, union or recursive descent)
   now give their one value, as on AWS; indefinite ones keep moto's reading.
3. **``$$.Execution.StartTime``** is a Python ``datetime`` in the context object, so reading it
   fails the state ("Object of type datetime is not JSON serializable"); AWS gives an ISO 8601
   string with milliseconds, ``2024-03-09T12:00:00.123Z``.

:func:`stepfunctions_tasks.install` installs these.
"""

from __future__ import annotations

import importlib
import re
import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jsonpath_ng.ext import parse
from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
    string_operators,
)
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend import execution_worker

#: The interpreter's modules that read JSONPaths with ``extract_json``.
_READERS = (
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations."
    "boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations."
    "numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations."
    "string_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations."
    "timestamp_operators",
)
#: A quoted key of a JSONPath (``['a:b']``), whose characters are not operators.
_QUOTED_KEY = re.compile(r"\['[^']*'\]")
#: What makes a JSONPath indefinite once quoted keys are taken out.
_INDEFINITE = re.compile(r"\*|\.\.|\?|:|,|\(")


@lru_cache(maxsize=256)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of an ASL ``StringMatches`` pattern."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def string_matches(variable: Any, pattern: Any) -> bool:
    """Whether ``variable`` is a string matching ``pattern``; a non-string never matches."""
    if not isinstance(variable, str) or not isinstance(pattern, str):
        return False
    return pattern_regex(pattern).fullmatch(variable) is not None


def is_definite(path: str) -> bool:
    """Whether a JSONPath names at most one value (no wildcard, slice, filter, union, ``..``)."""
    return _INDEFINITE.search(_QUOTED_KEY.sub("", path)) is None


_moto_extract_json = json_path.extract_json


def extract_json(path: str, data: Any) -> Any:
    """moto's reading of a JSONPath, but the one value of a definite path, as on AWS."""
    if not is_definite(path):
        return _moto_extract_json(path, data)
    matches = parse(path).find(data)
    if not matches:
        raise json_path.NoSuchJsonPathError(json_path=path, data=data)
    return matches[0].value


def iso_time(value: Any) -> Any:
    """A datetime as AWS writes context object times; anything else as it is."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def install() -> None:
    """Installs the three fixes."""
    string_operators.StringMatches._compare = staticmethod(string_matches)

    # Modules import extract_json by name, so each module's binding is replaced: the known
    # readers (imported now if they were not yet), and any other module already loaded.
    for name in _READERS:
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "extract_json", None) is _moto_extract_json
        ):
            module.extract_json = extract_json

    original = execution_worker.ExecutionWorker._get_evaluation_environment

    def _get_evaluation_environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = iso_time(execution.get("StartTime"))
        return env

    execution_worker.ExecutionWorker._get_evaluation_environment = _get_evaluation_environment
