/* Strict scanner for the common Zetrix transaction (issue 13).
 *
 * Execution reads about twenty protobuf fields of every transaction; through upb's
 * Python objects each read costs ~100 ns. This walks the Transaction bytes once, in C,
 * and accepts only the shape every wallet sends for a payment:
 *
 *   Transaction { source_address=1, nonce=2, operations=4 (exactly one), fee_limit=6,
 *                 gas_price=7, ceil_ledger_seq=8, chain_id=9;
 *                 expr_condition=3 and metadata=5 only if empty }
 *   Operation   { type=1 == PAY_COIN (7), pay_coin=12;
 *                 source_address=2, metadata=3, expr_condition=4 only if empty }
 *   OperationPayCoin { dest_address=1, amount=2; input=3 only if empty }
 *
 * Anything else is refused (return 0), never guessed at: a field number or wire type
 * not listed, a field that occurs twice (protobuf would take the last scalar or merge
 * messages), a varint past 64 bits, a truncated field, a string that is not ASCII.
 * So whenever this accepts, protobuf's decoder gives the same values (it also accepts
 * these bytes, and repeated/merged/truncated forms never reach here); the Python caller
 * reads refused transactions the general way. Absent scalars are 0, absent strings
 * empty (proto3 defaults).
 */
#include "mbi_txscan.h"

#include <string.h>

/* Field bits for duplicate detection. */
enum { F_SRC = 1, F_NONCE = 2, F_EXPR = 4, F_OPS = 8, F_META = 16, F_FEE = 32, F_PRICE = 64,
       F_CEIL = 128, F_CHAIN = 256 };

/* int64 from its 64 wire bits (two's complement), without an implementation-defined cast. */
static int64_t as_int64(uint64_t v) {
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out) {
    uint64_t v = 0;
    size_t k = *i;
    for (int shift = 0; shift < 64; shift += 7) {
        if (k >= n) return 0;
        uint8_t c = p[k++];
        if (shift == 63 && c > 1) return 0; /* bits past 64 */
        v |= (uint64_t)(c & 0x7F) << shift;
        if (c < 0x80) {
            *i = k;
            *out = v;
            return 1;
        }
    }
    return 0; /* more than 10 bytes */
}

/* A length-delimited field's body: [*off, *off + *len) inside p[0..n). */
static int read_len(const uint8_t *p, size_t n, size_t *i, size_t *off, size_t *len) {
    uint64_t l;
    if (!read_varint(p, n, i, &l)) return 0;
    if (l > n - *i) return 0;
    *off = *i;
    *len = (size_t)l;
    *i += (size_t)l;
    return 1;
}

static int ascii(const uint8_t *p, size_t len) {
    for (size_t k = 0; k < len; k++)
        if (p[k] & 0x80) return 0;
    return 1;
}

static int scan_pay_coin(const uint8_t *p, size_t n, mbi_pay *out) {
    size_t i = 0;
    unsigned seen = 0;
    while (i < n) {
        uint64_t tag, v;
        size_t off, len;
        if (!read_varint(p, n, &i, &tag)) return 0;
        unsigned bit;
        switch (tag) {
        case (1 << 3) | 2: /* dest_address */
            bit = 1;
            if (!read_len(p, n, &i, &off, &len) || !ascii(p + off, len)) return 0;
            out->dest_off = off;
            out->dest_len = len;
            break;
        case (2 << 3) | 0: /* amount */
            bit = 2;
            if (!read_varint(p, n, &i, &v)) return 0;
            out->amount = as_int64(v);
            break;
        case (3 << 3) | 2: /* input: only empty */
            bit = 4;
            if (!read_len(p, n, &i, &off, &len) || len) return 0;
            break;
        default:
            return 0;
        }
        if (seen & bit) return 0;
        seen |= bit;
    }
    return 1;
}

static int scan_operation(const uint8_t *p, size_t n, mbi_pay *out) {
    size_t i = 0;
    unsigned seen = 0;
    int pay = 0;
    while (i < n) {
        uint64_t tag, v;
        size_t off, len;
        if (!read_varint(p, n, &i, &tag)) return 0;
        unsigned bit;
        switch (tag) {
        case (1 << 3) | 0: /* type */
            bit = 1;
            if (!read_varint(p, n, &i, &v) || v != 7) return 0;
            break;
        case (2 << 3) | 2: /* source_address: only empty */
        case (3 << 3) | 2: /* metadata: only empty */
        case (4 << 3) | 2: /* expr_condition: only empty */
            bit = 1u << (tag >> 3);
            if (!read_len(p, n, &i, &off, &len) || len) return 0;
            break;
        case (12 << 3) | 2: /* pay_coin */
            bit = 1u << 12;
            if (!read_len(p, n, &i, &off, &len) || !scan_pay_coin(p + off, len, out)) return 0;
            out->dest_off += off;
            pay = 1;
            break;
        default:
            return 0;
        }
        if (seen & bit) return 0;
        seen |= bit;
    }
    return pay && (seen & 1);
}

int mbi_scan_pay(const uint8_t *p, size_t n, mbi_pay *out) {
    size_t i = 0;
    unsigned seen = 0;
    memset(out, 0, sizeof *out);
    while (i < n) {
        uint64_t tag, v = 0;
        size_t off, len;
        if (!read_varint(p, n, &i, &tag)) return 0;
        unsigned bit;
        int64_t *dst = NULL;
        switch (tag) {
        case (1 << 3) | 2:
            bit = F_SRC;
            if (!read_len(p, n, &i, &off, &len) || !ascii(p + off, len)) return 0;
            out->src_off = off;
            out->src_len = len;
            break;
        case (3 << 3) | 2:
        case (5 << 3) | 2:
            bit = (tag >> 3) == 3 ? F_EXPR : F_META;
            if (!read_len(p, n, &i, &off, &len) || len) return 0;
            break;
        case (4 << 3) | 2:
            bit = F_OPS;
            if (!read_len(p, n, &i, &off, &len) || !scan_operation(p + off, len, out)) return 0;
            out->dest_off += off;
            break;
        case (2 << 3) | 0: bit = F_NONCE; dst = &out->nonce; break;
        case (6 << 3) | 0: bit = F_FEE; dst = &out->fee_limit; break;
        case (7 << 3) | 0: bit = F_PRICE; dst = &out->gas_price; break;
        case (8 << 3) | 0: bit = F_CEIL; dst = &out->ceil_ledger_seq; break;
        case (9 << 3) | 0: bit = F_CHAIN; dst = &out->chain_id; break;
        default:
            return 0;
        }
        if (dst) {
            if (!read_varint(p, n, &i, &v)) return 0;
            *dst = as_int64(v);
        }
        if (seen & bit) return 0;
        seen |= bit;
    }
    return (seen & F_OPS) != 0;
}
