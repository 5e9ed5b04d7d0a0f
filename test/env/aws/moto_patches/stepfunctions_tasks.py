"""Step Functions fixes: the ``apigateway:invoke`` task and unnamed executions.

moto 5.2.5's ``arn:aws:states:::apigateway:invoke`` task cannot succeed: its
``_eval_service_task`` takes ``task_credentials`` where the caller passes
``state_credentials`` (a TypeError on every run), it joins ``Stage`` and ``Path`` with
``urljoin`` against a host without a scheme, its parameter list keeps only ``ApiEndpoint`` and
``Method`` (so Stage, Path, Headers... are dropped before it runs), and its error path builds a
``FailureEvent`` without the required ``env``. This module replaces the task's evaluation with
one that follows the Step Functions developer guide ("Call API Gateway with Step Functions"):

- request: ``Method``, ``Stage``, ``Path``, ``Headers`` and ``QueryParameters`` (maps of lists),
  ``RequestBody`` (JSON, sent serialised, or a string); the forbidden headers are refused;
- the call goes to the local REST API named by ``ApiEndpoint``, which may be the local form
  ``<host:port>/restapis/<restApiId>`` (``APIGW_INVOKE_ENDPOINT_TEMPLATE``) or the AWS form
  ``<restApiId>.execute-api.<region>.amazonaws.com``; both reach :class:`RestApiInvoker`;
- output: ``{"Headers": {name: [values]}, "ResponseBody": <JSON or string>, "StatusCode": int,
  "StatusText": str}``;
- a status outside 2xx fails the task with error ``ApiGateway.<status>`` and the response body
  as cause, so ``Retry`` and ``Catch`` match on it; a call that gets no status fails with
  ``ApiGateway.<Exception>``.

It also names executions started without a name (AWS generates a UUID; moto would build an
ARN ending in ``None``), and installs :mod:`stepfunctions_semantics` (how the interpreter
reads data, as on AWS).
"""

from __future__ import annotations

import http
import json
import logging
import re
import uuid
from typing import Any
from urllib.parse import quote

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_api_gateway as moto_apigw_task,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from . import stepfunctions_semantics
from .apigateway_invoke import GatewayRequest, GatewayResponse, RestApiInvoker

LOG = logging.getLogger("launcher.stepfunctions")

#: The parameters of apigateway:invoke, as documented.
TASK_PARAMETERS = (
    "ApiEndpoint",
    "Method",
    "Headers",
    "Stage",
    "Path",
    "QueryParameters",
    "RequestBody",
    "AllowNullValues",
    "AuthType",
)

#: The methods both the apigateway:invoke and the http:invoke task accept.
METHODS = frozenset(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
_BODY_METHODS = frozenset(["POST", "PUT", "PATCH"])

#: Header names Step Functions refuses in ``Headers`` (compared case-insensitively).
FORBIDDEN_HEADERS = frozenset(
    h.lower()
    for h in [
        "Authorization",
        "Connection",
        "Content-md5",
        "Expect",
        "Host",
        "Max-Forwards",
        "Proxy-Authenticate",
        "Server",
        "TE",
        "Transfer-Encoding",
        "Trailer",
        "Upgrade",
        "Via",
        "Www-Authenticate",
    ]
)
FORBIDDEN_HEADER_PREFIXES = ("x-forwarded", "x-amz", "x-amzn")

_LOCAL_ENDPOINT = re.compile(r"(?:https?://)?[^/]+/restapis/(?P<api_id>[A-Za-z0-9]+)/?")
_AWS_ENDPOINT = re.compile(
    r"(?:https?://)?(?P<api_id>[A-Za-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)"
    r"\.amazonaws\.com(?::443)?/?"
)

#: Characters left as they are in ``Path``; everything else (``?`` and ``#`` included) is
#: percent-encoded, so a query string must go in ``QueryParameters``.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


class InvokeFailed(Exception):
    """API Gateway answered with a status outside 2xx."""

    def __init__(self, status: int, cause: str):
        super().__init__(f"API Gateway answered {status}")
        self.status = status
        self.cause = cause


class InvokeError(Exception):
    """The call got no HTTP status; ``name`` becomes ``ApiGateway.<name>``."""

    def __init__(self, name: str, cause: str):
        super().__init__(cause)
        self.name = name
        self.cause = cause


class TaskParametersInvalid(Exception):
    """The task's parameters break a rule Step Functions enforces; fails with States.Runtime."""


def install(invoker: RestApiInvoker) -> None:
    """Replaces moto's apigateway:invoke evaluation and names unnamed executions."""
    task_class = moto_apigw_task.StateTaskServiceApiGateway

    def _eval_service_task(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any = None,
        **_: Any,
    ) -> None:
        request, api_id, stage, region = build_request(normalised_parameters)
        response = invoker.invoke(
            api_id,
            stage,
            request,
            region_hint=region or resource_runtime_part.region,
            account_hint=resource_runtime_part.account,
        )
        if not 200 <= response.status < 300:
            raise InvokeFailed(response.status, response.body.decode("utf-8", "replace"))
        env.stack.append(invoke_output(response))

    def _from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        if isinstance(ex, TaskParametersInvalid):
            return task_failure(self, env, None, str(ex))
        if isinstance(ex, InvokeFailed):
            return task_failure(self, env, f"ApiGateway.{ex.status}", ex.cause)
        if isinstance(ex, InvokeError):
            return task_failure(self, env, f"ApiGateway.{ex.name}", ex.cause)
        return task_failure(self, env, f"ApiGateway.{type(ex).__name__}", str(ex))

    # moto lists only ApiEndpoint and Method, and silently drops every other parameter.
    task_class._SUPPORTED_API_PARAM_BINDINGS = {"invoke": set(TASK_PARAMETERS)}
    task_class._eval_service_task = _eval_service_task
    task_class._from_error = _from_error
    _install_execution_names()
    stepfunctions_semantics.install()


def task_failure(task: Any, env: Any, error: str | None, cause: str) -> FailureEvent:
    """The TaskFailed event of a service task: ``error`` as a custom name, or ``States.Runtime``
    when it is None (parameters Step Functions refuses at run time)."""
    if error is None:
        error_name: Any = StatesErrorName(typ=StatesErrorNameType.StatesRuntime)
        error = StatesErrorNameType.StatesRuntime.to_name()
    else:
        error_name = CustomErrorName(error)
    return FailureEvent(
        env=env,
        error_name=error_name,
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=task._get_sfn_resource(),
                resourceType=task._get_sfn_resource_type(),
            )
        ),
    )


def build_request(parameters: dict[str, Any]) -> tuple[GatewayRequest, str, str, str | None]:
    """The HTTP request a task's parameters describe, and the API, stage and region it targets."""
    method = str(parameters.get("Method", "")).upper()
    if method not in METHODS:
        raise TaskParametersInvalid(f"The value of the field 'Method' is not valid: {method}")

    endpoint = str(parameters.get("ApiEndpoint", ""))
    local = _LOCAL_ENDPOINT.fullmatch(endpoint)
    aws = _AWS_ENDPOINT.fullmatch(endpoint)
    if local:
        api_id, region = local.group("api_id"), None
    elif aws:
        api_id, region = aws.group("api_id"), aws.group("region")
    else:
        raise InvokeError("UnknownHostException", f"{endpoint}: Name or service not known")

    # Stage and Path are joined into one URL path, so that a missing Stage behaves as on AWS:
    # the first path segment is taken as the stage.
    stage = str(parameters.get("Stage") or "").strip("/")
    path = str(parameters.get("Path") or "").lstrip("/")
    full_path = "/" + "/".join(p for p in (stage, path) if p)
    full_path = quote(full_path, safe=_PATH_SAFE)
    stage_name, _, rest = full_path.lstrip("/").partition("/")

    headers = _headers_of(parameters)
    body = b""
    if parameters.get("RequestBody") is not None:
        if method not in _BODY_METHODS:
            raise TaskParametersInvalid(
                f"RequestBody is only supported for PATCH, POST and PUT, not {method}"
            )
        request_body = parameters["RequestBody"]
        if isinstance(request_body, str):
            body = request_body.encode()
        else:
            body = json.dumps(request_body, separators=(",", ":")).encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
    if not any(k.lower() == "accept" for k, _ in headers):
        headers.append(("Accept", "application/json"))

    request = GatewayRequest(
        method=method,
        path="/" + rest,
        query=_query_of(parameters),
        headers=headers,
        body=body,
    )
    return request, api_id, stage_name, region


def invoke_output(response: GatewayResponse) -> dict[str, Any]:
    """The task output: headers as lists, the body parsed when it is JSON."""
    headers: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for key, value in response.headers:
        name = spelling.setdefault(key.lower(), key)
        headers.setdefault(name, []).append(value)

    text = response.body.decode("utf-8", "replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text

    try:
        status_text = http.HTTPStatus(response.status).phrase
    except ValueError:
        status_text = ""
    return {
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": response.status,
        "StatusText": status_text,
    }


def _headers_of(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    headers = parameters.get("Headers") or {}
    if not isinstance(headers, dict):
        raise TaskParametersInvalid("The value of the field 'Headers' must be an object")
    result = []
    for name, values in headers.items():
        lowered = str(name).lower()
        if lowered in FORBIDDEN_HEADERS or lowered.startswith(FORBIDDEN_HEADER_PREFIXES):
            raise TaskParametersInvalid(f"The 'Headers' field contains unsupported values: {name}")
        for value in _list_of_strings("Headers", name, values, allow_null=False):
            result.append((str(name), value))
    return result


def _query_of(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    query = parameters.get("QueryParameters") or {}
    if not isinstance(query, dict):
        raise TaskParametersInvalid("The value of the field 'QueryParameters' must be an object")
    allow_null = bool(parameters.get("AllowNullValues"))
    result = []
    for name, values in query.items():
        for value in _list_of_strings("QueryParameters", name, values, allow_null=allow_null):
            result.append((str(name), value))
    return result


def _list_of_strings(field: str, name: str, values: Any, *, allow_null: bool) -> list[str]:
    """Values of a map-of-lists field; a non-list is a mistake AWS rejects too."""
    if not isinstance(values, list):
        raise TaskParametersInvalid(
            f'The value of {field}.{name} must be an array of strings, as in ["value"]'
        )
    result = []
    for value in values:
        if value is None:
            if allow_null:
                result.append("")
            continue
        result.append(value if isinstance(value, str) else json.dumps(value))
    return result


def _install_execution_names() -> None:
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for backend_class in (StepFunctionBackend, StepFunctionsParserBackend):
        original = backend_class.start_execution

        def start_execution(
            self: Any,
            state_machine_arn: str,
            name: str | None = None,
            *args: Any,
            _original: Any = original,
            **kwargs: Any,
        ) -> Any:
            return _original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

        backend_class.start_execution = start_execution
