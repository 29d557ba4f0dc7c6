"""The Zetrix-compatible HTTP API (docs/api.md): routes, batched ingress, proofs, `mbi tx`."""
