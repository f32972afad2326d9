-- Argo CD health check for serving.modelship.dev/ModelDeployment.
-- It reads the kstatus-style status the operator writes (see docs/gitops/README.md):
--   status missing, or observedGeneration behind metadata.generation -> Progressing
--   Stalled=True                                                     -> Degraded
--   Ready=True                                                       -> Healthy
--   Ready=False with a terminal reason                               -> Degraded
--   anything else                                                    -> Progressing
-- Terminal reasons: the operator cannot get further without a change to the spec (or to the
-- cluster), so waiting longer will not help. The operator also sets Stalled=True with them; the
-- table covers a status written without Stalled. (CrashLoop and ModelFetchFailed are terminal only
-- past a few restarts: the operator says so with Stalled=True, which the script reads first.)
--   InvalidSpec               the spec failed validation; the message names the field
--   ChildConflict             a Deployment, Service, HPA or PDB of that name belongs to someone else
--   ApplyRefused              the API server refuses a child for good (invalid, forbidden)
--   PodsRefused               the API server refuses to create the pods (quota, PriorityClass, ServiceAccount)
--   ProgressDeadlineExceeded  the rollout made no progress within rollout.progressDeadlineSeconds
--   ContainerConfigError      a container cannot start: a Secret, ConfigMap or key is missing
--   RolledBack                the new revision failed and was rolled back (the old one serves)
-- A canary that holds its share of the traffic (status.rollout.phase Paused) is Suspended: it
-- waits for its pause to end, or for a person to promote it.
-- Written for Lua 5.1 (Argo CD runs gopher-lua), so no goto, integer division or bit operators.
local terminalReasons = {
  InvalidSpec = true,
  ChildConflict = true,
  ApplyRefused = true,
  PodsRefused = true,
  ProgressDeadlineExceeded = true,
  ContainerConfigError = true,
  RolledBack = true,
}

local function findCondition(conditions, conditionType)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if type(condition) == "table" and condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason
  end
  return fallback
end

local hs = {}
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

local function waiting()
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = string.format("Waiting for the operator to observe generation %d", generation)
  else
    hs.message = "Waiting for the operator to report a status"
  end
  return hs
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  return waiting()
end
if generation ~= nil and status.observedGeneration < generation then
  return waiting()
end

local ready = findCondition(status.conditions, "Ready")
-- A Ready condition written for an older spec says nothing about the current one.
if ready ~= nil and generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  return waiting()
end

local stalled = findCondition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "The operator reports the ModelDeployment as stalled")
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the Ready condition"
  return hs
end

local rollout = status.rollout
if type(rollout) == "table" and rollout.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = rollout.message or "The canary is paused"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "The model is being served")
  return hs
end

if ready.status == "False" and terminalReasons[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready, "The ModelDeployment cannot become ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the model to become ready")
return hs
