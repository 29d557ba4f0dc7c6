# Integer arguments given as Python sequences (included by core_ext.hashing and
# core_ext.merkle). np.asarray(seq, dtype=np.int64) would cast: 0.7 -> 0, "3" -> 3,
# True -> 1. Here only ints and numpy integer scalars are taken (bools are not ints here).

cdef inline bint _is_int(object x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


cdef object _int64_seq(object seq, str name):
    """A new int64 ndarray holding the elements of list/tuple ``seq``, or TypeError
    (an element that is not an int) / ValueError (outside the int64 range)."""
    cdef Py_ssize_t i, n = len(seq)
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] v = out
    for i in range(n):
        x = seq[i]
        if not _is_int(x):
            raise TypeError(f"{name} must be a sequence of ints: {name}[{i}] is "
                            f"{type(x).__name__}")
        if not -0x8000000000000000 <= x <= 0x7FFFFFFFFFFFFFFF:
            raise ValueError(f"{name}[{i}] = {x} is outside the int64 range")
        v[i] = x
    return out
