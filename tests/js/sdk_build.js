// Transactions built and signed by zetrix-sdk-nodejs, for tests/test_types_node.py.
// stdin: {"chain_id": n, "txs": [{"source": addr, "nonce": "1", "gas_price": "100",
//          "fee_limit": "1000000", "ceil_ledger_seq": "0"?, "metadata": str?,
//          "private_keys": [...], "operations": [{"op": "gasSendOperation", "args": {...}}]}]}
// stdout: [{"blob": hex, "signatures": [{"sign_data", "public_key"}], "sha256": hex} | {"error"}]
// The hash is node's own SHA-256 of the blob bytes, independent of the Python side.
'use strict';
const crypto = require('crypto');
const ZtxChainSDK = require('zetrix-sdk-nodejs');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const opts = { host: '127.0.0.1:1' };  // never contacted: building and signing are offline
if (input.chain_id) opts.chainId = input.chain_id;
const sdk = new ZtxChainSDK(opts);

const results = [];
for (const t of input.txs) {
  const operations = [];
  let error = null;
  for (const o of t.operations) {
    const r = sdk.operation[o.op](o.args);
    if (r.errorCode !== 0) { error = `${o.op}: ${r.errorCode} ${r.errorDesc}`; break; }
    operations.push(r.result.operation);
  }
  if (error) { results.push({ error }); continue; }
  const args = { sourceAddress: t.source, gasPrice: t.gas_price, feeLimit: t.fee_limit,
                 nonce: t.nonce, operations };
  if (t.ceil_ledger_seq) args.ceilLedgerSeq = t.ceil_ledger_seq;
  if (t.metadata) args.metadata = t.metadata;
  const blob = sdk.transaction.buildBlob(args);
  if (blob.errorCode !== 0) { results.push({ error: `buildBlob: ${blob.errorCode} ${blob.errorDesc}` }); continue; }
  const hex = blob.result.transactionBlob;
  const signed = sdk.transaction.sign({ privateKeys: t.private_keys, blob: hex });
  if (signed.errorCode !== 0) { results.push({ error: `sign: ${signed.errorCode} ${signed.errorDesc}` }); continue; }
  results.push({
    blob: hex,
    signatures: signed.result.signatures.map(s => ({ sign_data: s.signData, public_key: s.publicKey })),
    sha256: crypto.createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex'),
  });
}
process.stdout.write(JSON.stringify(results));
