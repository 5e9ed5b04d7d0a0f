-- Argo CD health check for downloader.dev/Downloader (downloader-operator).
--
-- Argo CD runs this with `obj` set to the Downloader, decoded from JSON into Lua tables, and reads
-- the table it returns: hs.status (Healthy, Progressing, Degraded or Suspended) and hs.message.
-- Argo CD runs custom checks in a sandbox: Lua 5.1 (gopher-lua) with only the base, table and a
-- reduced os library, so this script uses no string or math function.
--
--   Healthy      Ready is True for the current generation, and the last run did not fail.
--   Suspended    Ready is True, with spec.schedule.suspend: the pipeline is in place but does not
--                run (as Argo CD reports a suspended CronJob), whatever its last run did.
--   Progressing  the Downloader is being deleted; or it is not reconciled yet (no status, or its
--                generation not yet observed); or Ready is Unknown; or Ready is False for a reason
--                that only means waiting (a table CREATING, a new role propagating, AWS
--                throttling the operator), which the operator gets past by itself.
--   Degraded     Ready is False for any other reason (SecretNotFound, TableKeyMismatch,
--                AccessDenied, AwsError...): someone has to fix something. Or the last run failed.
--
-- A failed last run (Ready True, LastRunSucceeded False) is Degraded whatever its reason, as
-- Argo CD's own check reports a CronJob whose last Job failed: the pipeline exists, but it does
-- not deliver data, and that is what the application is for. This includes reasons that may be
-- transient (SourceServerError, SourceThrottled, SourceUnreachable, TimedOut): the state machine
-- already retried those with backoff inside the run, so a failed run means the source failed for
-- the whole run. Degraded clears with the next successful run; a source that fails now and then
-- makes the application go Degraded now and then, which is what happened to its data.

local hs = {}

-- Ready reasons that mean "waiting": the operator requeues and gets past them without help.
local WAITING_REASONS = {
  Pending = true,
  WaitingForDependency = true,
  TableCreating = true,
  TableDeleting = true,
  StateMachineDeleting = true,
  RolePropagating = true,
  AwsThrottled = true,
  Deleting = true,
}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- "Reason: message", or whichever of the two is there.
local function explain(condition)
  local reason = condition.reason or ""
  local message = condition.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  if reason ~= "" then
    return reason
  end
  return message
end

local metadata = obj.metadata or {}
local generation = metadata.generation
local status = obj.status

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator is removing the pipeline's AWS resources"
  local ready = status and findCondition(status.conditions, "Ready")
  if ready ~= nil and ready.reason == "Deleting" and ready.message ~= nil then
    hs.message = hs.message .. " (" .. ready.message .. ")"
  end
  return hs
end

if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the Downloader"
  return hs
end

local ready = findCondition(status.conditions, "Ready")
if generation ~= nil and (status.observedGeneration ~= generation or ready == nil
    or ready.observedGeneration ~= generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report Ready"
  return hs
end

if ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = explain(ready)
  return hs
end
if ready.status ~= "True" then
  if WAITING_REASONS[ready.reason] then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = explain(ready)
  return hs
end

local spec = obj.spec or {}
if spec.schedule ~= nil and spec.schedule.suspend == true then
  hs.status = "Suspended"
  hs.message = "Schedule suspended: " .. explain(ready)
  return hs
end

local lastRun = findCondition(status.conditions, "LastRunSucceeded")
if lastRun ~= nil and lastRun.status == "False" then
  hs.status = "Degraded"
  hs.message = "Last run failed: " .. explain(lastRun)
  return hs
end

hs.status = "Healthy"
hs.message = explain(ready)
return hs
