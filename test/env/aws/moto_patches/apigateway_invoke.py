"""Invocation of deployed API Gateway REST APIs, which moto's server mode does not do.

What it adds to moto 5.2.5:

- ``CreateDeployment`` takes a snapshot of the API's resources, methods and integrations, as
  API Gateway does: a stage serves the deployment it points to, so a change made after the last
  deployment is invisible until the API is deployed again.
- ``PutIntegration`` validates request parameter mappings as API Gateway does: the key must be
  ``integration.request.{path|querystring|header}.NAME`` and the source a quoted static value,
  a declared ``method.request.*`` parameter, a stage variable or a context variable.
- :class:`RestApiInvoker` answers an invocation of a stage: it matches the resource (literal
  segments before ``{param}`` before ``{param+}``) and the method (exact before ``ANY``), applies
  the integration's request parameter mappings, calls the ``HTTP_PROXY`` integration's URI and
  returns the answer as API Gateway gives it (status and body unchanged, reserved response
  headers remapped to ``x-amzn-Remapped-*``, its own ``Date`` and request id headers).

Differences from API Gateway (listed in docs/local-aws.md): only ``HTTP_PROXY`` integrations
run; authorizers, IAM auth, API keys, request validators, throttling and
response mappings are not enforced.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import secrets
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from moto.apigateway import models as apigw_models
from moto.apigateway.exceptions import BadRequestException

LOG = logging.getLogger("launcher.apigateway")

#: Attribute under which a moto Deployment carries its snapshot.
SNAPSHOT_ATTRIBUTE = "_launcher_snapshot"

#: API Gateway's default and maximum integration timeout for REST APIs.
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000

#: Response headers of an integration that API Gateway renames to ``x-amzn-Remapped-<name>``.
REMAPPED_RESPONSE_HEADERS = frozenset(
    ["authorization", "connection", "content-md5", "date", "server", "www-authenticate"]
)

#: Headers never copied from one connection to the other: the hop-by-hop ones, and Host and
#: Content-Length, which each connection sets for itself.
NOT_FORWARDED_HEADERS = frozenset(
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    ]
)

_MAPPING_KEY = re.compile(r"integration\.request\.(path|querystring|header)\.([^.\s]+)")
_METHOD_SOURCE = re.compile(
    r"method\.request\.(path|querystring|multivaluequerystring|header|multivalueheader)\.(.+)"
)


@dataclass(frozen=True)
class IntegrationSnapshot:
    """The parts of an Integration that an invocation needs, frozen at deployment."""

    type: str
    uri: str | None
    http_method: str | None
    request_parameters: dict[str, str]
    timeout_ms: int


@dataclass(frozen=True)
class MethodSnapshot:
    """A Method as deployed."""

    http_method: str
    request_parameters: dict[str, bool]
    integration: IntegrationSnapshot | None


@dataclass(frozen=True)
class ResourceSnapshot:
    """A Resource as deployed: its full path template and its methods."""

    path: str
    methods: dict[str, MethodSnapshot]

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


@dataclass
class GatewayRequest:
    """An HTTP request as it reaches a stage; ``path`` is percent-encoded, after the stage."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[-1] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class GatewayResponse:
    """What API Gateway answers: status, headers in order, raw body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in reversed(self.headers):
            if key.lower() == name.lower():
                return value
        return None


def install() -> None:
    """Patches moto's API Gateway models: snapshots at deployment, mapping validation."""
    original_create_deployment = apigw_models.RestAPI.create_deployment

    def create_deployment(self: Any, name: str, description: str, stage_variables: Any = None):
        deployment = original_create_deployment(self, name, description, stage_variables)
        setattr(deployment, SNAPSHOT_ATTRIBUTE, snapshot_api(self))
        return deployment

    apigw_models.RestAPI.create_deployment = create_deployment

    original_put_integration = apigw_models.APIGatewayBackend.put_integration

    def put_integration(
        self: Any, function_id: str, resource_id: str, method_type: str, *args: Any, **kwargs: Any
    ):
        method = self.get_method(function_id, resource_id, method_type)
        validate_request_parameters(
            kwargs.get("request_parameters"), method.request_parameters or {}
        )
        return original_put_integration(
            self, function_id, resource_id, method_type, *args, **kwargs
        )

    apigw_models.APIGatewayBackend.put_integration = put_integration


def validate_request_parameters(
    mappings: dict[str, str] | None, method_parameters: dict[str, Any]
) -> None:
    """Rejects mappings API Gateway would reject, with its error message."""
    errors: list[str] = []
    for key, source in (mappings or {}).items():
        if not _MAPPING_KEY.fullmatch(key):
            errors.append(f"Invalid mapping expression specified: {key}")
            continue
        if not isinstance(source, str):
            errors.append(f"Invalid mapping expression specified: {source}")
            continue
        if source.startswith("'"):
            if len(source) < 2 or not source.endswith("'"):
                errors.append(f"Invalid mapping expression specified: {source}")
            continue
        if source.startswith("method.request."):
            if source == "method.request.body" or source.startswith("method.request.body."):
                continue
            if not _METHOD_SOURCE.fullmatch(source):
                errors.append(f"Invalid mapping expression specified: {source}")
            elif _declared_name(source) not in method_parameters:
                errors.append(f"Invalid mapping expression parameter specified: {source}")
            continue
        if source.startswith("stageVariables.") or source.startswith("context."):
            continue
        errors.append(f"Invalid mapping expression specified: {source}")
    if errors:
        raise BadRequestException(
            "Invalid mapping expression specified: Validation Result: warnings : [], "
            f"errors : [{', '.join(errors)}]"
        )


def _declared_name(source: str) -> str:
    # Multi-value sources use the same declaration as their single-value form.
    return source.replace(".multivaluequerystring.", ".querystring.").replace(
        ".multivalueheader.", ".header."
    )


def snapshot_api(api: Any) -> list[ResourceSnapshot]:
    """Freezes what is deployed: every resource with its methods and integrations."""
    resources = []
    for resource in list(api.resources.values()):
        methods = {}
        for verb, method in list(resource.resource_methods.items()):
            integration = method.method_integration
            methods[verb] = MethodSnapshot(
                http_method=verb,
                request_parameters=dict(method.request_parameters or {}),
                integration=None
                if integration is None
                else IntegrationSnapshot(
                    type=integration.integration_type,
                    uri=integration.uri,
                    http_method=integration.http_method,
                    request_parameters=dict(integration.request_parameters or {}),
                    timeout_ms=int(integration.timeout_in_millis or DEFAULT_INTEGRATION_TIMEOUT_MS),
                ),
            )
        resources.append(ResourceSnapshot(path=resource.get_path(), methods=methods))
    return resources


class RestApiInvoker:
    """Answers invocations of deployed REST API stages, as API Gateway would."""

    def invoke(
        self,
        api_id: str,
        stage_name: str,
        request: GatewayRequest,
        *,
        region_hint: str | None = None,
        account_hint: str | None = None,
    ) -> GatewayResponse:
        request_id = str(uuid.uuid4())
        api = find_rest_api(api_id, region_hint=region_hint, account_hint=account_hint)
        stage = api.stages.get(stage_name) if api is not None else None
        deployment = api.deployments.get(stage.deployment_id) if api is not None and stage else None
        if deployment is None:
            LOG.info(
                "invoke %s/%s: no such API or stage, or stage without deployment",
                api_id,
                stage_name,
            )
            return _gateway_error(403, "Forbidden", "ForbiddenException", request_id)
        snapshot: list[ResourceSnapshot] | None = getattr(deployment, SNAPSHOT_ATTRIBUTE, None)
        if snapshot is None:
            # A deployment made before the launcher patched moto; take what exists now.
            snapshot = snapshot_api(api)

        matched = match_resource(snapshot, request.path)
        method = None
        if matched is not None:
            resource, path_params = matched
            method = resource.methods.get(request.method.upper()) or resource.methods.get("ANY")
        if matched is None or method is None:
            return _gateway_error(
                403,
                "Missing Authentication Token",
                "MissingAuthenticationTokenException",
                request_id,
            )
        resource, path_params = matched

        integration = method.integration
        if integration is None:
            LOG.warning(
                "invoke %s/%s %s %s: method has no integration",
                api_id,
                stage_name,
                request.method,
                resource.path,
            )
            return _gateway_error(
                500, "Internal server error", "InternalServerErrorException", request_id
            )

        context = _Context(request, path_params, stage, resource, request_id, api_id)
        if integration.type != "HTTP_PROXY":
            LOG.warning(
                "invoke %s/%s: integration type %s is not run by the launcher",
                api_id,
                stage_name,
                integration.type,
            )
            return _gateway_error(
                500, "Internal server error", "InternalServerErrorException", request_id
            )
        return self._http_proxy(integration, context)

    def _http_proxy(self, integration: IntegrationSnapshot, context: _Context) -> GatewayResponse:
        request = context.request
        mapped_path: dict[str, str] = {}
        mapped_query: dict[str, list[str]] = {}
        mapped_headers: dict[str, list[str]] = {}
        for key, source in integration.request_parameters.items():
            match = _MAPPING_KEY.fullmatch(key)
            values = context.resolve(source)
            if match is None or values is None:
                continue
            location, name = match.groups()
            if location == "path":
                mapped_path[name] = values[-1]
            elif location == "querystring":
                mapped_query[name] = values
            else:
                mapped_headers[name] = [",".join(values)]

        url = _expand_uri(integration.uri or "", mapped_path)
        query = [(k, v) for k, v in request.query if k not in mapped_query]
        query += [(k, v) for k, values in mapped_query.items() for v in values]

        lowered_mapped = {name.lower() for name in mapped_headers}
        headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in NOT_FORWARDED_HEADERS and k.lower() not in lowered_mapped
        ]
        headers += [(k, v) for k, values in mapped_headers.items() for v in values]
        headers.append(("X-Amzn-Trace-Id", context.trace_id))
        forwarded = request.header("X-Forwarded-For")
        client_chain = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
        headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
        headers.append(("X-Forwarded-For", client_chain))

        verb = request.method.upper()
        if integration.http_method and integration.http_method.upper() != "ANY":
            verb = integration.http_method.upper()

        LOG.info(
            "invoke %s/%s %s %s -> HTTP_PROXY %s %s",
            context.api_id,
            context.stage_name,
            request.method,
            request.path,
            verb,
            _redact_url(url),
        )
        try:
            status, upstream_headers, body = _http_call(
                verb, url, query, headers, request.body, integration.timeout_ms / 1000
            )
        except TimeoutError:
            LOG.warning("invoke %s: integration timed out", context.api_id)
            return _gateway_error(
                504,
                "Endpoint request timed out",
                "InternalServerErrorException",
                context.request_id,
            )
        except (OSError, http.client.HTTPException) as err:
            LOG.warning("invoke %s: integration failed: %s", context.api_id, type(err).__name__)
            return _gateway_error(
                500, "Internal server error", "InternalServerErrorException", context.request_id
            )

        answer: list[tuple[str, str]] = []
        for key, value in upstream_headers:
            lowered = key.lower()
            if lowered in REMAPPED_RESPONSE_HEADERS:
                answer.append((f"x-amzn-Remapped-{key}", value))
            elif lowered == "content-length":
                answer.append(("x-amzn-Remapped-Content-Length", value))
            elif lowered not in NOT_FORWARDED_HEADERS:
                answer.append((key, value))
        return self._answer(status, answer, body, context.request_id, context.trace_id)

    @staticmethod
    def _answer(
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        request_id: str,
        trace_id: str | None = None,
    ) -> GatewayResponse:
        """Adds the headers API Gateway sets itself; they replace any of the same name."""
        own = [
            ("Content-Length", str(len(body))),
            ("Connection", "keep-alive"),
            ("x-amzn-RequestId", request_id),
            ("x-amz-apigw-id", _apigw_id()),
            ("X-Amzn-Trace-Id", trace_id or _trace_id()),
        ]
        own_names = {name.lower() for name, _ in own} | {"date"}
        kept = [(k, v) for k, v in headers if k.lower() not in own_names]
        date = ("Date", formatdate(usegmt=True))
        return GatewayResponse(status=status, headers=[date, *kept, *own], body=body)


class _Context:
    """Resolves mapping sources against one request."""

    def __init__(
        self,
        request: GatewayRequest,
        path_params: dict[str, str],
        stage: Any,
        resource: ResourceSnapshot,
        request_id: str,
        api_id: str,
    ):
        self.request = request
        self.path_params = path_params
        self.stage_name = stage.name
        self.stage_variables = dict(stage.variables or {})
        self.resource = resource
        self.request_id = request_id
        self.api_id = api_id
        self.trace_id = _trace_id()

    def resolve(self, source: str) -> list[str] | None:
        """The value(s) of a mapping source, or None when the request does not have it."""
        if source.startswith("'") and source.endswith("'") and len(source) >= 2:
            return [source[1:-1]]
        match = _METHOD_SOURCE.fullmatch(source)
        if match:
            location, name = match.groups()
            if location == "path":
                value = self.path_params.get(name)
                return None if value is None else [value]
            if location in ("querystring", "multivaluequerystring"):
                values = [v for k, v in self.request.query if k == name]
                if not values:
                    return None
                return values if location.startswith("multi") else [values[-1]]
            values = self.request.header_values(name)
            if not values:
                return None
            return values if location.startswith("multi") else [values[-1]]
        if source.startswith("stageVariables."):
            value = self.stage_variables.get(source.split(".", 1)[1])
            return None if value is None else [value]
        context_values = {
            "context.requestId": self.request_id,
            "context.stage": self.stage_name,
            "context.httpMethod": self.request.method,
            "context.resourcePath": self.resource.path,
            "context.apiId": self.api_id,
            "context.identity.sourceIp": self.request.source_ip,
        }
        if source in context_values:
            return [context_values[source]]
        return None


def find_rest_api(
    api_id: str, *, region_hint: str | None = None, account_hint: str | None = None
) -> Any | None:
    """The moto RestAPI with this id, preferring the hinted account and region."""
    candidates = []
    for account_id, regions in list(apigw_models.apigateway_backends.items()):
        for region, backend in list(regions.items()):
            api = backend.apis.get(api_id)
            if api is not None:
                rank = (account_id != account_hint, region != region_hint)
                candidates.append((rank, api))
    if not candidates:
        return None
    return sorted(candidates, key=lambda c: c[0])[0][1]


def match_resource(
    resources: Iterable[ResourceSnapshot], raw_path: str
) -> tuple[ResourceSnapshot, dict[str, str]] | None:
    """The best resource for a path: literal beats ``{param}`` beats ``{param+}``."""
    segments = [s for s in raw_path.split("/") if s]
    best: tuple[tuple[int, ...], ResourceSnapshot, dict[str, str]] | None = None
    for resource in resources:
        result = _match_segments(resource.segments, segments)
        if result is None:
            continue
        score, params = result
        if best is None or score > best[0]:
            best = (score, resource, params)
    return None if best is None else (best[1], best[2])


def _match_segments(
    template: list[str], segments: list[str]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    params: dict[str, str] = {}
    score: list[int] = []
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest or index != len(template) - 1:
                return None
            params[part[1:-2]] = "/".join(rest)
            score.append(0)
            return tuple(score), params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[index]
            score.append(1)
        elif part == segments[index]:
            score.append(2)
        else:
            return None
    if len(template) != len(segments):
        return None
    return tuple(score), params


def _expand_uri(uri: str, path_values: dict[str, str]) -> str:
    """Fills ``{name}`` placeholders from ``integration.request.path.*`` mappings.

    A placeholder without a mapping stays, percent-encoded, as API Gateway sends it.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in path_values:
            return path_values[name]
        LOG.warning(
            "integration URI placeholder {%s} has no integration.request.path.%s "
            "mapping; it is sent literally, as API Gateway does",
            name,
            name,
        )
        return quote("{" + name + "}", safe="")

    return re.sub(r"\{([^{}+]+)\+?\}", replace, uri)


def _http_call(
    method: str,
    url: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: bytes,
    timeout_s: float,
) -> tuple[int, list[tuple[str, str]], bytes]:
    parts = urlsplit(url)
    target = parts.path or "/"
    all_query = parse_qsl(parts.query, keep_blank_values=True) + query
    if all_query:
        target += "?" + urlencode(all_query, quote_via=quote, safe="-_.~")
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    kwargs: dict[str, Any] = {"timeout": timeout_s}
    if parts.scheme == "https":
        kwargs["context"] = ssl.create_default_context()
    connection = connection_class(parts.hostname or "", parts.port, **kwargs)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for key, value in headers:
            connection.putheader(key, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        return response.status, list(response.getheaders()), data
    finally:
        connection.close()


def _gateway_error(status: int, message: str, error_type: str, request_id: str) -> GatewayResponse:
    body = json.dumps({"message": message}).encode()
    return RestApiInvoker._answer(
        status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)],
        body,
        request_id,
    )


def _apigw_id() -> str:
    return base64.b64encode(secrets.token_bytes(12)).decode()[:16]


def _trace_id() -> str:
    return f"Root=1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


def _redact_url(url: str) -> str:
    """The URL without user info or query, which may carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
