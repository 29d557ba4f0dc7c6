/* Strict scanner for the common Zetrix transaction: one PAY_COIN (see txscan.c). */
#ifndef MBI_TXSCAN_H
#define MBI_TXSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t nonce, fee_limit, gas_price, ceil_ledger_seq, chain_id, amount;
    size_t src_off, src_len;   /* Transaction.source_address, within the buffer */
    size_t dest_off, dest_len; /* Operation.pay_coin.dest_address */
} mbi_pay;

/* 1 when buf is a protocol.Transaction of exactly the common shape, with *out filled;
 * 0 for anything else (the caller then reads the message the general way). */
int mbi_scan_pay(const uint8_t *buf, size_t n, mbi_pay *out);

#endif
