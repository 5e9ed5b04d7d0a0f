"""IAM enforcement for the local AWS, switched on by ``LOCAL_AWS_ENFORCE_IAM=1``.

moto 5.2.5 can check requests against IAM (``settings.INITIAL_NO_AUTH_ACTION_COUNT``), but
what it checks is too coarse to prove a least-privilege policy (see ``moto/iam/
access_control.py``):

- the action is ``<signing name>:<OperationName>`` for every service, so API Gateway's
  control plane is checked as ``apigateway:CreateRestApi`` where AWS checks ``apigateway:POST``
  on ``arn:aws:apigateway:<region>::/restapis``;
- the resource is ``*`` for every request except IAM calls on an existing role, STS
  AssumeRole and SQS, so a statement scoped to ARNs never matches and a resource-scoped
  policy denies everything;
- conditions of identity policies are never evaluated (no request context is passed), and a
  statement whose condition fails counts as an explicit deny;
- nothing checks ``iam:PassRole`` or the implied permissions of tags given at creation;
- Step Functions tasks call back into moto as the fixed key ``ak`` instead of the execution
  role, the schedules of :mod:`scheduler` start executions without their role, and the
  ``apigateway:invoke`` task does not sign or authorize.

This module keeps moto's signature check and its lookup of the caller's access key (IAM user
or assumed role) and its policies, and replaces the rest with an evaluator of our own:

1. **Operator requests.** Every request moto serves is authorized against the caller's
   identity policies (inline, attached, through groups) and, for an assumed role, its
   permissions boundary: the action and resource AWS's Service Authorization Reference gives
   for the operation (:func:`required_authorizations`), plus what it implies: ``iam:PassRole``
   (with ``iam:PassedToService``) for CreateStateMachine/UpdateStateMachine/CreateSchedule/
   UpdateSchedule, ``iam:TagRole``/``states:TagResource``/``dynamodb:TagResource``/
   ``sqs:TagQueue``/``events:TagResource``/``apigateway:PUT`` on ``/tags`` for tags given at
   creation, and the Secrets Manager actions on ``events!connection/<name>/*`` that
   EventBridge connection writes imply. Resources are modelled for API Gateway, DynamoDB, Step Functions, Scheduler,
   IAM, SQS and EventBridge; other services get the resource moto finds (mostly ``*``).
   Explicit deny wins, otherwise one allow is needed. Condition operators: String*, Arn*,
   Null, Bool, with ``IfExists`` and ``ForAllValues:``/``ForAnyValue:``; an operator it does
   not know denies (never a silent allow). Context keys: ``iam:PassedToService``,
   ``iam:PermissionsBoundary`` (the one asked for by CreateRole/PutRolePermissionsBoundary,
   the role's own for PutRolePolicy, DeleteRolePolicy, DetachRolePolicy...),
   ``aws:RequestTag/*``, ``aws:TagKeys``, ``events:TargetArn``; ``aws:ResourceTag/*`` is not
   known (absent).
2. **State machine tasks** run as the execution role: the service tasks' SDK client gets the
   credentials of an STS session of the state machine's role, granted only when the role's
   trust policy lets ``states.amazonaws.com`` assume it (with ``aws:SourceAccount`` and
   ``aws:SourceArn`` in the context), so ``dynamodb:putItem`` is authorized by (1) against the
   role's policies. The ``apigateway:invoke`` task, when the method's authorization is
   ``AWS_IAM``, needs ``AuthType: IAM_ROLE`` and ``execute-api:Invoke`` on
   ``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`` for the role;
   otherwise the task fails with ``ApiGateway.403``, as on AWS.
3. **Schedules** start executions only when the schedule's role trusts
   ``scheduler.amazonaws.com`` and may ``states:StartExecution`` the target; otherwise the
   invocation fails (the debug endpoint shows ``lastError``).

An admin user (``local-admin``, ``Allow *``) with an access key is created before the server
serves, in the default account, for the test side: its key goes in ``aws.env``.

Known differences from AWS: SCPs, resource-based policies, session policies and
``aws:ResourceTag`` are not evaluated; ``NotPrincipal`` is not supported; the method's
authorization type is read from the API as it is now, not as deployed; GetCallerIdentity is
always allowed (as on AWS).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlparse

LOG = logging.getLogger("launcher.iam")

#: User the test side works as while IAM is enforced.
ADMIN_USER = "local-admin"
ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)

STATES_PRINCIPAL = "states.amazonaws.com"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"

#: Protocol of each service's errors: the SDKs read AccessDenied from XML for the query
#: protocol and from ``__type`` for the JSON protocols.
_QUERY_SERVICES = frozenset(["iam", "sts"])


@dataclass(frozen=True)
class AdminKey:
    """Credentials of :data:`ADMIN_USER`."""

    access_key_id: str
    secret_access_key: str
    arn: str


@dataclass
class Need:
    """One authorization a request requires: action on resource, with the request's context."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


class UnsupportedPolicy(Exception):
    """A policy uses an element this evaluator does not implement; it denies."""


# --------------------------------------------------------------------------------------------
# Policy evaluation


def _wildcard(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's ``*`` and ``?`` (which also match ``/`` and ``:``)."""
    regex = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in str(pattern)
    )
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _matches_any(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    return any(_wildcard(p, value, ignore_case=ignore_case) for p in _as_list(patterns))


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: the six ARN fields compared one by one, each with wildcards."""
    pattern_parts = str(pattern).split(":", 5)
    value_parts = str(value).split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(
        _wildcard(p, v, ignore_case=False) for p, v in zip(pattern_parts, value_parts, strict=True)
    )


_STRING_TESTS = {
    "StringEquals": lambda e, a: str(a) == str(e),
    "StringEqualsIgnoreCase": lambda e, a: str(a).lower() == str(e).lower(),
    "StringLike": lambda e, a: _wildcard(e, str(a), ignore_case=False),
    "ArnEquals": lambda e, a: str(a) == str(e),
    "ArnLike": _arn_like,
    "Bool": lambda e, a: str(a).lower() == str(e).lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    """One condition key of one operator, with AWS's rules for absent keys and sets."""
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise UnsupportedPolicy(f"condition qualifier {qualifier}")
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    present = key in context
    values = _as_list(context.get(key))
    expected_values = _as_list(expected)

    if operator == "Null":
        # "true" asks for the key to be absent.
        want_absent = any(str(e).lower() == "true" for e in expected_values)
        return (not present) == want_absent

    negated = operator in _NEGATED
    test = _STRING_TESTS.get(_NEGATED.get(operator, operator))
    if test is None:
        raise UnsupportedPolicy(f"condition operator {operator}")

    def one(value: Any) -> bool:
        hit = any(test(e, value) for e in expected_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if not present:
        return if_exists or negated
    return any(one(v) for v in values) if not negated else all(one(v) for v in values)


def _conditions_hold(block: Any, context: dict[str, Any]) -> bool:
    for operator, keys in (block or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        # IAM hands documents out URL-encoded; moto keeps them as they were given.
        text = document if document.lstrip().startswith("{") else unquote(document)
        document = json.loads(text)
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _statement_applies(statement: dict[str, Any], need: Need) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicy("NotPrincipal")
    if "Action" in statement:
        if not _matches_any(statement["Action"], need.action, ignore_case=True):
            return False
    elif "NotAction" in statement:
        if _matches_any(statement["NotAction"], need.action, ignore_case=True):
            return False
    else:
        return False
    if "Resource" in statement:
        if not _matches_any(statement["Resource"], need.resource, ignore_case=False):
            return False
    elif "NotResource" in statement:
        if _matches_any(statement["NotResource"], need.resource, ignore_case=False):
            return False
    return _conditions_hold(statement.get("Condition"), need.context)


def evaluate(documents: list[Any], need: Need) -> str:
    """``allow``, ``deny`` (explicit) or ``implicit`` (nothing allows) for one need."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            try:
                applies = _statement_applies(statement, need)
            except UnsupportedPolicy as err:
                LOG.warning("policy element not supported (%s): the statement denies", err)
                return "deny"
            if not applies:
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "allow" if allowed else "implicit"


def trust_allows(document: Any, service: str, context: dict[str, Any]) -> bool:
    """True when a trust policy lets the service principal assume the role in this context."""
    need = Need("sts:AssumeRole", "*", context)
    allowed = False
    for statement in _statements(document):
        principals = _as_list((statement.get("Principal") or {}).get("Service"))
        if service not in principals and "*" not in _as_list(statement.get("Principal")):
            continue
        try:
            applies = _matches_any(
                statement.get("Action"), need.action, ignore_case=True
            ) and _conditions_hold(statement.get("Condition"), context)
        except UnsupportedPolicy as err:
            LOG.warning("trust policy element not supported (%s): no assume", err)
            return False
        if not applies:
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


# --------------------------------------------------------------------------------------------
# Principals and their policies


def _iam_backend(account_id: str, partition: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def _policy_documents(policies: list[Any]) -> list[Any]:
    """moto's collected policies (inline dicts or text, managed Policy objects) as JSON."""
    from moto.iam.access_control import IAMPolicy

    return [IAMPolicy(p)._policy_json for p in policies]


def _role_documents(account_id: str, partition: str, role_name: str) -> tuple[list[Any], Any]:
    """Identity policies of a role and its permissions boundary document (or None)."""
    backend = _iam_backend(account_id, partition)
    role = backend.get_role(role_name)
    documents = [json.loads(doc) for doc in role.policies.values()]
    documents += _policy_documents(list(role.managed_policies.values()))
    boundary = None
    if role.permissions_boundary_arn:
        boundary = _policy_documents([backend.get_policy(role.permissions_boundary_arn)])
    return documents, boundary


def _decide(documents: list[Any], boundary: list[Any] | None, need: Need) -> str:
    decision = evaluate(documents, need)
    if decision == "allow" and boundary is not None:
        bounded = evaluate(boundary, need)
        if bounded != "allow":
            return "boundary"
    return decision


def _denial(principal_arn: str, need: Need, decision: str) -> str:
    why = {
        "deny": "with an explicit deny in an identity-based policy",
        "boundary": "because no permissions boundary allows the " + need.action + " action",
        "implicit": "because no identity-based policy allows the " + need.action + " action",
    }[decision]
    return (
        f"User: {principal_arn} is not authorized to perform: {need.action} on resource: "
        f"{need.resource} {why}"
    )


# --------------------------------------------------------------------------------------------
# What each request needs


def _json_body(response: Any) -> dict[str, Any]:
    body = response.body
    if isinstance(body, dict):  # DynamoDB's handler parses its body itself
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _tag_context(tags: Any) -> dict[str, Any]:
    """aws:RequestTag/* and aws:TagKeys from a tag map or a list of {Key, Value}."""
    if isinstance(tags, dict):
        pairs = list(tags.items())
    else:
        pairs = [
            (t.get("Key", t.get("key")), t.get("Value", t.get("value")))
            for t in _as_list(tags)
            if isinstance(t, dict)
        ]
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs if k is not None}
    context["aws:TagKeys"] = [k for k, _ in pairs if k is not None]
    return context


def _query_tags(data: dict[str, list[str]]) -> list[dict[str, str]]:
    """Tags.member.N.Key/Value of a query-protocol request."""
    tags = []
    index = 1
    while f"Tags.member.{index}.Key" in data:
        tags.append(
            {
                "Key": data[f"Tags.member.{index}.Key"][0],
                "Value": (data.get(f"Tags.member.{index}.Value") or [""])[0],
            }
        )
        index += 1
    return tags


def _pass_role(role_arn: str | None, service: str, resource_arn: str) -> list[Need]:
    if not role_arn:
        return []
    return [
        Need(
            "iam:PassRole",
            role_arn,
            {"iam:PassedToService": service, "iam:AssociatedResourceArn": resource_arn},
        )
    ]


def _apigateway(response: Any, operation: str, partition: str, region: str) -> list[Need]:
    path = urlparse(response.uri).path
    needs = [
        Need(
            f"apigateway:{response.method.upper()}", f"arn:{partition}:apigateway:{region}::{path}"
        )
    ]
    if operation == "CreateRestApi":
        tags = _json_body(response).get("tags")
        needs[0].context.update(_tag_context(tags or {}))
        if tags:
            collection = quote(f"arn:{partition}:apigateway:{region}::/restapis", safe="")
            needs.append(
                Need(
                    "apigateway:PUT",
                    f"arn:{partition}:apigateway:{region}::/tags/{collection}",
                    _tag_context(tags),
                )
            )
    return needs


def _dynamodb(
    response: Any, operation: str, partition: str, region: str, account: str
) -> list[Need]:
    body = _json_body(response)
    action = f"dynamodb:{operation}"
    if body.get("TableName"):
        resource = f"arn:{partition}:dynamodb:{region}:{account}:table/{body['TableName']}"
    else:
        resource = body.get("ResourceArn") or "*"
    needs = [Need(action, resource)]
    if operation == "CreateTable" and body.get("Tags"):
        needs[0].context.update(_tag_context(body["Tags"]))
        needs.append(Need("dynamodb:TagResource", resource, _tag_context(body["Tags"])))
    if operation == "TagResource":
        needs[0].context.update(_tag_context(body.get("Tags")))
    return needs


def _states(response: Any, operation: str, partition: str, region: str, account: str) -> list[Need]:
    body = _json_body(response)
    action = f"states:{operation}"
    if operation == "CreateStateMachine":
        arn = f"arn:{partition}:states:{region}:{account}:stateMachine:{body.get('name', '')}"
        needs = [Need(action, arn, _tag_context(body.get("tags") or []))]
        if body.get("tags"):
            needs.append(Need("states:TagResource", arn, _tag_context(body["tags"])))
        return needs + _pass_role(body.get("roleArn"), STATES_PRINCIPAL, arn)
    resource = (
        body.get("stateMachineArn")
        or body.get("executionArn")
        or body.get("resourceArn")
        or body.get("activityArn")
        or "*"
    )
    needs = [Need(action, resource)]
    if operation == "UpdateStateMachine":
        needs += _pass_role(body.get("roleArn"), STATES_PRINCIPAL, resource)
    if operation == "TagResource":
        needs[0].context.update(_tag_context(body.get("tags")))
    return needs


def _scheduler(
    response: Any, operation: str, partition: str, region: str, account: str
) -> list[Need]:
    path = urlparse(response.uri).path
    parts = [unquote(p) for p in path.split("/") if p]
    body = _json_body(response)
    query = response.querystring if isinstance(response.querystring, dict) else {}
    action = f"scheduler:{operation}"
    if len(parts) == 2 and parts[0] == "schedules":
        group = body.get("GroupName") or (query.get("groupName") or ["default"])[0]
        arn = f"arn:{partition}:scheduler:{region}:{account}:schedule/{group}/{parts[1]}"
        needs = [Need(action, arn)]
        if operation in ("CreateSchedule", "UpdateSchedule"):
            role = (body.get("Target") or {}).get("RoleArn")
            needs += _pass_role(role, SCHEDULER_PRINCIPAL, arn)
        return needs
    if len(parts) == 2 and parts[0] == "schedule-groups":
        return [
            Need(action, f"arn:{partition}:scheduler:{region}:{account}:schedule-group/{parts[1]}")
        ]
    return [Need(action, "*")]


#: Operations on an existing role for which AWS puts the role's current boundary in
#: ``iam:PermissionsBoundary`` (Service Authorization Reference, IAM).
_ROLE_BOUNDARY_KEY_ACTIONS = frozenset(
    [
        "AttachRolePolicy",
        "DeleteRolePermissionsBoundary",
        "DeleteRolePolicy",
        "DetachRolePolicy",
        "PutRolePolicy",
    ]
)


def _iam(response: Any, operation: str, partition: str, account: str) -> list[Need]:
    data = response.data if isinstance(response.data, dict) else {}

    def param(name: str) -> str | None:
        value = data.get(name)
        return value[0] if isinstance(value, list) and value else value

    action = f"iam:{operation}"
    role_name = param("RoleName")
    if role_name:
        boundary = param("PermissionsBoundary")
        context: dict[str, Any] = {"iam:PermissionsBoundary": boundary} if boundary else {}
        if operation == "CreateRole":
            arn = f"arn:{partition}:iam::{account}:role{param('Path') or '/'}{role_name}"
            tags = _query_tags(data)
            context.update(_tag_context(tags))
            needs = [Need(action, arn, context)]
            if tags:
                needs.append(Need("iam:TagRole", arn, _tag_context(tags)))
            return needs
        try:
            role = _iam_backend(account, partition).get_role(role_name)
        except Exception:  # noqa: BLE001 - moto's NoSuchEntity: the path is unknown
            role = None
        arn = role.arn if role else f"arn:{partition}:iam::{account}:role/{role_name}"
        if role and role.permissions_boundary_arn and operation in _ROLE_BOUNDARY_KEY_ACTIONS:
            context.setdefault("iam:PermissionsBoundary", role.permissions_boundary_arn)
        if operation == "TagRole":
            context.update(_tag_context(_query_tags(data)))
        return [Need(action, arn, context)]
    user_name = param("UserName")
    if user_name:
        return [Need(action, f"arn:{partition}:iam::{account}:user/{user_name}")]
    policy_arn = param("PolicyArn")
    if policy_arn:
        return [Need(action, policy_arn)]
    if operation == "CreatePolicy" and param("PolicyName"):
        arn = f"arn:{partition}:iam::{account}:policy{param('Path') or '/'}{param('PolicyName')}"
        return [Need(action, arn)]
    return [Need(action, "*")]


#: SQS batch operations are authorized as their single-message action.
_SQS_BATCH_ACTIONS = {
    "DeleteMessageBatch": "DeleteMessage",
    "SendMessageBatch": "SendMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(response: Any, operation: str, partition: str, region: str, account: str) -> list[Need]:
    body = _json_body(response)
    data = response.querystring if isinstance(response.querystring, dict) else {}

    def param(name: str) -> str | None:
        if name in body:
            return body[name]
        value = data.get(name)
        return value[0] if isinstance(value, list) and value else None

    name = param("QueueName") or (param("QueueUrl") or "").rstrip("/").split("/")[-1]
    resource = f"arn:{partition}:sqs:{region}:{account}:{name}" if name else "*"
    action = f"sqs:{_SQS_BATCH_ACTIONS.get(operation, operation)}"
    needs = [Need(action, resource)]
    tags = body.get("tags") or body.get("Tags")
    if operation == "CreateQueue" and tags:
        needs[0].context.update(_tag_context(tags))
        needs.append(Need("sqs:TagQueue", resource, _tag_context(tags)))
    if operation == "TagQueue":
        needs[0].context.update(_tag_context(tags or {}))
    return needs


#: What an EventBridge connection operation implies on the connection's secret.
_CONNECTION_SECRET_ACTIONS: dict[str, tuple[str, ...]] = {
    "CreateConnection": ("secretsmanager:CreateSecret",),
    "DescribeConnection": (),
    "UpdateConnection": (
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecret",
    ),
    "DeleteConnection": ("secretsmanager:DeleteSecret",),
}


def _events(response: Any, operation: str, partition: str, region: str, account: str) -> list[Need]:
    body = _json_body(response)
    action = f"events:{operation}"
    rule = body.get("Name") if operation in ("PutRule", "DescribeRule", "DeleteRule") else None
    rule = rule or body.get("Rule")
    connection = body.get("Name") if operation in _CONNECTION_SECRET_ACTIONS else None
    if rule:
        bus = body.get("EventBusName")
        path = f"rule/{bus}/{rule}" if bus and bus != "default" else f"rule/{rule}"
        resource = f"arn:{partition}:events:{region}:{account}:{path}"
    elif connection:
        resource = f"arn:{partition}:events:{region}:{account}:connection/{connection}"
    else:
        resource = body.get("ResourceARN") or "*"
    needs = [Need(action, resource)]
    if connection:
        # EventBridge keeps the credential in a secret it makes and changes with the caller's
        # permissions; its name is events!connection/<name>/<id>.
        secret = (
            f"arn:{partition}:secretsmanager:{region}:{account}:secret:"
            f"events!connection/{connection}/00000000-0000-0000-0000-000000000000"
        )
        needs.extend(Need(a, secret) for a in _CONNECTION_SECRET_ACTIONS[operation])
    if operation == "PutRule" and body.get("Tags"):
        needs[0].context.update(_tag_context(body["Tags"]))
        needs.append(Need("events:TagResource", resource, _tag_context(body["Tags"])))
    if operation == "TagResource":
        needs[0].context.update(_tag_context(body.get("Tags")))
    if operation == "PutTargets":
        needs[0].context["events:TargetArn"] = [
            t.get("Arn") for t in _as_list(body.get("Targets")) if isinstance(t, dict)
        ]
    return needs


def required_authorizations(
    response: Any, service: str, operation: str, moto_resource: str = "*"
) -> list[Need]:
    """The authorizations AWS evaluates for one request moto is serving."""
    partition, region, account = response.partition, response.region, response.current_account
    if service == "apigateway":
        return _apigateway(response, operation, partition, region)
    if service == "dynamodb":
        return _dynamodb(response, operation, partition, region, account)
    if service == "states":
        return _states(response, operation, partition, region, account)
    if service == "scheduler":
        return _scheduler(response, operation, partition, region, account)
    if service == "iam":
        return _iam(response, operation, partition, account)
    if service == "sqs":
        return _sqs(response, operation, partition, region, account)
    if service == "events":
        return _events(response, operation, partition, region, account)
    # Services the operator does not use: the action, on the resource moto found (often *).
    return [Need(f"{service}:{operation}", moto_resource)]


# --------------------------------------------------------------------------------------------
# The request hook


def _access_denied(service: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError, _RESTError

    if service in _QUERY_SERVICES:
        error: Exception = _RESTError("AccessDenied", message)
    else:
        error = JsonRESTError("AccessDeniedException", message)
    error.code = 403  # type: ignore[attr-defined]
    return error


def _principal_documents(access_key: Any) -> tuple[list[Any], list[Any] | None]:
    """Identity policies (and boundary, for an assumed role) of the caller's access key."""
    from moto.iam.access_control import AssumedRoleAccessKey

    if isinstance(access_key, AssumedRoleAccessKey):
        return _role_documents(
            access_key.account_id, access_key.partition, access_key._owner_role_name
        )
    return _policy_documents(access_key.collect_policies()), None


def _authorize(self: Any, resource: str = "*") -> None:
    """Replaces moto's check: signature and key by moto, the decision by :func:`evaluate`."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    if "Authorization" not in self.headers:
        from moto.core.exceptions import JsonRESTError

        error = JsonRESTError("MissingAuthenticationTokenException", "Missing Authentication Token")
        error.code = 403
        raise error

    operation = self._get_action()
    path = self.raw_path
    query = urlparse(self.uri).query
    if query:
        path += "?" + query
    request = IAMRequest(
        account_id=self.current_account,
        method=self.method,
        path=path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=operation,
    )
    request.check_signature()
    service = request._service
    if f"{service}:{operation}" == "sts:GetCallerIdentity":
        return

    documents, boundary = _principal_documents(request._access_key)
    for need in required_authorizations(self, service, operation, resource):
        decision = _decide(documents, boundary, need)
        if decision != "allow":
            message = _denial(request._access_key.arn, need, decision)
            LOG.info("denied %s:%s: %s", service, operation, message)
            raise _access_denied(service, message)


# --------------------------------------------------------------------------------------------
# Service roles: Step Functions tasks and schedules


@dataclass
class _Session:
    access_key_id: str
    secret_access_key: str
    session_token: str
    arn: str


_sessions: dict[str, _Session] = {}
_sessions_lock = threading.Lock()


def _role_of(role_arn: str) -> tuple[str, str, str]:
    """(account, partition, role name) of a role ARN."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        raise ValueError(f"{role_arn} is not a role ARN")
    return parts[4], parts[1], parts[5].rsplit("/", 1)[-1]


def assume_service_role(role_arn: str, service: str, source_arn: str | None) -> _Session:
    """An STS session of the role for a service principal; raises PermissionError when the
    role does not exist or its trust policy does not let the service assume it."""
    from moto.sts.models import sts_backends

    account, partition, name = _role_of(role_arn)
    try:
        role = _iam_backend(account, partition).get_role(name)
    except Exception as err:  # noqa: BLE001 - NoSuchEntity
        raise PermissionError(f"{service} cannot assume {role_arn}: no such role") from err
    if role.arn != role_arn:
        raise PermissionError(f"{service} cannot assume {role_arn}: the role is {role.arn}")
    context: dict[str, Any] = {"aws:SourceAccount": account}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    if not trust_allows(role.assume_role_policy_document, service, context):
        raise PermissionError(
            f"{service} is not authorized to assume {role_arn} (trust policy), "
            f"source {source_arn or 'unknown'}"
        )
    with _sessions_lock:
        session = _sessions.get(role_arn)
        if session is None:
            region = "us-east-1" if partition == "aws" else partition
            assumed = sts_backends[account][partition].assume_role(
                region_name=region,
                role_session_name=service.split(".")[0],
                role_arn=role_arn,
                policy="",
                duration=43200,
                external_id="",
            )
            session = _Session(
                assumed.access_key_id,
                assumed.secret_access_key,
                assumed.session_token,
                assumed.arn,
            )
            _sessions[role_arn] = session
    return session


def authorize_role(role_arn: str, need: Need) -> str:
    """The decision for the role's own policies and boundary: allow, deny, implicit, boundary."""
    account, partition, name = _role_of(role_arn)
    documents, boundary = _role_documents(account, partition, name)
    return _decide(documents, boundary, need)


def _install_task_credentials() -> None:
    """State machine tasks call AWS with a session of the execution role."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        state_task as state_task_module,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (
        StateCredentials,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_factory,  # noqa: F401 - imports every service task module
    )
    from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module

    @dataclass
    class TaskCredentials(StateCredentials):
        """The role a task runs as, and the state machine it runs for (aws:SourceArn)."""

        state_machine_arn: str | None = None

    original_eval = state_task_module.StateTask._eval_state_credentials

    def _eval_state_credentials(self: Any, env: Any) -> Any:
        credentials = original_eval(self, env)
        try:
            machine = env.states.context_object.context_object_data["StateMachine"]["Id"]
        except (AttributeError, KeyError, TypeError):
            machine = None
        return TaskCredentials(role_arn=credentials.role_arn, state_machine_arn=machine)

    state_task_module.StateTask._eval_state_credentials = _eval_state_credentials

    original_client = boto_client_module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        source = getattr(state_credentials, "state_machine_arn", None)
        try:
            session = assume_service_role(role_arn or "", STATES_PRINCIPAL, source)
        except (PermissionError, ValueError) as err:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": str(err)}}, "AssumeRole"
            ) from err
        return boto3.client(
            service_name=service,
            region_name=region,
            endpoint_url=f"http://localhost:{moto_server_port()}",
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
        )

    # Each task module imported the function by name: replace every reference.
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("moto.stepfunctions") and (
            getattr(module, "boto_client_for", None) is original_client
        ):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def _method_authorization(api_id: str, method: str, path: str, region: str, account: str) -> str:
    """The authorization type of the method a request reaches (NONE when none matches)."""
    from .apigateway_invoke import find_rest_api, match_resource, snapshot_api

    api = find_rest_api(api_id, region_hint=region, account_hint=account)
    if api is None:
        return "NONE"
    matched = match_resource(snapshot_api(api), path)
    if matched is None:
        return "NONE"
    for resource in list(api.resources.values()):
        if resource.get_path() == matched[0].path:
            found = resource.resource_methods.get(method.upper()) or resource.resource_methods.get(
                "ANY"
            )
            return (getattr(found, "authorization_type", None) or "NONE") if found else "NONE"
    return "NONE"


def _install_invoke_authorization() -> None:
    """apigateway:invoke: AWS_IAM methods need IAM_ROLE and execute-api:Invoke for the role."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_api_gateway as moto_apigw_task,
    )

    from .stepfunctions_tasks import InvokeFailed, build_request

    task_class = moto_apigw_task.StateTaskServiceApiGateway
    original = task_class._eval_service_task

    def _eval_service_task(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict,
        state_credentials: Any = None,
        **kwargs: Any,
    ) -> None:
        request, api_id, stage, region_hint = build_request(normalised_parameters)
        region = region_hint or resource_runtime_part.region
        account = resource_runtime_part.account
        authorization = _method_authorization(api_id, request.method, request.path, region, account)
        if authorization == "AWS_IAM":
            if normalised_parameters.get("AuthType") != "IAM_ROLE":
                raise InvokeFailed(403, json.dumps({"message": "Missing Authentication Token"}))
            role_arn = getattr(state_credentials, "role_arn", "") or ""
            source = getattr(state_credentials, "state_machine_arn", None)
            try:
                session = assume_service_role(role_arn, STATES_PRINCIPAL, source)
            except (PermissionError, ValueError) as err:
                raise InvokeFailed(403, json.dumps({"Message": str(err)})) from err
            arn = (
                f"arn:{_partition_of(region)}:execute-api:{region}:{account}:"
                f"{api_id}/{stage}/{request.method.upper()}{request.path}"
            )
            need = Need("execute-api:Invoke", arn)
            decision = authorize_role(role_arn, need)
            if decision != "allow":
                message = _denial(session.arn, need, decision)
                LOG.info("denied invoke: %s", message)
                raise InvokeFailed(403, json.dumps({"Message": message}))
        original(
            self,
            env,
            resource_runtime_part,
            normalised_parameters,
            state_credentials=state_credentials,
            **kwargs,
        )

    task_class._eval_service_task = _eval_service_task


def _partition_of(region: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region)


def _install_schedule_authorization(scheduler_class: Any) -> None:
    """A schedule starts its target only as its role, trusted by scheduler.amazonaws.com."""
    original_fire = scheduler_class._fire

    def _fire(self: Any, schedule: Any, track: Any, now: Any) -> None:
        target = schedule.target or {}
        role_arn = str(target.get("RoleArn") or "")
        start = self._start_execution

        def checked(state_machine_arn: str, name: str, execution_input: str) -> str:
            session = assume_service_role(role_arn, SCHEDULER_PRINCIPAL, schedule.arn)
            need = Need("states:StartExecution", state_machine_arn)
            decision = authorize_role(role_arn, need)
            if decision != "allow":
                raise PermissionError(_denial(session.arn, need, decision))
            return start(state_machine_arn, name, execution_input)

        self._start_execution = checked
        try:
            original_fire(self, schedule, track, now)
        finally:
            self._start_execution = start

    scheduler_class._fire = _fire


def _create_admin() -> AdminKey:
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = _iam_backend(DEFAULT_ACCOUNT_ID, "aws")
    user = backend.create_user(region_name="us-east-1", user_name=ADMIN_USER)
    backend.put_user_policy(ADMIN_USER, "admin", ADMIN_POLICY)
    key = backend.create_access_key(ADMIN_USER)
    return AdminKey(key.access_key_id, key.secret_access_key, user.arn)


def install(scheduler_class: Any) -> AdminKey:
    """Switches enforcement on for every request from now on, and returns the admin's key.

    Call after the other patches (it wraps the apigateway:invoke task they install).
    """
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authorize
    _install_task_credentials()
    _install_invoke_authorization()
    _install_schedule_authorization(scheduler_class)
    admin = _create_admin()
    LOG.info("IAM enforced; admin user %s", admin.arn)
    return admin
