# cython: language_level=3
"""The common transaction's fields in one native pass (issue 13; see docs/ledger.md).

``scan_pay(tx_bytes)`` reads a serialized ``protocol.Transaction`` that is exactly one
PAY_COIN from the transaction's source, with no metadata, condition or contract input,
and returns ``(source_address, nonce, fee_limit, gas_price, ceil_ledger_seq, chain_id,
dest_address, amount)``, the values protobuf's decoder gives for the same bytes. For any
other transaction, or any encoding it does not take (a repeated or unknown field, a
non-ASCII string...), it returns None and the caller reads the decoded message instead.
The grammar is in core_ext/src/txscan/txscan.c.
"""
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdint cimport int64_t, uint8_t

__all__ = ["scan_pay"]


cdef extern from "mbi_txscan.h":
    ctypedef struct mbi_pay:
        int64_t nonce, fee_limit, gas_price, ceil_ledger_seq, chain_id, amount
        size_t src_off, src_len, dest_off, dest_len
    int mbi_scan_pay(const uint8_t *buf, size_t n, mbi_pay *out) nogil


def scan_pay(bytes tx_bytes not None):
    """(source, nonce, fee_limit, gas_price, ceil_ledger_seq, chain_id, dest, amount), or
    None when ``tx_bytes`` is not the common PAY_COIN transaction (see the module doc)."""
    cdef mbi_pay p
    cdef const char *buf = tx_bytes
    if not mbi_scan_pay(<const uint8_t *>buf, len(tx_bytes), &p):
        return None
    return (PyUnicode_DecodeASCII(buf + p.src_off, p.src_len, NULL), p.nonce, p.fee_limit, p.gas_price,
            p.ceil_ledger_seq, p.chain_id, PyUnicode_DecodeASCII(buf + p.dest_off, p.dest_len, NULL), p.amount)
