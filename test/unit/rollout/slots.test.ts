// shapeSlot copies only what it changes of the rendered Deployment: the base it is given (shared
// by every slot of a pass) must come out as it went in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateModelDeployment, type ValidModelDeployment } from '../../../operator/src/api/validate.ts';
import { freezeForCache, StringPool } from '../../../operator/src/kube/types.ts';
import { defaultRenderConfig, renderChildren } from '../../../operator/src/render/index.ts';
import { REVISION_ANNOTATION, ROLE_LABEL, SLOT_LABEL, shapeSlot } from '../../../operator/src/rollout/slots.ts';
import { mdep } from '../api/fixtures.ts';

test('shapeSlot leaves the base Deployment as it was, and shapes the slot', () => {
  const r = validateModelDeployment(mdep({ replicas: 2 }));
  assert.ok(r.ok);
  const base = renderChildren(r.value as ValidModelDeployment, defaultRenderConfig).deployment;
  const before = structuredClone(base);
  freezeForCache(base, new StringPool());

  const canary = shapeSlot(base, { name: 'demo-b', slot: 'b', role: 'canary', revision: 'r2', replicas: undefined });
  const stable = shapeSlot(base, { name: 'demo', role: 'stable', revision: 'r1', replicas: 3 });
  assert.deepEqual(base, before);

  assert.equal(canary.metadata?.name, 'demo-b');
  assert.equal(canary.metadata?.labels?.[ROLE_LABEL], 'canary');
  assert.equal(canary.metadata?.annotations?.[REVISION_ANNOTATION], 'r2');
  assert.equal(canary.spec?.selector.matchLabels?.[SLOT_LABEL], 'b');
  assert.equal(canary.spec?.template.metadata?.labels?.[SLOT_LABEL], 'b');
  assert.equal(canary.spec?.replicas, undefined);
  assert.deepEqual(canary.spec?.template.spec, base.spec?.template.spec);

  assert.equal(stable.metadata?.name, 'demo');
  assert.equal(stable.spec?.replicas, 3);
  assert.equal(stable.spec?.selector.matchLabels?.[SLOT_LABEL], undefined);
  assert.equal(stable.spec?.template.metadata?.labels?.[SLOT_LABEL], undefined);
});
