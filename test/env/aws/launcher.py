"""Local AWS for downloader-operator's tests and demo: moto's server plus the data path.

This is OUR launcher around moto's server (PyPI ``moto[server]``, pinned to exactly
``REQUIRED_MOTO_VERSION``; it refuses to start with any other version, because it patches
moto's internals). It is test infrastructure, not a product part, and not an AWS emulator of
its own: every AWS API call is answered by moto. What it adds closes moto's gaps on the path
the operator's pipelines take at run time (see docs/local-aws.md for the details and the
known differences from AWS):

1. Invoking a deployed REST API over HTTP, at
   ``http://127.0.0.1:<port>/restapis/<restApiId>/<stage>/_user_request_/<path>``
   (moto/LocalStack style), through ``HTTP_PROXY`` integrations with their request parameter
   mappings (``moto_patches.apigateway_invoke``).
2. The Step Functions ``arn:aws:states:::apigateway:invoke`` task, broken in moto
   (``moto_patches.stepfunctions_tasks``). Its ``ApiEndpoint`` is
   ``127.0.0.1:<port>/restapis/<restApiId>`` locally (``APIGW_INVOKE_ENDPOINT_TEMPLATE``).
3. EventBridge Scheduler schedules that fire into Step Functions (``moto_patches.scheduler``).
4. Step Functions "Execution Status Change" events of STANDARD executions on the default
   event bus, delivered by moto's EventBridge rules to their targets
   (``moto_patches.stepfunctions_events``).

It also switches on moto's execution of state machines before serving, so that no client has
to ``POST /moto-api/config`` first.

Debug endpoints, outside AWS's API: ``GET /_launcher/health``,
``GET /_launcher/scheduler/schedules`` (what each schedule does next) and
``GET /_launcher/scheduler/next-fires?expression=...&timezone=...&after=...&count=N``.

Usage: python launcher.py [--host 127.0.0.1] [--port 0] [--port-file PATH]
                          [--enforce-iam [--admin-key-file PATH]]
Port 0 binds a free port; ``--port-file`` receives the bound port once the server listens.
``--enforce-iam`` (or ``LOCAL_AWS_ENFORCE_IAM=1``) authorizes every request against IAM
(``moto_patches.iam_enforcement``) and writes the key of an admin user to
``--admin-key-file`` before the port file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote

#: The only moto version whose internals the patches were written against.
REQUIRED_MOTO_VERSION = "5.2.5"

LOG = logging.getLogger("launcher")

StartResponse = Callable[..., Any]


def check_moto_version() -> None:
    """Exits with a clear message unless the installed moto is the pinned one."""
    try:
        installed = metadata.version("moto")
    except metadata.PackageNotFoundError:
        installed = None
    if installed != REQUIRED_MOTO_VERSION:
        sys.stderr.write(
            f"launcher: moto {REQUIRED_MOTO_VERSION} is required (found "
            f"{installed or 'none'}); the launcher patches moto internals of that exact "
            "version. Install test/env/aws/requirements.txt.\n"
        )
        sys.exit(2)


class LauncherApp:
    """WSGI app in front of moto: stage invocations and debug endpoints, the rest to moto."""

    def __init__(
        self,
        moto_app: Any,
        invoker: Any,
        scheduler: Any,
        port_getter: Callable[[], int],
        iam_enforced: bool = False,
    ):
        self._iam_enforced = iam_enforced
        self._moto_app = moto_app
        self._invoker = invoker
        self._scheduler = scheduler
        self._port = port_getter

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raw_path, _, raw_query = _raw_uri(environ).partition("?")
        parts = raw_path.split("/")
        # /restapis/<id>/<stage>/_user_request_[/<path>]
        if len(parts) >= 5 and parts[1] == "restapis" and parts[4] == "_user_request_":
            return self._invoke(
                environ, start_response, parts[2], parts[3], "/" + "/".join(parts[5:]), raw_query
            )
        if raw_path.startswith("/_launcher/"):
            return self._debug(environ, start_response, raw_path, raw_query)
        return self._moto_app(environ, start_response)

    def _invoke(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        api_id: str,
        stage: str,
        path: str,
        raw_query: str,
    ) -> Iterable[bytes]:
        from moto_patches.apigateway_invoke import GatewayRequest

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        request = GatewayRequest(
            method=environ["REQUEST_METHOD"],
            path=path,
            query=parse_qsl(raw_query, keep_blank_values=True),
            headers=_request_headers(environ),
            body=body,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        )
        response = self._invoker.invoke(api_id, stage, request)
        start_response(_status_line(response.status), response.headers)
        return [response.body]

    def _debug(
        self, environ: dict[str, Any], start_response: StartResponse, path: str, raw_query: str
    ) -> Iterable[bytes]:
        from moto_patches.schedule_expressions import InvalidExpression
        from moto_patches.scheduler import next_fire_times

        query = {k: v[-1] for k, v in parse_qs(raw_query).items()}
        if path == "/_launcher/health":
            return _json(
                start_response,
                200,
                {
                    "status": "ok",
                    "moto": REQUIRED_MOTO_VERSION,
                    "port": self._port(),
                    "iamEnforced": self._iam_enforced,
                },
            )
        if path == "/_launcher/scheduler/schedules":
            return _json(start_response, 200, {"schedules": self._scheduler.state()})
        if path == "/_launcher/scheduler/next-fires":
            try:
                after = _parse_time(query.get("after")) or datetime.now(UTC)
                times = next_fire_times(
                    query.get("expression", ""),
                    query.get("timezone"),
                    after,
                    min(int(query.get("count", "5")), 100),
                    anchor=_parse_time(query.get("anchor")),
                    start_date=_parse_time(query.get("startDate")),
                    end_date=_parse_time(query.get("endDate")),
                )
            except (InvalidExpression, ValueError) as err:
                return _json(start_response, 400, {"message": str(err)})
            return _json(
                start_response,
                200,
                {
                    "times": [t.isoformat().replace("+00:00", "Z") for t in times],
                },
            )
        return _json(start_response, 404, {"message": f"no launcher endpoint {path}"})


def _raw_uri(environ: dict[str, Any]) -> str:
    """The request target as the client sent it (percent-encoding intact)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw if raw.startswith("/") else "/" + raw.split("/", 3)[-1]
    path = quote(environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _request_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = "-".join(p.capitalize() for p in key[5:].split("_"))
            headers.append((name, value))
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, environ[key]))
    return headers


def _status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _json(start_response: StartResponse, status: int, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        _status_line(status),
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
        ],
    )
    return [data]


def _write_whole(path: str, text: str) -> None:
    """Writes a file readers never see half-written (write, then rename), owner-only."""
    tmp = f"{path}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: Longest log message kept whole; moto logs the repr of a whole state on each task failure.
MAX_LOG_MESSAGE_CHARS = 1500


class _TruncatingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > MAX_LOG_MESSAGE_CHARS:
            record.msg = message[:MAX_LOG_MESSAGE_CHARS] + " [...]"
            record.args = ()
        return True


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_TruncatingFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # Werkzeug colours its access log with ANSI codes; a log file wants plain text.
    import werkzeug.serving

    werkzeug.serving._log_add_style = False


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 binds a free port")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--scheduler-tick-seconds", type=float, default=1.0)
    parser.add_argument("--log-level", default=os.environ.get("LAUNCHER_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--enforce-iam",
        action="store_true",
        default=os.environ.get("LOCAL_AWS_ENFORCE_IAM") == "1",
        help="authorize every request against IAM (moto_patches.iam_enforcement)",
    )
    parser.add_argument(
        "--admin-key-file",
        help="with --enforce-iam: write the admin user's access key id and secret here",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = _parse_args(argv)
    _configure_logging(args.log_level)
    check_moto_version()

    # Imported only now: moto is heavy, and the version check must come first.
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from moto_patches import (
        apigateway_invoke,
        http_task,
        scheduler,
        stepfunctions_events,
        stepfunctions_tasks,
    )

    # State machines must execute; the setting has to be on before the first one exists.
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True

    invoker = apigateway_invoke.RestApiInvoker()
    apigateway_invoke.install()
    stepfunctions_tasks.install(invoker)
    http_task.install()
    stepfunctions_events.install()
    scheduler.install_validation()
    if args.enforce_iam:
        from moto_patches import iam_enforcement

        # After the other patches: it wraps the invoke task and the scheduler they install.
        admin = iam_enforcement.install(scheduler.Scheduler)
        if args.admin_key_file:
            _write_whole(args.admin_key_file, f"{admin.access_key_id} {admin.secret_access_key}\n")
    fire_scheduler = scheduler.Scheduler(
        scheduler.make_step_functions_starter(), tick_seconds=args.scheduler_tick_seconds
    )

    bound_port = {"value": args.port}
    app = LauncherApp(
        DomainDispatcherApplication(create_backend_app),
        invoker,
        fire_scheduler,
        lambda: bound_port["value"],
        iam_enforced=args.enforce_iam,
    )
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    bound_port["value"] = server.server_address[1]
    # moto's Step Functions tasks call back into this server at localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(bound_port["value"])

    fire_scheduler.start()
    if args.port_file:
        # Written whole, then renamed: a reader never sees half a number.
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(f"{bound_port['value']}\n")
        os.replace(tmp, args.port_file)

    def shutdown(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: shutting down", signum)
        fire_scheduler.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    LOG.info(
        "moto %s with launcher patches listening on http://%s:%d",
        REQUIRED_MOTO_VERSION,
        args.host,
        bound_port["value"],
    )
    server.serve_forever()
    LOG.info("stopped")
    logging.shutdown()
    # Nothing is left to clean up; skip interpreter teardown, which takes seconds with moto.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
