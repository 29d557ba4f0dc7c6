# cython: language_level=3
"""The ledger's inline PAY_COIN loop, natively (issue 13; mbi/ledger/execute.py).

``run_pay_block`` is ``Executor.run_block``'s loop, statement for statement: for each
transaction it settles the common PAY_COIN (one PAY_COIN from the transaction's source,
one verified signature by the source's master key) when every check of precheck,
apply_operation and pay_coin passes, and hands every other transaction, untouched, to
``apply_tx`` (the generic path, which finds the failure with its code and message).
Only success is decided here, so a doubt is never a different verdict: anything this
code does not recognise exactly (another class, a missing slot, an int outside int64, a
non-str address) goes to ``apply_tx`` as well.

What it saves over the Python loop is the interpreter, not the work: the same dict
lookups, the same account copies, the same receipts. Account, SignedTransaction and
Receipt are ``__slots__`` classes; their slots are read and written at the offsets
their member descriptors give (``bind``), after an exact type check per object, and
new objects are allocated with their type's ``tp_alloc`` exactly as ``object.__new__``
does. Integers are checked in 128-bit arithmetic where the Python code relies on
unbounded ints (fee, amount + reserve, balances).
"""
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.long cimport PyLong_FromLongLong
from libc.stdint cimport int64_t

__all__ = ["bind", "run_pay_block"]


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char *name
        int type
        Py_ssize_t offset
        int flags
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member
    bint PyLong_CheckExact(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyTuple_CheckExact(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    PyObject *PyType_GenericAlloc(PyTypeObject *t, Py_ssize_t n)
    PyObject *Py_True
    Py_ssize_t PyTuple_GET_SIZE(object t)
    PyObject *PyTuple_GET_ITEM(object t, Py_ssize_t i)

cdef extern from *:
    """
    static int mbi_generic_alloc(PyObject *t) { return ((PyTypeObject *)t)->tp_alloc == PyType_GenericAlloc; }
    """
    int mbi_generic_alloc(PyObject *t)
    # 128-bit arithmetic for the checks Python makes on unbounded ints (GCC, Clang)
    ctypedef long long i128 "__int128"

cdef int T_OBJECT_EX = 16
cdef i128 I64_MAX = 0x7FFFFFFFFFFFFFFF

# Slot offsets, set by bind(): Account, SignedTransaction, Receipt.
cdef Py_ssize_t A_NONCE, A_BALANCE, A_MASTER, A_THR, A_TT
cdef Py_ssize_t S_ENV, S_HASH, S_TXB, S_PAY, S_SIGS, S_SIGOK
cdef Py_ssize_t R_HASH, R_INDEX, R_CODE, R_DESC, R_FEE, R_LOGS, R_APPLIED
cdef Py_ssize_t[32] A_ALL  # every Account slot, for the copy
cdef int A_N = 0
cdef object Account = None
cdef object SignedTx = None
cdef object Receipt = None
cdef object EMPTY = ""
cdef object NO_LOGS = ()
cdef object ZERO = 0


cdef Py_ssize_t _offset(object cls, str name) except -1:
    d = cls.__dict__.get(name)
    if d is None or type(d).__name__ != "member_descriptor":
        raise TypeError(f"{cls.__name__}.{name} is not a __slots__ member")
    cdef PyMemberDef *m = (<PyMemberDescrObject *><PyObject *>d).d_member
    if m.type != T_OBJECT_EX:
        raise TypeError(f"{cls.__name__}.{name} is not an object slot")
    return m.offset


def bind(account_cls, signed_tx_cls, receipt_cls):
    """Record the three classes and their slot offsets (the ledger calls this once).

    Raises TypeError when a class is not a plain ``__slots__`` class allocated by
    PyType_GenericAlloc (then the ledger keeps its Python loop); a refused binding
    leaves the previous one in place."""
    global A_NONCE, A_BALANCE, A_MASTER, A_THR, A_TT, S_ENV, S_HASH, S_TXB, S_PAY, S_SIGS, S_SIGOK
    global R_HASH, R_INDEX, R_CODE, R_DESC, R_FEE, R_LOGS, R_APPLIED, A_N, Account, SignedTx, Receipt
    for cls in (account_cls, signed_tx_cls, receipt_cls):
        if not isinstance(cls, type) or "__dict__" in cls.__dict__ or cls.__base__ is not object:
            raise TypeError(f"{cls!r} is not a __slots__ class deriving from object")
        if not mbi_generic_alloc(<PyObject *>cls):
            raise TypeError(f"{cls.__name__} has its own allocator")
    names = list(account_cls.__slots__)
    if len(names) > 32:
        raise TypeError("Account has more slots than this module copies")
    if set(receipt_cls.__slots__) != {"hash", "index", "error_code", "error_desc", "actual_fee", "logs", "applied"}:
        raise TypeError("Receipt's slots are not the ones this module sets")
    # every offset first (each may refuse), then the globals all at once
    offs = [_offset(account_cls, n) for n in names]
    a = [_offset(account_cls, n) for n in ("nonce", "balance", "master_weight", "tx_threshold", "type_thresholds")]
    t = [_offset(signed_tx_cls, n) for n in ("envelope", "hash", "tx_bytes", "pay", "signatures", "sig_ok")]
    r = [_offset(receipt_cls, n) for n in ("hash", "index", "error_code", "error_desc", "actual_fee", "logs",
                                           "applied")]
    A_NONCE, A_BALANCE, A_MASTER, A_THR, A_TT = a
    S_ENV, S_HASH, S_TXB, S_PAY, S_SIGS, S_SIGOK = t
    R_HASH, R_INDEX, R_CODE, R_DESC, R_FEE, R_LOGS, R_APPLIED = r
    for i, o in enumerate(offs):
        A_ALL[i] = o
    A_N = len(offs)
    Account, SignedTx, Receipt = account_cls, signed_tx_cls, receipt_cls


cdef inline PyObject *_get(object o, Py_ssize_t off):
    """A slot's value, borrowed; NULL when unset."""
    return (<PyObject **>((<char *><PyObject *>o) + off))[0]


cdef inline void _put(object o, Py_ssize_t off, object v):
    cdef PyObject **p = <PyObject **>((<char *><PyObject *>o) + off)
    cdef PyObject *old = p[0]
    Py_INCREF(v)
    p[0] = <PyObject *>v
    Py_XDECREF(old)


cdef inline bint _i64(PyObject *p, int64_t *out):
    """An exact int within int64 (bool and big ints are not: the caller falls back)."""
    cdef int ovf = 0
    if p == NULL or not PyLong_CheckExact(<object>p):
        return False
    cdef long long v = PyLong_AsLongLongAndOverflow(<object>p, &ovf)
    if ovf:
        return False
    out[0] = v
    return True


cdef object _alloc(object cls):
    """A new instance with every slot unset, as object.__new__(cls) makes it."""
    cdef PyObject *p = PyType_GenericAlloc(<PyTypeObject *>cls, 0)
    if p == NULL:
        raise MemoryError()
    cdef object o = <object>p
    Py_XDECREF(p)
    return o


cdef object _clone(object a):
    """Account.clone(): a new Account with every slot shared (dict fields are
    copy-on-write)."""
    cdef object c = _alloc(Account)
    cdef int i
    cdef PyObject *v
    for i in range(A_N):
        v = _get(a, A_ALL[i])
        if v != NULL:
            _put(c, A_ALL[i], <object>v)
    return c


cdef object _receipt(object h, Py_ssize_t index, int64_t fee):
    cdef object r = _alloc(Receipt)
    _put(r, R_HASH, h)
    _put(r, R_INDEX, index)
    _put(r, R_CODE, ZERO)
    _put(r, R_DESC, EMPTY)
    _put(r, R_FEE, PyLong_FromLongLong(fee))
    _put(r, R_LOGS, NO_LOGS)
    _put(r, R_APPLIED, True)
    return r


cdef inline object _account_or_none(PyObject *p):
    """An overlay / state value that is exactly an Account, else None (then the caller
    falls back; a subclass may lay its slots out differently)."""
    if p == NULL:
        return None
    o = <object>p
    if type(o) is not Account:
        return None
    return o


cdef bint _addr_valid(dict memo, object is_address, object a) except -1:
    """`addr_ok.get(a) or is_address(a)`, truthiness as the Python `or` takes it."""
    cdef PyObject *v = PyDict_GetItem(memo, a)
    if v != NULL and <object>v:
        return True
    return bool(is_address(a))


cdef inline bint _can_receive(object acct, int64_t amount, int64_t *bal):
    """An exact Account whose int64 balance can take ``amount`` (sets ``bal``)."""
    return (type(acct) is Account and _i64(_get(acct, A_BALANCE), bal)
            and <i128>bal[0] + amount <= I64_MAX)


cdef inline object _base(object base_map, object base_get, object key):
    """The committed account at ``key`` or None: one dict read when the state's getter
    is a dict's own ``get`` (LedgerState's), else a call of the getter."""
    cdef PyObject *p
    if base_map is not None:
        p = PyDict_GetItem(base_map, key)
        return <object>p if p != NULL else None
    return base_get(key)


def run_pay_block(list transactions, dict overlay, object base_get, object create, object apply_tx,
                  object scan, dict addr_ok, object is_address, int64_t chain_id, int64_t ledger_seq,
                  int64_t min_price, int64_t reserve, int64_t op_gas, int64_t max_env):
    """(receipts, fees of the transactions settled here); see the module doc.

    ``base_get`` reads the committed state (Executor._base_get; when it is a dict's bound
    ``get``, that dict is read directly), ``create`` makes a new
    account in the overlay (Executor.create), ``apply_tx(stx, index)`` is the generic
    path (it adds its own fees to the executor), ``scan`` is core_ext.txscan.scan_pay."""
    if Account is None:
        raise RuntimeError("core_ext.execpay.bind() has not been called")
    cdef object base_map = None
    if type(base_get) is type({}.get) and type(getattr(base_get, "__self__", None)) is dict \
            and base_get.__name__ == "get":
        base_map = base_get.__self__
    cdef list out = []
    cdef Py_ssize_t index = -1
    cdef i128 fees = 0
    cdef i128 fee
    cdef int64_t nonce = 0, fee_limit = 0, gas_price = 0, ceil = 0, tx_chain = 0, amount = 0
    cdef int64_t a_nonce = 0, a_bal = 0, a_master = 0, a_thr = 0, d_bal = 0, size = 0
    cdef PyObject *p
    cdef object stx, sc, src, dest, sigs, sig0, acct, d, base, w, tt, new
    for stx in transactions:
        index += 1
        if (index & 2047) == 2047:
            # Let other threads in now and then, as the interpreter's switch interval does for
            # the Python loop: a 10,000-transaction block would otherwise hold the GIL from
            # start to end (the node's event loop is one of the threads waiting).
            with nogil:
                pass
        if type(stx) is not SignedTx:
            out.append(apply_tx(stx, index))
            continue
        p = _get(stx, S_PAY)
        if p == NULL or _get(stx, S_HASH) == NULL:
            out.append(apply_tx(stx, index))
            continue
        sc = <object>p
        if sc is None:
            p = _get(stx, S_TXB)
            if p == NULL:
                out.append(apply_tx(stx, index))
                continue
            sc = scan(<object>p)
        if sc is None or not PyTuple_CheckExact(sc) or PyTuple_GET_SIZE(sc) != 8:
            out.append(apply_tx(stx, index))
            continue
        src = <object>PyTuple_GET_ITEM(sc, 0)
        dest = <object>PyTuple_GET_ITEM(sc, 6)
        if (not PyUnicode_CheckExact(src) or not PyUnicode_CheckExact(dest)
                or not _i64(PyTuple_GET_ITEM(sc, 1), &nonce) or not _i64(PyTuple_GET_ITEM(sc, 2), &fee_limit)
                or not _i64(PyTuple_GET_ITEM(sc, 3), &gas_price) or not _i64(PyTuple_GET_ITEM(sc, 4), &ceil)
                or not _i64(PyTuple_GET_ITEM(sc, 5), &tx_chain) or not _i64(PyTuple_GET_ITEM(sc, 7), &amount)):
            out.append(apply_tx(stx, index))
            continue
        # -- precheck, passing case only ---------------------------------------------
        p = PyDict_GetItem(overlay, src)
        if p == NULL:
            base = _base(base_map, base_get, src)
            acct = base if type(base) is Account else None
        else:
            acct = _account_or_none(p)
        p = _get(stx, S_SIGS)
        sigs = <object>p if p != NULL else None
        if (acct is None or sigs is None or not PyTuple_CheckExact(sigs) or PyTuple_GET_SIZE(sigs) != 1
                or _get(stx, S_SIGOK) != Py_True):
            out.append(apply_tx(stx, index))
            continue
        sig0 = <object>PyTuple_GET_ITEM(sigs, 0)
        if not PyTuple_CheckExact(sig0) or PyTuple_GET_SIZE(sig0) < 3 or \
                not PyUnicode_CheckExact(<object>PyTuple_GET_ITEM(sig0, 2)) or \
                <object>PyTuple_GET_ITEM(sig0, 2) != src:
            out.append(apply_tx(stx, index))
            continue
        if (not _i64(_get(acct, A_NONCE), &a_nonce) or <i128>nonce != <i128>a_nonce + 1 or tx_chain != chain_id
                or not _i64(_get(acct, A_THR), &a_thr) or not _i64(_get(acct, A_BALANCE), &a_bal)
                or not _i64(_get(acct, A_MASTER), &a_master)):
            out.append(apply_tx(stx, index))
            continue
        p = _get(stx, S_ENV)
        if p == NULL or type(<object>p) is not bytes:
            out.append(apply_tx(stx, index))
            continue
        size = len(<bytes>p)
        fee = (<i128>size + op_gas) * gas_price
        p = _get(acct, A_TT)
        if p == NULL:
            out.append(apply_tx(stx, index))
            continue
        tt = <object>p
        if (size >= max_env or (ceil != 0 and ceil < ledger_seq) or gas_price < min_price
                or tt or a_master < (a_thr if a_thr > 1 else 1)
                or amount < 0 or dest == src or fee > I64_MAX or fee_limit < fee
                or <i128>amount + reserve > I64_MAX or <i128>a_bal - fee_limit < <i128>amount + reserve
                or not _addr_valid(addr_ok, is_address, src)
                or not _addr_valid(addr_ok, is_address, dest)):
            out.append(apply_tx(stx, index))
            continue
        # -- pay_coin: the dest ----------------------------------------------------------
        p = PyDict_GetItem(overlay, dest)
        if p == NULL:
            base = _base(base_map, base_get, dest)
            if base is None:
                d = None
                if amount < reserve:
                    out.append(apply_tx(stx, index))
                    continue
            else:
                if not _can_receive(base, amount, &d_bal):
                    out.append(apply_tx(stx, index))
                    continue
                d = _clone(base)
                PyDict_SetItem(overlay, dest, d)
        else:
            d = <object>p
            if not _can_receive(d, amount, &d_bal):
                out.append(apply_tx(stx, index))
                continue
        # -- every check passed: nonce, fee (fee_limit taken, the rest refunded), pay
        p = PyDict_GetItem(overlay, src)
        if p == NULL:
            w = _clone(acct)
            PyDict_SetItem(overlay, src, w)
        else:
            w = <object>p
        _put(w, A_NONCE, <object>PyTuple_GET_ITEM(sc, 1))  # acct.nonce + 1, checked above
        _put(w, A_BALANCE, PyLong_FromLongLong(<int64_t>(<i128>a_bal - amount - fee)))
        if d is None:
            new = create(dest)
            new.balance = <object>PyTuple_GET_ITEM(sc, 7)
        else:
            _put(d, A_BALANCE, PyLong_FromLongLong(<int64_t>(<i128>d_bal + amount)))
        fees += fee
        p = _get(stx, S_HASH)  # checked set above; the Python loop reads it here too
        if p == NULL:
            raise AttributeError("'SignedTransaction' object has no attribute 'hash'")
        out.append(_receipt(<object>p, index, <int64_t>fee))
    return out, (int(<int64_t>(fees >> 63)) << 63) + int(<int64_t>(fees & I64_MAX))
