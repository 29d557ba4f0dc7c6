// Key/address ground truth from zetrix-encryption-nodejs, for tests/test_crypto_node.py.
// stdin: {"generate": n, "private_keys": [...], "public_keys": [...], "addresses": [...],
//         "sign": [{"private_key": ..., "message_hex": ...}]}
// stdout: JSON with what the package produces and accepts for each input.
'use strict';
const { keypair, signature } = require('zetrix-encryption-nodejs');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = { generated: [], derived: [], public_key_valid: [], address_valid: [], signatures: [] };

for (let i = 0; i < (input.generate || 0); i++) {
  const kp = keypair.getKeyPair();
  out.generated.push({
    private_key: kp.encPrivateKey,
    public_key: kp.encPublicKey,
    address: kp.address,
    private_key_valid: keypair.checkEncPrivateKey(kp.encPrivateKey),
  });
}
for (const priv of input.private_keys || []) {
  let pub = null, addr = null, ok = keypair.checkEncPrivateKey(priv);
  if (ok) {
    pub = keypair.getEncPublicKey(priv);
    addr = keypair.getAddress(pub);
  }
  out.derived.push({ private_key: priv, valid: ok, public_key: pub, address: addr });
}
for (const pub of input.public_keys || []) out.public_key_valid.push(keypair.checkEncPublicKey(pub));
for (const a of input.addresses || []) out.address_valid.push(keypair.checkAddress(a));
for (const s of input.sign || []) {
  out.signatures.push(signature.sign(Buffer.from(s.message_hex, 'hex'), s.private_key));
}
process.stdout.write(JSON.stringify(out));
