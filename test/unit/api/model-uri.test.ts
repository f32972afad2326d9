// The one parser of model URIs, and its CEL twin in the CRD.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { carriesSecrets, parseModelUri } from '../../../operator/src/api/model-uri.ts';

const cases: Array<[string, string]> = [
  ['s3://bucket/fraud/v7', 'download s3'],
  ['gs://bucket/m', 'download gs'],
  ['https://models.example.com/iris/model.joblib', 'download https'],
  ['hf://meta-llama/Llama-3.1-8B-Instruct', 'download hf'],
  ['pvc://models', 'pvc models'],
  ['pvc://models/iris/v1/', 'pvc models iris/v1'],
  ['pvc://models/./iris', 'pvc models ./iris'],
  // Shrunk counterexamples of test/faults/dry-run.test.ts: the API server refuses such a subPath.
  ['pvc://a//0', 'refused path'],
  ['pvc://models/../other', 'refused path'],
  ['pvc://models/iris/..', 'refused path'],
  ['https://reader:hunter2@models.example.com/iris', 'refused credentials'],
  ['https://token@models.example.com/iris', 'refused credentials'],
  ['https://bucket.s3.amazonaws.com/m?X-Amz-Signature=abc', 'refused credentials'],
  ['s3://bucket/m#frag', 'refused credentials'],
  ['https://models.example.com/a@b/model', 'download https'],
  ['ftp://files.example.com/m', 'refused scheme'],
];

for (const [uri, want] of cases) {
  test(`${uri} → ${want}`, () => {
    const p = parseModelUri(uri);
    let got: string;
    if (!p.ok) got = p.message.startsWith('must not carry credentials') ? 'refused credentials' : p.message.includes('scheme') ? 'refused scheme' : p.message.includes('path inside the claim') ? 'refused path' : p.message;
    else if (p.source.kind === 'pvc') got = `pvc ${p.source.claimName}${p.source.subPath ? ` ${p.source.subPath}` : ''}`;
    else got = `download ${p.source.scheme}`;
    assert.equal(got, want);
    assert.equal(carriesSecrets(uri), want === 'refused credentials');
  });
}
