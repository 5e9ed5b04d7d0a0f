"""Step Functions "Execution Status Change" events on the default EventBridge bus.

What AWS does: for every execution of a STANDARD state machine, Step Functions puts an event on
the account's default event bus when the execution starts (``RUNNING``) and when it ends
(``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``), with source ``aws.states`` and
detail-type ``Step Functions Execution Status Change``. Rules matching it deliver it to their
targets (an SQS queue, here). EXPRESS workflows emit no such event. Delivery is best effort, at
least once, and not ordered.

What moto 5.2.5 does: nothing; its executions never reach EventBridge. This module emits the
event AWS would emit, with the same envelope (``version``, ``id``, ``detail-type``, ``source``,
``account``, ``time``, ``region``, ``resources`` = [executionArn]) and detail
(``executionArn``, ``stateMachineArn``, ``name``, ``status``, ``startDate``, ``stopDate`` in
epoch milliseconds or null, ``input``, ``output``, ``inputDetails``, ``outputDetails``,
``error``, ``cause``), through moto's own events backend (``put_events``), so rules, their
patterns and their targets are moto's.

It also fixes two things in moto's delivery of events to targets:

- without an ``InputTransformer``, moto renders the event through a default template that
  drops ``account`` and substitutes ``<id>``, ``<time>``... inside the detail's text too; AWS
  delivers the event itself. The event is now delivered as it is (less moto's internal
  ``ingestion-time``).
- moto delivers to ``DISABLED`` rules, and one failing target (a deleted queue) makes the whole
  ``PutEvents`` fail; AWS skips disabled rules and a failed delivery affects no other target.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import datetime
from typing import Any

LOG = logging.getLogger("launcher.stepfunctions_events")

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"


def install() -> None:
    """Emits status-change events for STANDARD executions, and fixes delivery to targets."""
    _install_execution_hooks()
    _install_delivery_fixes()


def _install_execution_hooks() -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend import execution as execution_module

    execution_class = execution_module.Execution
    communication_class = execution_module.BaseExecutionWorkerCommunication

    def start(self: Any) -> None:
        # moto's Execution.start, with the RUNNING event put before the worker thread starts, so
        # that it precedes the final one as it does on AWS (where ordering is not guaranteed).
        if self.exec_worker:
            raise execution_module.InvalidName()
        self.exec_worker = self._get_start_execution_worker()
        self.exec_status = ExecutionStatus.RUNNING
        emit(self)
        self.exec_worker.start()

    original_terminated = communication_class.terminated

    def terminated(self: Any) -> None:
        original_terminated(self)
        emit(self.execution)

    execution_class.start = start
    communication_class.terminated = terminated


def emit(execution: Any) -> None:
    """Puts the status-change event of ``execution``; never fails the execution."""
    try:
        if workflow_type(execution) != "STANDARD":
            return
        from moto.events.models import events_backends

        event = status_change_event(execution)
        backend = events_backends[execution.account_id][execution.region_name]
        entries = backend.put_events([event])
        LOG.debug("put %s for %s: %s", _value(execution.exec_status), execution.exec_arn, entries)
    except Exception:  # an event is never worth breaking an execution for
        LOG.exception("could not put the status-change event of %s", execution.exec_arn)


def status_change_event(execution: Any) -> dict[str, Any]:
    """The ``PutEvents`` entry AWS's own event for the execution's current status amounts to."""
    status = _value(execution.exec_status)
    succeeded = status == "SUCCEEDED"
    item = execution.to_execution_list_item()
    stop_date = execution.stop_date if status != "RUNNING" else None
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": item["stateMachineArn"],
        "name": execution.name,
        "status": status,
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(stop_date) if stop_date else None,
        "input": _json(execution.input_data),
        "output": _json(execution.output) if succeeded else None,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if succeeded else None,
        "error": execution.error or None,
        "cause": execution.cause or None,
    }
    when = stop_date or execution.start_date
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [execution.exec_arn],
        # moto's backend takes epoch seconds and renders them as AWS does (second precision).
        "Time": when.timestamp(),
    }


def _install_delivery_fixes() -> None:
    from moto.events import models as events_models
    from moto.events import utils as events_utils

    parser_class = events_utils.EventTemplateParser
    original_parse = parser_class.parse

    def parse(input_template: Any, input_paths_map: Any, event: Any) -> Any:
        if not input_template and not input_paths_map:
            delivered = copy.deepcopy(dict(event))
            delivered.pop("ingestion-time", None)
            return delivered
        return original_parse(input_template, input_paths_map, event)

    parser_class.parse = staticmethod(parse)

    rule_class = events_models.Rule
    original_send = rule_class.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.state != "ENABLED":
            return
        try:
            original_send(self, original_event, transform_input)
        except Exception:  # AWS drops it; other rules still get the event
            LOG.warning(
                "rule %s could not deliver an event to its targets", self.arn, exc_info=True
            )

    rule_class.send_to_targets = send_to_targets


def workflow_type(execution: Any) -> str:
    """STANDARD or EXPRESS. moto's ``sm_type`` always says STANDARD; ``type`` is what was asked."""
    return _value(getattr(execution.state_machine, "type", None) or execution.sm_type)


def _value(enum_or_text: Any) -> str:
    return str(getattr(enum_or_text, "value", enum_or_text))


def _epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return to_json_str(value, separators=(",", ":"))
