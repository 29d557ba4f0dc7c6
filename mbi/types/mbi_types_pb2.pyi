from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LedgerHeader(_message.Message):
    __slots__ = ("seq", "hash", "previous_hash", "account_tree_hash", "close_time", "consensus_value_hash", "version", "tx_count", "validators_hash", "fees_hash", "chain_id", "tx_root", "receipts_root", "account_count")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TREE_HASH_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_VALUE_HASH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TX_COUNT_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_HASH_FIELD_NUMBER: _ClassVar[int]
    FEES_HASH_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    TX_ROOT_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_ROOT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_COUNT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: bytes
    previous_hash: bytes
    account_tree_hash: bytes
    close_time: int
    consensus_value_hash: bytes
    version: int
    tx_count: int
    validators_hash: bytes
    fees_hash: bytes
    chain_id: int
    tx_root: bytes
    receipts_root: bytes
    account_count: int
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[bytes] = ..., previous_hash: _Optional[bytes] = ..., account_tree_hash: _Optional[bytes] = ..., close_time: _Optional[int] = ..., consensus_value_hash: _Optional[bytes] = ..., version: _Optional[int] = ..., tx_count: _Optional[int] = ..., validators_hash: _Optional[bytes] = ..., fees_hash: _Optional[bytes] = ..., chain_id: _Optional[int] = ..., tx_root: _Optional[bytes] = ..., receipts_root: _Optional[bytes] = ..., account_count: _Optional[int] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("hash", "error_code", "error_desc", "actual_fee", "index", "ledger_seq", "logs")
    HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESC_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FEE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEDGER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    error_code: int
    error_desc: str
    actual_fee: int
    index: int
    ledger_seq: int
    logs: _containers.RepeatedCompositeFieldContainer[LogEntry]
    def __init__(self, hash: _Optional[bytes] = ..., error_code: _Optional[int] = ..., error_desc: _Optional[str] = ..., actual_fee: _Optional[int] = ..., index: _Optional[int] = ..., ledger_seq: _Optional[int] = ..., logs: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("address", "topic", "datas")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    DATAS_FIELD_NUMBER: _ClassVar[int]
    address: str
    topic: str
    datas: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, address: _Optional[str] = ..., topic: _Optional[str] = ..., datas: _Optional[_Iterable[str]] = ...) -> None: ...

class FeeConfig(_message.Message):
    __slots__ = ("gas_price", "base_reserve")
    GAS_PRICE_FIELD_NUMBER: _ClassVar[int]
    BASE_RESERVE_FIELD_NUMBER: _ClassVar[int]
    gas_price: int
    base_reserve: int
    def __init__(self, gas_price: _Optional[int] = ..., base_reserve: _Optional[int] = ...) -> None: ...

class Validator(_message.Message):
    __slots__ = ("address", "public_key")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    address: str
    public_key: str
    def __init__(self, address: _Optional[str] = ..., public_key: _Optional[str] = ...) -> None: ...

class ValidatorSet(_message.Message):
    __slots__ = ("validators",)
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    validators: _containers.RepeatedCompositeFieldContainer[Validator]
    def __init__(self, validators: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ...) -> None: ...
