"""The Step Functions HTTP Task (``arn:aws:states:::http:invoke``) and EventBridge connections.

What AWS does ("Call HTTPS APIs in Step Functions workflows"): the HTTP Task calls
``ApiEndpoint`` (a full https URL) with ``Method``, ``Headers`` and ``QueryParameters`` (one
string value per name) and ``RequestBody``, authenticated by the EventBridge connection named in
``Authentication.ConnectionArn``, whose credentials (API key header, basic or OAuth) Step
Functions reads from the Secrets Manager secret EventBridge keeps them in and adds to the
request, so they never enter the task's parameters or the execution history. The output is
``{"Headers", "ResponseBody", "StatusCode", "StatusText"}``; a status outside 2xx fails the task
with ``States.Http.StatusCode.<status>``, a request without an answer with
``States.Http.Socket``.

What moto 5.2.5 does: it refuses the state machine at run time (``Unknown service 'http'``), and
its ``DescribeConnection`` returns the connection's secret values (AWS never returns them) and no
``LastModifiedTime``.

This module:

- runs ``http:invoke``: the request as above, with the connection's API_KEY header or BASIC
  ``Authorization`` header taken from moto's events backend (not from a Secrets Manager secret),
  over plain http as well as https; output and error names as on AWS. The cause of a status
  error is the response (status, headers, body) as JSON;
- accepts ``States.Http.*`` error names in ``ErrorEquals`` (moto refuses every custom name
  starting with ``States.``);
- makes ``DescribeConnection`` leave out ``ApiKeyValue``, ``Password`` and ``ClientSecret`` and
  report ``LastModifiedTime`` (set on create and on every update), as AWS does.

Differences from AWS (listed in docs/local-aws.md): no TLS requirement (AWS calls only https),
no OAuth flow (an OAUTH_CLIENT_CREDENTIALS connection sends nothing), the connection's
``InvocationHttpParameters`` are not merged, the role's ``states:InvokeHTTPEndpoint`` and
``events:RetrieveConnectionCredentials`` are not checked, and the 60-second request timeout is
the only limit.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from moto.core.utils import unix_time
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)

from .apigateway_invoke import GatewayResponse, _http_call
from .stepfunctions_tasks import METHODS, invoke_output, task_failure

LOG = logging.getLogger("launcher.http_task")

#: The parameters of http:invoke, as documented.
TASK_PARAMETERS = (
    "ApiEndpoint",
    "Method",
    "Authentication",
    "Headers",
    "QueryParameters",
    "RequestBody",
    "Transform",
)

#: How long the HTTP Task waits for an answer before failing with States.Http.Socket.
REQUEST_TIMEOUT_S = 60.0

#: Secret fields of a connection's AuthParameters, which DescribeConnection never returns.
SECRET_FIELDS = {
    "ApiKeyAuthParameters": ("ApiKeyValue",),
    "BasicAuthParameters": ("Password",),
    "OAuthParameters": ("ClientParameters",),
}

#: Attribute under which a moto Connection carries its LastModifiedTime.
MODIFIED_ATTRIBUTE = "_launcher_modified"


class HttpStatusFailed(Exception):
    """The source answered with a status outside 2xx."""

    def __init__(self, response: GatewayResponse):
        super().__init__(f"the endpoint answered {response.status}")
        self.response = response


class HttpTaskError(Exception):
    """The task failed with ``error`` (no answer, an unusable connection)."""

    def __init__(self, error: str, cause: str):
        super().__init__(cause)
        self.error = error
        self.cause = cause


class HttpTaskParametersInvalid(Exception):
    """The task's parameters break a rule Step Functions enforces; fails with States.Runtime."""


class StateTaskServiceHttp(StateTaskServiceCallback):
    """``arn:aws:states:::http:invoke``."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.WaitForTaskToken})

    def _get_supported_parameters(self) -> set[str] | None:
        return set(TASK_PARAMETERS) if self.resource.api_action.lower() == "invoke" else None

    def _normalise_parameters(self, parameters: Any, *_: Any, **__: Any) -> None:
        pass

    def _normalise_response(self, response: Any, *_: Any, **__: Any) -> None:
        pass

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any = None,
        **_: Any,
    ) -> None:
        response = call(normalised_parameters)
        if not 200 <= response.status < 300:
            raise HttpStatusFailed(response)
        env.stack.append(invoke_output(response))

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        if isinstance(ex, HttpTaskParametersInvalid):
            return task_failure(self, env, None, str(ex))
        if isinstance(ex, HttpStatusFailed):
            error = f"States.Http.StatusCode.{ex.response.status}"
            return task_failure(self, env, error, json.dumps(invoke_output(ex.response)))
        if isinstance(ex, HttpTaskError):
            return task_failure(self, env, ex.error, ex.cause)
        return task_failure(self, env, "States.Http.Socket", f"{type(ex).__name__}: {ex}")


def call(parameters: dict[str, Any]) -> GatewayResponse:
    """Makes the request a task's parameters describe, with its connection's credentials."""
    method = str(parameters.get("Method", "")).upper()
    if method not in METHODS:
        raise HttpTaskParametersInvalid(f"The value of the field 'Method' is not valid: {method}")
    endpoint = str(parameters.get("ApiEndpoint", ""))
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpTaskParametersInvalid(
            f"The value of the field 'ApiEndpoint' is not a URL: {endpoint}"
        )
    authentication = parameters.get("Authentication") or {}
    connection_arn = (
        authentication.get("ConnectionArn") if isinstance(authentication, dict) else None
    )
    if not connection_arn:
        raise HttpTaskParametersInvalid("The field 'Authentication.ConnectionArn' is required")

    headers = [
        (str(k), _single("Headers", k, v)) for k, v in (parameters.get("Headers") or {}).items()
    ]
    query = [
        (str(k), _single("QueryParameters", k, v))
        for k, v in (parameters.get("QueryParameters") or {}).items()
    ]
    credential = connection_header(str(connection_arn))
    if credential:
        # The connection's header wins over a task header of the same name, as on AWS.
        headers = [(k, v) for k, v in headers if k.lower() != credential[0].lower()]
        headers.append(credential)
    body = b""
    if parameters.get("RequestBody") is not None:
        request_body = parameters["RequestBody"]
        text = request_body if isinstance(request_body, str) else json.dumps(request_body)
        body = text.encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))

    try:
        status, response_headers, data = _http_call(
            method, endpoint, query, headers, body, REQUEST_TIMEOUT_S
        )
    except OSError as err:
        raise HttpTaskError("States.Http.Socket", f"{type(err).__name__}: {err}") from err
    return GatewayResponse(status=status, headers=response_headers, body=data)


def _single(field: str, name: Any, value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise HttpTaskParametersInvalid(f"The value of {field}.{name} must be a string")
    return value if isinstance(value, str) else json.dumps(value)


def connection_header(arn: str) -> tuple[str, str] | None:
    """The header the connection adds: API_KEY's own, or BASIC's Authorization."""
    connection = find_connection(arn)
    if connection is None:
        raise HttpTaskError(
            "Events.ConnectionResource.InvalidConnectionState",
            f"The connection {arn} does not exist.",
        )
    auth = connection.auth_parameters or {}
    if connection.authorization_type == "API_KEY":
        key = auth.get("ApiKeyAuthParameters") or {}
        return str(key.get("ApiKeyName", "")), str(key.get("ApiKeyValue", ""))
    if connection.authorization_type == "BASIC":
        basic = auth.get("BasicAuthParameters") or {}
        token = base64.b64encode(
            f"{basic.get('Username', '')}:{basic.get('Password', '')}".encode()
        ).decode()
        return "Authorization", f"Basic {token}"
    return None


def find_connection(arn: str) -> Any:
    """moto's Connection with this ARN, in the account and region the ARN names."""
    from moto.events.models import events_backends

    fields = arn.split(":", 5)
    if len(fields) < 6:
        return None
    region, account = fields[3], fields[4]
    backend = events_backends[account][region]
    return next((c for c in backend.connections.values() if c.arn == arn), None)


def _install_connections() -> None:
    from moto.events import models as events_models

    connection_class = events_models.Connection
    backend_class = events_models.EventsBackend
    original_init = connection_class.__init__
    original_update = backend_class.update_connection

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        setattr(self, MODIFIED_ATTRIBUTE, self.creation_time)

    def describe(self: Any) -> dict[str, Any]:
        auth = json.loads(json.dumps(self.auth_parameters or {}))
        for group, fields in SECRET_FIELDS.items():
            for field in fields:
                (auth.get(group) or {}).pop(field, None)
        return {
            "AuthorizationType": self.authorization_type,
            "AuthParameters": auth,
            "ConnectionArn": self.arn,
            "ConnectionState": self.state,
            "CreationTime": self.creation_time,
            "LastModifiedTime": getattr(self, MODIFIED_ATTRIBUTE, self.creation_time),
            "Description": self.description,
            "Name": self.name,
            "SecretArn": self.secret_arn,
        }

    def describe_short(self: Any) -> dict[str, Any]:
        return {
            "ConnectionArn": self.arn,
            "ConnectionState": self.state,
            "CreationTime": self.creation_time,
            "LastModifiedTime": getattr(self, MODIFIED_ATTRIBUTE, self.creation_time),
        }

    def update_connection(self: Any, name: str, **kwargs: Any) -> dict[str, Any]:
        connection = self.connections.get(name)
        if connection is not None:
            setattr(connection, MODIFIED_ATTRIBUTE, unix_time())
        return original_update(self, name, **kwargs)

    connection_class.__init__ = __init__
    connection_class.describe = describe
    connection_class.describe_short = describe_short
    backend_class.update_connection = update_connection


#: Error names Step Functions itself reports under ``States.``, besides the built-in ones.
SERVICE_STATES_ERROR_PREFIX = "States.Http."


def _install_error_names() -> None:
    """Lets ErrorEquals (and failures) name ``States.Http.*`` errors, which moto refuses as
    custom names starting with ``States.``, though Step Functions reports them."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName

    original = CustomErrorName.__init__

    def __init__(self: Any, error_name: str | None) -> None:
        if error_name is not None and error_name.startswith(SERVICE_STATES_ERROR_PREFIX):
            ErrorName.__init__(self, error_name=error_name)
            return
        original(self, error_name)

    CustomErrorName.__init__ = __init__


def install() -> None:
    """Adds the http:invoke task and AWS's DescribeConnection to moto."""
    original = state_task_factory.state_task_service_for

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "http":
            return StateTaskServiceHttp()
        return original(service_name)

    state_task_factory.state_task_service_for = state_task_service_for
    _install_error_names()
    _install_connections()
