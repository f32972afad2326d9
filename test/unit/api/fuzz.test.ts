// Property-based: ModelDeployment specs drawn from the schema itself (valid and invalid), through
// validate → render, as the reconcile runs them. Never a throw; each spec is either refused with
// messages that name a field, or rendered into children that never ask for privileges: no
// privileged container, no host namespace, no hostPath, no capability added. (Whether the API
// server accepts the rendered children is test/faults/dry-run.test.ts.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { modelDeployments, outcome, privileges } from '../support/fuzz.ts';

const FUZZ_RUNS = Number(process.env.MODELSHIP_FUZZ_RUNS ?? 10_000);

describe('fuzzed ModelDeployments (fast-check, from the schema)', () => {
  it(`validate → render never throws on ${FUZZ_RUNS} specs; refusals name a field; nothing rendered asks for a privilege`, (t) => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(modelDeployments(0), modelDeployments(2)), (md) => {
        const r = outcome(structuredClone(md));
        if (r.children) {
          accepted++;
          assert.deepEqual(privileges(r.children), [], 'a rendered child asks for a privilege');
        } else refused++;
      }),
      { numRuns: FUZZ_RUNS },
    );
    t.diagnostic(`${accepted} rendered, ${refused} refused`);
    // Both sides must be exercised, or the property proves little.
    assert.ok(accepted >= FUZZ_RUNS / 10, `only ${accepted} of ${FUZZ_RUNS} specs were valid`);
    assert.ok(refused >= FUZZ_RUNS / 10, `only ${refused} of ${FUZZ_RUNS} specs were invalid`);
  });

  it('finds a privilege where there is one (the checker can fail)', () => {
    assert.deepEqual(privileges({ spec: { template: { spec: { hostNetwork: true, containers: [{ securityContext: { capabilities: { add: ['NET_ADMIN'] } } }], volumes: [{ hostPath: { path: '/' } }] } } } }), [
      '.spec.template.spec.hostNetwork',
      '.spec.template.spec.containers[0].securityContext.capabilities.add',
      '.spec.template.spec.volumes[0].hostPath',
    ]);
  });
});
