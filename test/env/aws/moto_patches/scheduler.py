"""EventBridge Scheduler schedules that fire, which moto 5.2.5 only stores.

A background thread looks at every schedule moto holds, once per tick (1 s by default), and
starts a Step Functions execution when an ENABLED schedule is due:

- the target must be a state machine ARN (``arn:aws:states:...:stateMachine:...``); the
  execution gets a UUID name and ``Target.Input`` as input (``{}`` when absent);
- rate(), cron() and at() fire at the times :mod:`schedule_expressions` computes, in the
  schedule's ``ScheduleExpressionTimezone``, within ``StartDate``/``EndDate``;
- a rate schedule without StartDate fires first when it is created or enabled, then every
  interval; a schedule whose timing fields change starts over from the change;
- DISABLED schedules never fire; deleted schedules are forgotten;
- a one-time schedule fires once; with ``ActionAfterCompletion: DELETE`` a schedule is deleted
  after its last invocation, as AWS does.

``CreateSchedule``/``UpdateSchedule`` also validate the expression and the time zone, as AWS
does, instead of storing anything.

Not emulated: FlexibleTimeWindow (fires at the start of the window), RetryPolicy and
DeadLetterConfig, the target's RoleArn, targets other than Step Functions, and AWS's up to
60 s of jitter within the minute.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.scheduler import models as scheduler_models
from moto.scheduler.exceptions import ValidationException

from .schedule_expressions import (
    AtExpression,
    InvalidExpression,
    ScheduleExpression,
    next_fire_after,
    parse_expression,
    parse_timezone,
)

LOG = logging.getLogger("launcher.scheduler")

DEFAULT_TICK_SECONDS = 1.0

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def install_validation() -> None:
    """Makes CreateSchedule and UpdateSchedule reject expressions AWS rejects."""
    backend_class = scheduler_models.EventBridgeSchedulerBackend
    for name in ("create_schedule", "update_schedule"):
        original = getattr(backend_class, name)

        def validated(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            # UpdateSchedule replaces the whole schedule; an omitted State means ENABLED, as
            # in CreateSchedule (moto would store None).
            kwargs["state"] = kwargs.get("state") or "ENABLED"
            try:
                parse_expression(kwargs.get("schedule_expression") or "")
                parse_timezone(kwargs.get("schedule_expression_timezone"))
            except InvalidExpression as err:
                raise ValidationException(str(err)) from err
            return _original(self, *args, **kwargs)

        setattr(backend_class, name, validated)


@dataclass
class _Track:
    """What the scheduler knows about one schedule between ticks."""

    fingerprint: tuple[Any, ...]
    anchor: datetime
    next_fire: datetime | None
    fire_count: int = 0
    last_fired_at: datetime | None = None
    last_execution_arn: str | None = None
    last_error: str | None = None


class Scheduler:
    """Fires due schedules into Step Functions from a daemon thread."""

    def __init__(
        self,
        start_execution: Callable[[str, str, str], str],
        tick_seconds: float = DEFAULT_TICK_SECONDS,
        clock: Clock = utc_now,
    ):
        """``start_execution(state_machine_arn, name, input)`` returns the execution ARN."""
        self._start_execution = start_execution
        self._tick_seconds = tick_seconds
        self._clock = clock
        self._tracks: dict[str, _Track] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def state(self) -> list[dict[str, Any]]:
        """What each schedule will do next, for the debug endpoint."""
        with self._lock:
            return [
                {
                    "arn": arn,
                    "anchor": _iso(track.anchor),
                    "nextFireAt": _iso(track.next_fire),
                    "lastFiredAt": _iso(track.last_fired_at),
                    "fireCount": track.fire_count,
                    "lastExecutionArn": track.last_execution_arn,
                    "lastError": track.last_error,
                }
                for arn, track in self._tracks.items()
            ]

    def _run(self) -> None:
        LOG.info("scheduler started, tick %.1fs", self._tick_seconds)
        while not self._stop.wait(self._tick_seconds):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one bad tick must not stop the thread
                LOG.exception("scheduler tick failed; next tick in %.1fs", self._tick_seconds)

    def tick(self) -> None:
        """Fires every due schedule once. The thread calls this once per tick; the time comes
        from the injected clock."""
        now = self._clock()
        seen: set[str] = set()
        for group, schedule in _all_schedules():
            seen.add(schedule.arn)
            with self._lock:
                track = self._observe(schedule, now)
            if track.next_fire is None or track.next_fire > now:
                continue
            self._fire(schedule, track, now)
            if track.next_fire is None and schedule.action_after_completion == "DELETE":
                LOG.info(
                    "schedule %s completed; deleting it (ActionAfterCompletion DELETE)",
                    schedule.arn,
                )
                group.schedules.pop(schedule.name, None)
        with self._lock:
            for arn in set(self._tracks) - seen:
                del self._tracks[arn]

    def _observe(self, schedule: Any, now: datetime) -> _Track:
        """The track of a schedule, started over when its timing changed."""
        # creation_date tells a schedule deleted and created again within one tick apart.
        fingerprint = (
            schedule.creation_date,
            schedule.schedule_expression,
            schedule.schedule_expression_timezone,
            schedule.state,
            schedule.start_date,
            schedule.end_date,
        )
        track = self._tracks.get(schedule.arn)
        if track is not None and track.fingerprint == fingerprint:
            return track

        previous = track
        track = _Track(fingerprint=fingerprint, anchor=now, next_fire=None)
        if previous is not None:
            track.fire_count = previous.fire_count
            track.last_fired_at = previous.last_fired_at
            track.last_execution_arn = previous.last_execution_arn
        if schedule.state == "ENABLED":
            just_before = now - timedelta(microseconds=1)
            try:
                track.next_fire = _next_fire(schedule, track.anchor, just_before)
            except InvalidExpression as err:
                track.last_error = str(err)
        self._tracks[schedule.arn] = track
        LOG.info(
            "schedule %s (%s, %s, %s): next fire %s",
            schedule.arn,
            schedule.schedule_expression,
            schedule.schedule_expression_timezone,
            schedule.state,
            _iso(track.next_fire),
        )
        return track

    def _fire(self, schedule: Any, track: _Track, now: datetime) -> None:
        target = schedule.target or {}
        target_arn = str(target.get("Arn", ""))
        execution_input = target.get("Input") or "{}"
        name = str(uuid.uuid4())
        try:
            if ":states:" not in target_arn or ":stateMachine:" not in target_arn:
                raise ValueError(f"target {target_arn} is not a state machine; not supported")
            execution_arn = self._start_execution(target_arn, name, execution_input)
            track.last_execution_arn = execution_arn
            track.last_error = None
            LOG.info("schedule %s fired: started %s", schedule.arn, execution_arn)
        except Exception as err:  # noqa: BLE001 - AWS would retry and count a failed invocation
            track.last_error = f"{type(err).__name__}: {err}"
            LOG.warning(
                "schedule %s fired but its target failed: %s", schedule.arn, track.last_error
            )
        track.fire_count += 1
        track.last_fired_at = now
        # The next time after now, not after the missed one: a stalled process does not
        # produce a burst of catch-up invocations.
        track.next_fire = _next_fire(schedule, track.anchor, max(now, track.next_fire or now))


def make_step_functions_starter() -> Callable[[str, str, str], str]:
    """Starts executions through moto's Step Functions backend of the target's account/region."""
    from moto.stepfunctions.responses import get_backend

    def start(state_machine_arn: str, name: str, execution_input: str) -> str:
        parts = state_machine_arn.split(":")
        region, account = parts[3], parts[4]
        json.loads(execution_input)  # AWS refuses a target input that is not JSON
        execution = get_backend(account, region).start_execution(
            state_machine_arn, name=name, execution_input=execution_input
        )
        return execution.execution_arn

    return start


def next_fire_times(
    expression_text: str,
    timezone_name: str | None,
    after: datetime,
    count: int,
    *,
    anchor: datetime | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> list[datetime]:
    """The next ``count`` fire times after ``after``: what the debug endpoint reports."""
    expression = parse_expression(expression_text)
    tz = parse_timezone(timezone_name)
    times: list[datetime] = []
    cursor = after
    while len(times) < count:
        fire = next_fire_after(
            expression, tz, cursor, anchor=anchor or after, start_date=start_date, end_date=end_date
        )
        if fire is None:
            break
        times.append(fire)
        cursor = fire
    return times


def _next_fire(schedule: Any, anchor: datetime, after: datetime) -> datetime | None:
    expression: ScheduleExpression = parse_expression(schedule.schedule_expression)
    tz = parse_timezone(schedule.schedule_expression_timezone)
    if isinstance(expression, AtExpression):
        start_date = end_date = None
    else:
        start_date = _timestamp(schedule.start_date)
        end_date = _timestamp(schedule.end_date)
    return next_fire_after(
        expression, tz, after, anchor=anchor, start_date=start_date, end_date=end_date
    )


def _all_schedules() -> list[tuple[Any, Any]]:
    """(group, schedule) for every schedule in every account and region, copied so that
    requests may change moto's dictionaries while the scheduler walks them."""
    found = []
    for regions in list(scheduler_models.scheduler_backends.values()):
        for backend in list(regions.values()):
            for group in list(backend.schedule_groups.values()):
                for schedule in list(group.schedules.values()):
                    found.append((group, schedule))
    return found


def _timestamp(value: Any) -> datetime | None:
    """moto keeps StartDate/EndDate as the epoch seconds the SDK sent (or ISO text)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
