// Property-based, against the real API server: specs drawn from the schema that the operator
// accepts render children the API server accepts too (server-side apply with dryRun=All, as the
// operator's field manager). A failure is shrunk by fast-check to its smallest spec, which then
// belongs in test/unit/api/kubernetes-rules.test.ts as a table case.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { validateModelDeployment } from '../../operator/src/api/validate.ts';
import { FIELD_MANAGER, PatchStrategy } from '../../operator/src/kube/client.ts';
import { KubeApiError } from '../../operator/src/kube/errors.ts';
import { resourcePath } from '../../operator/src/kube/resources.ts';
import { defaultRenderConfig, renderChildren } from '../../operator/src/render/index.ts';
import { adminRest, installCrd, useNamespace } from '../integration/harness.ts';
import { modelDeployments } from '../unit/support/fuzz.ts';

const SAMPLES = Number(process.env.MODELSHIP_DRY_RUN_SAMPLES ?? 300);

interface Child {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

describe('fuzzed ModelDeployments on the API server', () => {
  before(() => installCrd());

  it(`renders children the API server accepts (server-side dry run) for ${SAMPLES} specs the operator accepts`, async (t) => {
    const ns = useNamespace(t, 'fuzz');
    const rest = adminRest();
    const dryRun = async (obj: Child): Promise<void> => {
      await rest.request('PATCH', resourcePath(obj.apiVersion, obj.kind, ns, obj.metadata.name), {
        query: { fieldManager: FIELD_MANAGER, force: true, dryRun: 'All' },
        body: { ...obj, metadata: { ...obj.metadata, namespace: ns } },
        contentType: PatchStrategy.ServerSideApply,
      });
    };
    let children = 0;
    const seed = Number(process.env.MODELSHIP_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const accepted = fc.oneof(modelDeployments(0), modelDeployments(2)).filter((md) => validateModelDeployment(structuredClone(md)).ok);
    const result = await fc.check(
      fc.asyncProperty(accepted, async (md) => {
        const v = validateModelDeployment(structuredClone(md));
        assert.ok(v.ok);
        for (const child of Object.values(renderChildren(v.value, defaultRenderConfig)) as Child[]) {
          try {
            await dryRun(child);
            children++;
          } catch (err) {
            const why = err instanceof KubeApiError ? `${err.statusCode} ${err.status?.message ?? err.message}` : String(err);
            throw new Error(`the API server refuses the ${child.kind}: ${why}`);
          }
        }
      }),
      { numRuns: SAMPLES, seed },
    );
    t.diagnostic(`seed ${seed}: ${result.numRuns} specs, ${children} children accepted by the API server`);
    assert.ok(!result.failed, result.failed ? `${fc.defaultReportMessage(result)}\n${String(result.errorInstance)}\n(reproduce with MODELSHIP_FUZZ_SEED=${seed})` : '');
  });
});
