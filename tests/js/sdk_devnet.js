// A wallet developer's session with the unmodified zetrix-sdk-nodejs against a live MBI
// devnet (tests/test_api_sdk.py). argv[2]: devnet.json. Every call must succeed and every
// value is checked; the first failure exits 1 with a message saying what differed.
// stdout (on success): one JSON line {"hashes": [...], "steps": [...]}.
'use strict';
const fs = require('fs');
const ZtxChainSDK = require('zetrix-sdk-nodejs');

const devnet = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const host = devnet.nodes[0].url.replace(/^http:\/\//, '');
const faucet = devnet.faucet;
const steps = [];
const hashes = [];

function fail(msg) { process.stderr.write(`sdk_devnet: ${msg}\n`); process.exit(1); }
function check(cond, msg) { if (!cond) fail(msg); }
function ok(r, what) {
  check(r && String(r.errorCode) === '0', `${what}: errorCode ${r && r.errorCode} ${r && r.errorDesc}`);
  return r.result;
}
const sleep = ms => new Promise(res => setTimeout(res, ms));
const big = x => BigInt(String(x));

async function main() {
  // chain id from /hello, as a client configures itself
  const hello = await (await fetch(`http://${host}/hello`)).json();
  const sdk = new ZtxChainSDK({ host, chainId: hello.chain_id });

  // 1. the node answers and has a ledger number
  const num = ok(await sdk.block.getNumber(), 'block.getNumber');
  check(big(num.header.blockNumber) >= 1n, `ledger number ${num.header.blockNumber}`);
  steps.push('getNumber');

  async function nonceOf(addr) {
    return big(ok(await sdk.account.getNonce(addr), `getNonce ${addr}`).nonce);
  }
  async function balanceOf(addr) {
    return big(ok(await sdk.account.getBalance(addr), `getBalance ${addr}`).balance);
  }
  async function send(src, key, operations, opts = {}) {
    const nonce = opts.nonce !== undefined ? opts.nonce : (await nonceOf(src)) + 1n;
    const blob = ok(sdk.transaction.buildBlob({
      sourceAddress: src, gasPrice: opts.gasPrice || '100', feeLimit: opts.feeLimit || '1000000',
      nonce: String(nonce), operations, metadata: opts.metadata,
    }), 'buildBlob').transactionBlob;
    const signed = ok(sdk.transaction.sign({ privateKeys: [key], blob }), 'sign');
    const sub = await sdk.transaction.submit({ signature: signed.signatures, blob });
    return { sub, blob, signatures: signed.signatures, nonce };
  }
  async function waitTx(hash) {
    for (let i = 0; i < 200; i++) {
      const r = await sdk.transaction.getInfo(hash);
      if (String(r.errorCode) === '0') {
        const t = r.result.transactions[0];
        check(t.hash === hash, `getInfo hash ${t.hash} != ${hash}`);
        check(String(t.error_code) === '0', `transaction ${hash} failed: ${t.error_code} ${t.error_desc}`);
        return t;
      }
      await sleep(100);
    }
    fail(`transaction ${hash} not executed within 20 s`);
  }
  async function sendOk(src, key, operations, what, opts) {
    const r = await send(src, key, operations, opts);
    const hash = ok(r.sub, `submit ${what}`).hash;
    hashes.push(hash);
    const t = await waitTx(hash);
    steps.push(what);
    return { t, r, hash };
  }

  // 2. two new accounts, activated from the faucet in one transaction with two operations
  const A = ok(await sdk.account.create(), 'account.create');
  const B = ok(await sdk.account.create(), 'account.create');
  const faucetBefore = await balanceOf(faucet.address);
  const act = [
    ok(sdk.operation.accountActivateOperation({ destAddress: A.address }), 'activate A').operation,
    ok(sdk.operation.accountActivateOperation({ destAddress: B.address }), 'activate B').operation,
  ];
  const created = await sendOk(faucet.address, faucet.private_key, act, 'activate two accounts');
  check(created.t.transaction.operations.length === 2, 'activation has two operations');
  const fee0 = big(created.t.actual_fee);
  check(fee0 > 0n, 'activation fee');
  // zetrix-sdk-nodejs 1.0.1's accountActivateOperation drops initBalance (its protobuf
  // message never sets init_balance), so activation creates empty accounts: fund them next
  const faucetAfter = await balanceOf(faucet.address);
  check(faucetAfter === faucetBefore - fee0, `faucet balance after activation: ${faucetBefore} -> ${faucetAfter}, fee ${fee0}`);
  check(await balanceOf(A.address) === 0n && await balanceOf(B.address) === 0n, 'new accounts start empty');
  const fund = [
    ok(sdk.operation.gasSendOperation({ destAddress: A.address, gasAmount: '30000000' }), 'fund A').operation,
    ok(sdk.operation.gasSendOperation({ destAddress: B.address, gasAmount: '20000000' }), 'fund B').operation,
  ];
  const funded = await sendOk(faucet.address, faucet.private_key, fund, 'fund both');
  check(await balanceOf(faucet.address) === faucetAfter - 50000000n - big(funded.t.actual_fee), 'faucet after funding');
  check(await balanceOf(A.address) === 30000000n, 'A balance after funding');
  check(await balanceOf(B.address) === 20000000n, 'B balance after funding');
  check(ok(await sdk.account.isActivated(A.address), 'isActivated').isActivated === true, 'A activated');

  // 3. pay coin A -> B; both balances to the unit, fee included
  const pay = ok(sdk.operation.gasSendOperation({ destAddress: B.address, gasAmount: '1234567' }), 'gasSend').operation;
  const paid = await sendOk(A.address, A.privateKey, [pay], 'pay coin');
  const fee1 = big(paid.t.actual_fee);
  // the documented fee: bytes of the TransactionEnv (field 1: the transaction; field 2: one
  // 144-byte Signature) x gas_price
  const txLen = paid.r.blob.length / 2;
  const envLen = 1 + (txLen < 128 ? 1 : 2) + txLen + 1 + 2 + 144;
  check(fee1 === big(envLen) * 100n, `pay fee ${fee1} is not ${envLen} envelope bytes x 100`);
  check(await balanceOf(A.address) === 30000000n - 1234567n - fee1, 'A balance after pay');
  check(await balanceOf(B.address) === 20000000n + 1234567n, 'B balance after pay');

  // 4. issue an asset and pay part of it to B, in one transaction
  const issue = ok(sdk.operation.assetIssueOperation({ code: 'MYR', assetAmount: '1000000' }), 'assetIssue').operation;
  const give = ok(sdk.operation.assetSendOperation({ destAddress: B.address, code: 'MYR', issuer: A.address,
                                                     assetAmount: '250000' }), 'assetSend').operation;
  await sendOk(A.address, A.privateKey, [issue, give], 'issue and pay asset');
  const aAssets = ok(await sdk.token.asset.getInfo({ address: A.address, code: 'MYR', issuer: A.address }), 'asset A').assets;
  check(aAssets.length === 1 && String(aAssets[0].amount) === '750000', `A holds ${JSON.stringify(aAssets)}`);
  const bAssets = ok(await sdk.token.asset.getInfo({ address: B.address, code: 'MYR', issuer: A.address }), 'asset B').assets;
  check(bAssets.length === 1 && String(bAssets[0].amount) === '250000', `B holds ${JSON.stringify(bAssets)}`);
  const allB = ok(await sdk.account.getAssets(B.address), 'getAssets').assets;
  check(allB.length === 1 && allB[0].key.code === 'MYR' && allB[0].key.issuer === A.address, 'B getAssets');

  // 5. set metadata and read it back
  const md = ok(sdk.operation.accountSetMetadataOperation({ key: 'kyc', value: 'level-2' }), 'setMetadata').operation;
  await sendOk(B.address, B.privateKey, [md], 'set metadata');
  const got = ok(await sdk.account.getMetadata({ address: B.address, key: 'kyc' }), 'getMetadata').metadata;
  check(got.key === 'kyc' && got.value === 'level-2' && String(got.version) === '1', `metadata ${JSON.stringify(got)}`);

  // 6. write a log
  const lg = ok(sdk.operation.logCreateOperation({ topic: 'audit', data: 'hello from the sdk' }), 'logCreate').operation;
  const logged = await sendOk(B.address, B.privateKey, [lg], 'log');
  const lop = logged.t.transaction.operations[0];
  check(String(lop.type) === '8' && lop.log.topic === 'audit' && lop.log.datas[0] === 'hello from the sdk', 'log op');

  // 7. list a ledger's transactions
  const seq = logged.t.ledger_seq;
  const inLedger = ok(await sdk.block.getTransactions(String(seq)), 'block.getTransactions');
  check(inLedger.transactions.some(t => t.hash === logged.hash), `ledger ${seq} lists the log transaction`);
  check(String(inLedger.total_count) === String(inLedger.transactions.length), 'total_count');

  // 8. fee estimate through testTransaction, then a transaction paying exactly that
  const payOp = ok(sdk.operation.gasSendOperation({ destAddress: A.address, gasAmount: '1000' }), 'gasSend').operation;
  const nonceB = (await nonceOf(B.address)) + 1n;
  const est = ok(await sdk.transaction.evaluateFee({ sourceAddress: B.address, nonce: String(nonceB),
                                                     operations: [payOp], signtureNumber: '1' }), 'evaluateFee');
  check(big(est.feeLimit) > 0n && String(est.gasPrice) === '100', `estimate ${JSON.stringify(est)}`);
  const bBefore = await balanceOf(B.address);
  const estimated = await sendOk(B.address, B.privateKey, [payOp], 'pay with the estimated fee',
                                 { nonce: nonceB, feeLimit: String(est.feeLimit), gasPrice: String(est.gasPrice) });
  check(big(estimated.t.actual_fee) === big(est.feeLimit), `charged ${estimated.t.actual_fee}, estimated ${est.feeLimit}`);
  check(await balanceOf(B.address) === bBefore - 1000n - big(est.feeLimit), 'B balance after the estimated payment');

  // 9. every transaction by hash, with its result
  for (const h of hashes) {
    const r = ok(await sdk.transaction.getInfo(h), `getInfo ${h}`);
    check(r.transactions[0].hash === h && String(r.transactions[0].error_code) === '0', `lookup ${h}`);
  }
  const missing = await sdk.transaction.getInfo('00'.repeat(32));
  check(String(missing.errorCode) !== '0', 'an unknown hash is not found');
  steps.push('lookup every hash');

  // 10. a replayed nonce is refused, and changes nothing
  const aBefore = await balanceOf(A.address);
  const replay = await send(A.address, A.privateKey, [pay], { nonce: paid.r.nonce });
  check(String(replay.sub.errorCode) === '99', `replayed nonce: errorCode ${replay.sub.errorCode} ${replay.sub.errorDesc}`);
  check(await balanceOf(A.address) === aBefore, 'a refused transaction costs nothing');
  steps.push('replayed nonce refused');

  // 11. sync status (a moment's lag behind a peer is honest "not synchronised": ask a few times)
  let synced = false;
  for (let i = 0; i < 50 && !synced; i++) {
    synced = ok(await sdk.block.checkStatus(), 'checkStatus').isSynchronous === true;
    if (!synced) await sleep(100);
  }
  check(synced, 'node reports synchronised');
  steps.push('checkStatus');

  process.stdout.write(JSON.stringify({ hashes, steps }) + '\n');
}

main().catch(e => fail(e && e.stack || String(e)));
