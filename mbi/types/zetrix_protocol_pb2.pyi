from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Limit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[Limit]
    SIGNATURE: _ClassVar[Limit]

class ERRORCODE(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERRCODE_SUCCESS: _ClassVar[ERRORCODE]
    ERRCODE_INTERNAL_ERROR: _ClassVar[ERRORCODE]
    ERRCODE_INVALID_PARAMETER: _ClassVar[ERRORCODE]
    ERRCODE_ALREADY_EXIST: _ClassVar[ERRORCODE]
    ERRCODE_NOT_EXIST: _ClassVar[ERRORCODE]
    ERRCODE_TX_TIMEOUT: _ClassVar[ERRORCODE]
    ERRCODE_ACCESS_DENIED: _ClassVar[ERRORCODE]
    ERRCODE_MATH_OVERFLOW: _ClassVar[ERRORCODE]
    ERRCODE_EXPR_CONDITION_RESULT_FALSE: _ClassVar[ERRORCODE]
    ERRCODE_EXPR_CONDITION_SYNTAX_ERROR: _ClassVar[ERRORCODE]
    ERRCODE_INVALID_PUBKEY: _ClassVar[ERRORCODE]
    ERRCODE_INVALID_PRIKEY: _ClassVar[ERRORCODE]
    ERRCODE_ASSET_INVALID: _ClassVar[ERRORCODE]
    ERRCODE_INVALID_SIGNATURE: _ClassVar[ERRORCODE]
    ERRCODE_INVALID_ADDRESS: _ClassVar[ERRORCODE]
    ERRCODE_MISSING_OPERATIONS: _ClassVar[ERRORCODE]
    ERRCODE_TOO_MANY_OPERATIONS: _ClassVar[ERRORCODE]
    ERRCODE_BAD_SEQUENCE: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_LOW_RESERVE: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_SOURCEDEST_EQUAL: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_DEST_EXIST: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_NOT_EXIST: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_ASSET_LOW_RESERVE: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_ASSET_AMOUNT_TOO_LARGE: _ClassVar[ERRORCODE]
    ERRCODE_ACCOUNT_INIT_LOW_RESERVE: _ClassVar[ERRORCODE]
    ERRCODE_FEE_NOT_ENOUGH: _ClassVar[ERRORCODE]
    ERRCODE_FEE_INVALID: _ClassVar[ERRORCODE]
    ERRCODE_OUT_OF_TXCACHE: _ClassVar[ERRORCODE]
    ERRCODE_WEIGHT_NOT_VALID: _ClassVar[ERRORCODE]
    ERRCODE_THRESHOLD_NOT_VALID: _ClassVar[ERRORCODE]
    ERRCODE_INVALID_DATAVERSION: _ClassVar[ERRORCODE]
    ERRCODE_TX_SIZE_TOO_BIG: _ClassVar[ERRORCODE]
    ERRCODE_CONTRACT_EXECUTE_FAIL: _ClassVar[ERRORCODE]
    ERRCODE_CONTRACT_SYNTAX_ERROR: _ClassVar[ERRORCODE]
    ERRCODE_CONTRACT_TOO_MANY_RECURSION: _ClassVar[ERRORCODE]
    ERRCODE_CONTRACT_TOO_MANY_TRANSACTIONS: _ClassVar[ERRORCODE]
    ERRCODE_CONTRACT_EXECUTE_EXPIRED: _ClassVar[ERRORCODE]
    ERRCODE_TX_INSERT_QUEUE_FAIL: _ClassVar[ERRORCODE]
UNKNOWN: Limit
SIGNATURE: Limit
ERRCODE_SUCCESS: ERRORCODE
ERRCODE_INTERNAL_ERROR: ERRORCODE
ERRCODE_INVALID_PARAMETER: ERRORCODE
ERRCODE_ALREADY_EXIST: ERRORCODE
ERRCODE_NOT_EXIST: ERRORCODE
ERRCODE_TX_TIMEOUT: ERRORCODE
ERRCODE_ACCESS_DENIED: ERRORCODE
ERRCODE_MATH_OVERFLOW: ERRORCODE
ERRCODE_EXPR_CONDITION_RESULT_FALSE: ERRORCODE
ERRCODE_EXPR_CONDITION_SYNTAX_ERROR: ERRORCODE
ERRCODE_INVALID_PUBKEY: ERRORCODE
ERRCODE_INVALID_PRIKEY: ERRORCODE
ERRCODE_ASSET_INVALID: ERRORCODE
ERRCODE_INVALID_SIGNATURE: ERRORCODE
ERRCODE_INVALID_ADDRESS: ERRORCODE
ERRCODE_MISSING_OPERATIONS: ERRORCODE
ERRCODE_TOO_MANY_OPERATIONS: ERRORCODE
ERRCODE_BAD_SEQUENCE: ERRORCODE
ERRCODE_ACCOUNT_LOW_RESERVE: ERRORCODE
ERRCODE_ACCOUNT_SOURCEDEST_EQUAL: ERRORCODE
ERRCODE_ACCOUNT_DEST_EXIST: ERRORCODE
ERRCODE_ACCOUNT_NOT_EXIST: ERRORCODE
ERRCODE_ACCOUNT_ASSET_LOW_RESERVE: ERRORCODE
ERRCODE_ACCOUNT_ASSET_AMOUNT_TOO_LARGE: ERRORCODE
ERRCODE_ACCOUNT_INIT_LOW_RESERVE: ERRORCODE
ERRCODE_FEE_NOT_ENOUGH: ERRORCODE
ERRCODE_FEE_INVALID: ERRORCODE
ERRCODE_OUT_OF_TXCACHE: ERRORCODE
ERRCODE_WEIGHT_NOT_VALID: ERRORCODE
ERRCODE_THRESHOLD_NOT_VALID: ERRORCODE
ERRCODE_INVALID_DATAVERSION: ERRORCODE
ERRCODE_TX_SIZE_TOO_BIG: ERRORCODE
ERRCODE_CONTRACT_EXECUTE_FAIL: ERRORCODE
ERRCODE_CONTRACT_SYNTAX_ERROR: ERRORCODE
ERRCODE_CONTRACT_TOO_MANY_RECURSION: ERRORCODE
ERRCODE_CONTRACT_TOO_MANY_TRANSACTIONS: ERRORCODE
ERRCODE_CONTRACT_EXECUTE_EXPIRED: ERRORCODE
ERRCODE_TX_INSERT_QUEUE_FAIL: ERRORCODE

class Account(_message.Message):
    __slots__ = ("address", "nonce", "priv", "metadatas_hash", "assets_hash", "contract", "balance")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    PRIV_FIELD_NUMBER: _ClassVar[int]
    METADATAS_HASH_FIELD_NUMBER: _ClassVar[int]
    ASSETS_HASH_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    address: str
    nonce: int
    priv: AccountPrivilege
    metadatas_hash: bytes
    assets_hash: bytes
    contract: Contract
    balance: int
    def __init__(self, address: _Optional[str] = ..., nonce: _Optional[int] = ..., priv: _Optional[_Union[AccountPrivilege, _Mapping]] = ..., metadatas_hash: _Optional[bytes] = ..., assets_hash: _Optional[bytes] = ..., contract: _Optional[_Union[Contract, _Mapping]] = ..., balance: _Optional[int] = ...) -> None: ...

class AssetKey(_message.Message):
    __slots__ = ("issuer", "code", "type")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    code: str
    type: int
    def __init__(self, issuer: _Optional[str] = ..., code: _Optional[str] = ..., type: _Optional[int] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("key", "amount")
    KEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    key: AssetKey
    amount: int
    def __init__(self, key: _Optional[_Union[AssetKey, _Mapping]] = ..., amount: _Optional[int] = ...) -> None: ...

class AssetStore(_message.Message):
    __slots__ = ("key", "amount")
    KEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    key: AssetKey
    amount: int
    def __init__(self, key: _Optional[_Union[AssetKey, _Mapping]] = ..., amount: _Optional[int] = ...) -> None: ...

class LedgerHeader(_message.Message):
    __slots__ = ("seq", "hash", "previous_hash", "account_tree_hash", "close_time", "consensus_value_hash", "version", "tx_count", "validators_hash", "reserve", "fees_hash", "chain_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TREE_HASH_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_VALUE_HASH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TX_COUNT_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_HASH_FIELD_NUMBER: _ClassVar[int]
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    FEES_HASH_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: bytes
    previous_hash: bytes
    account_tree_hash: bytes
    close_time: int
    consensus_value_hash: bytes
    version: int
    tx_count: int
    validators_hash: bytes
    reserve: str
    fees_hash: bytes
    chain_id: int
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[bytes] = ..., previous_hash: _Optional[bytes] = ..., account_tree_hash: _Optional[bytes] = ..., close_time: _Optional[int] = ..., consensus_value_hash: _Optional[bytes] = ..., version: _Optional[int] = ..., tx_count: _Optional[int] = ..., validators_hash: _Optional[bytes] = ..., reserve: _Optional[str] = ..., fees_hash: _Optional[bytes] = ..., chain_id: _Optional[int] = ...) -> None: ...

class Ledger(_message.Message):
    __slots__ = ("header", "transaction_envs")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ENVS_FIELD_NUMBER: _ClassVar[int]
    header: LedgerHeader
    transaction_envs: _containers.RepeatedCompositeFieldContainer[TransactionEnv]
    def __init__(self, header: _Optional[_Union[LedgerHeader, _Mapping]] = ..., transaction_envs: _Optional[_Iterable[_Union[TransactionEnv, _Mapping]]] = ...) -> None: ...

class OperationPayAsset(_message.Message):
    __slots__ = ("dest_address", "asset", "input")
    DEST_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    dest_address: str
    asset: Asset
    input: str
    def __init__(self, dest_address: _Optional[str] = ..., asset: _Optional[_Union[Asset, _Mapping]] = ..., input: _Optional[str] = ...) -> None: ...

class OperationTypeThreshold(_message.Message):
    __slots__ = ("type", "threshold")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    type: Operation.Type
    threshold: int
    def __init__(self, type: _Optional[_Union[Operation.Type, str]] = ..., threshold: _Optional[int] = ...) -> None: ...

class AccountPrivilege(_message.Message):
    __slots__ = ("master_weight", "signers", "thresholds")
    MASTER_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    master_weight: int
    signers: _containers.RepeatedCompositeFieldContainer[Signer]
    thresholds: AccountThreshold
    def __init__(self, master_weight: _Optional[int] = ..., signers: _Optional[_Iterable[_Union[Signer, _Mapping]]] = ..., thresholds: _Optional[_Union[AccountThreshold, _Mapping]] = ...) -> None: ...

class AccountThreshold(_message.Message):
    __slots__ = ("tx_threshold", "type_thresholds")
    TX_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TYPE_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    tx_threshold: int
    type_thresholds: _containers.RepeatedCompositeFieldContainer[OperationTypeThreshold]
    def __init__(self, tx_threshold: _Optional[int] = ..., type_thresholds: _Optional[_Iterable[_Union[OperationTypeThreshold, _Mapping]]] = ...) -> None: ...

class OperationIssueAsset(_message.Message):
    __slots__ = ("code", "amount")
    CODE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    code: str
    amount: int
    def __init__(self, code: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class OperationPayCoin(_message.Message):
    __slots__ = ("dest_address", "amount", "input")
    DEST_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    dest_address: str
    amount: int
    input: str
    def __init__(self, dest_address: _Optional[str] = ..., amount: _Optional[int] = ..., input: _Optional[str] = ...) -> None: ...

class OperationSetSignerWeight(_message.Message):
    __slots__ = ("master_weight", "signers")
    MASTER_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    master_weight: int
    signers: _containers.RepeatedCompositeFieldContainer[Signer]
    def __init__(self, master_weight: _Optional[int] = ..., signers: _Optional[_Iterable[_Union[Signer, _Mapping]]] = ...) -> None: ...

class OperationLog(_message.Message):
    __slots__ = ("topic", "datas")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    DATAS_FIELD_NUMBER: _ClassVar[int]
    topic: str
    datas: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, topic: _Optional[str] = ..., datas: _Optional[_Iterable[str]] = ...) -> None: ...

class OperationSetPrivilege(_message.Message):
    __slots__ = ("master_weight", "signers", "tx_threshold", "type_thresholds")
    MASTER_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    TX_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TYPE_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    master_weight: str
    signers: _containers.RepeatedCompositeFieldContainer[Signer]
    tx_threshold: str
    type_thresholds: _containers.RepeatedCompositeFieldContainer[OperationTypeThreshold]
    def __init__(self, master_weight: _Optional[str] = ..., signers: _Optional[_Iterable[_Union[Signer, _Mapping]]] = ..., tx_threshold: _Optional[str] = ..., type_thresholds: _Optional[_Iterable[_Union[OperationTypeThreshold, _Mapping]]] = ...) -> None: ...

class OperationUpgradeContract(_message.Message):
    __slots__ = ("dest_address", "s_payload", "payload", "s_owner", "owner")
    DEST_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    S_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    S_OWNER_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    dest_address: str
    s_payload: bool
    payload: str
    s_owner: bool
    owner: str
    def __init__(self, dest_address: _Optional[str] = ..., s_payload: _Optional[bool] = ..., payload: _Optional[str] = ..., s_owner: _Optional[bool] = ..., owner: _Optional[str] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ("type", "source_address", "metadata", "expr_condition", "create_account", "issue_asset", "pay_asset", "set_metadata", "set_signer_weight", "set_threshold", "pay_coin", "log", "set_privilege", "upgrade_contract")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[Operation.Type]
        CREATE_ACCOUNT: _ClassVar[Operation.Type]
        ISSUE_ASSET: _ClassVar[Operation.Type]
        PAY_ASSET: _ClassVar[Operation.Type]
        SET_METADATA: _ClassVar[Operation.Type]
        SET_SIGNER_WEIGHT: _ClassVar[Operation.Type]
        SET_THRESHOLD: _ClassVar[Operation.Type]
        PAY_COIN: _ClassVar[Operation.Type]
        LOG: _ClassVar[Operation.Type]
        SET_PRIVILEGE: _ClassVar[Operation.Type]
        UPGRADE_CONTRACT: _ClassVar[Operation.Type]
    UNKNOWN: Operation.Type
    CREATE_ACCOUNT: Operation.Type
    ISSUE_ASSET: Operation.Type
    PAY_ASSET: Operation.Type
    SET_METADATA: Operation.Type
    SET_SIGNER_WEIGHT: Operation.Type
    SET_THRESHOLD: Operation.Type
    PAY_COIN: Operation.Type
    LOG: Operation.Type
    SET_PRIVILEGE: Operation.Type
    UPGRADE_CONTRACT: Operation.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXPR_CONDITION_FIELD_NUMBER: _ClassVar[int]
    CREATE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ISSUE_ASSET_FIELD_NUMBER: _ClassVar[int]
    PAY_ASSET_FIELD_NUMBER: _ClassVar[int]
    SET_METADATA_FIELD_NUMBER: _ClassVar[int]
    SET_SIGNER_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SET_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PAY_COIN_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    SET_PRIVILEGE_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_CONTRACT_FIELD_NUMBER: _ClassVar[int]
    type: Operation.Type
    source_address: str
    metadata: bytes
    expr_condition: str
    create_account: OperationCreateAccount
    issue_asset: OperationIssueAsset
    pay_asset: OperationPayAsset
    set_metadata: OperationSetMetadata
    set_signer_weight: OperationSetSignerWeight
    set_threshold: OperationSetThreshold
    pay_coin: OperationPayCoin
    log: OperationLog
    set_privilege: OperationSetPrivilege
    upgrade_contract: OperationUpgradeContract
    def __init__(self, type: _Optional[_Union[Operation.Type, str]] = ..., source_address: _Optional[str] = ..., metadata: _Optional[bytes] = ..., expr_condition: _Optional[str] = ..., create_account: _Optional[_Union[OperationCreateAccount, _Mapping]] = ..., issue_asset: _Optional[_Union[OperationIssueAsset, _Mapping]] = ..., pay_asset: _Optional[_Union[OperationPayAsset, _Mapping]] = ..., set_metadata: _Optional[_Union[OperationSetMetadata, _Mapping]] = ..., set_signer_weight: _Optional[_Union[OperationSetSignerWeight, _Mapping]] = ..., set_threshold: _Optional[_Union[OperationSetThreshold, _Mapping]] = ..., pay_coin: _Optional[_Union[OperationPayCoin, _Mapping]] = ..., log: _Optional[_Union[OperationLog, _Mapping]] = ..., set_privilege: _Optional[_Union[OperationSetPrivilege, _Mapping]] = ..., upgrade_contract: _Optional[_Union[OperationUpgradeContract, _Mapping]] = ...) -> None: ...

class OperationSetThreshold(_message.Message):
    __slots__ = ("tx_threshold", "type_thresholds")
    TX_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TYPE_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    tx_threshold: int
    type_thresholds: _containers.RepeatedCompositeFieldContainer[OperationTypeThreshold]
    def __init__(self, tx_threshold: _Optional[int] = ..., type_thresholds: _Optional[_Iterable[_Union[OperationTypeThreshold, _Mapping]]] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("source_address", "nonce", "expr_condition", "operations", "metadata", "fee_limit", "gas_price", "ceil_ledger_seq", "chain_id")
    class Limit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[Transaction.Limit]
        OPERATIONS: _ClassVar[Transaction.Limit]
    UNKNOWN: Transaction.Limit
    OPERATIONS: Transaction.Limit
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXPR_CONDITION_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    FEE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    GAS_PRICE_FIELD_NUMBER: _ClassVar[int]
    CEIL_LEDGER_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    source_address: str
    nonce: int
    expr_condition: str
    operations: _containers.RepeatedCompositeFieldContainer[Operation]
    metadata: bytes
    fee_limit: int
    gas_price: int
    ceil_ledger_seq: int
    chain_id: int
    def __init__(self, source_address: _Optional[str] = ..., nonce: _Optional[int] = ..., expr_condition: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[Operation, _Mapping]]] = ..., metadata: _Optional[bytes] = ..., fee_limit: _Optional[int] = ..., gas_price: _Optional[int] = ..., ceil_ledger_seq: _Optional[int] = ..., chain_id: _Optional[int] = ...) -> None: ...

class Signer(_message.Message):
    __slots__ = ("address", "weight")
    class Limit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SIGNER_NONE: _ClassVar[Signer.Limit]
        SIGNER: _ClassVar[Signer.Limit]
    SIGNER_NONE: Signer.Limit
    SIGNER: Signer.Limit
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    address: str
    weight: int
    def __init__(self, address: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...

class Trigger(_message.Message):
    __slots__ = ("transaction_type", "ledger_seq", "transaction")
    class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NORMAL_TRANSACTION: _ClassVar[Trigger.TransactionType]
        CONTRACT_TRANSACTION: _ClassVar[Trigger.TransactionType]
    NORMAL_TRANSACTION: Trigger.TransactionType
    CONTRACT_TRANSACTION: Trigger.TransactionType
    class OperationTrigger(_message.Message):
        __slots__ = ("hash", "index")
        HASH_FIELD_NUMBER: _ClassVar[int]
        INDEX_FIELD_NUMBER: _ClassVar[int]
        hash: bytes
        index: int
        def __init__(self, hash: _Optional[bytes] = ..., index: _Optional[int] = ...) -> None: ...
    TRANSACTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    LEDGER_SEQ_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction_type: Trigger.TransactionType
    ledger_seq: int
    transaction: Trigger.OperationTrigger
    def __init__(self, transaction_type: _Optional[_Union[Trigger.TransactionType, str]] = ..., ledger_seq: _Optional[int] = ..., transaction: _Optional[_Union[Trigger.OperationTrigger, _Mapping]] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("public_key", "sign_data")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGN_DATA_FIELD_NUMBER: _ClassVar[int]
    public_key: str
    sign_data: bytes
    def __init__(self, public_key: _Optional[str] = ..., sign_data: _Optional[bytes] = ...) -> None: ...

class TransactionEnv(_message.Message):
    __slots__ = ("transaction", "signatures", "trigger")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    signatures: _containers.RepeatedCompositeFieldContainer[Signature]
    trigger: Trigger
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., signatures: _Optional[_Iterable[_Union[Signature, _Mapping]]] = ..., trigger: _Optional[_Union[Trigger, _Mapping]] = ...) -> None: ...

class TransactionEnvStore(_message.Message):
    __slots__ = ("transaction_env", "error_code", "error_desc", "ledger_seq", "close_time", "hash", "actual_fee", "contract_tx_hashes")
    TRANSACTION_ENV_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_DESC_FIELD_NUMBER: _ClassVar[int]
    LEDGER_SEQ_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FEE_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_TX_HASHES_FIELD_NUMBER: _ClassVar[int]
    transaction_env: TransactionEnv
    error_code: int
    error_desc: str
    ledger_seq: int
    close_time: int
    hash: bytes
    actual_fee: int
    contract_tx_hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, transaction_env: _Optional[_Union[TransactionEnv, _Mapping]] = ..., error_code: _Optional[int] = ..., error_desc: _Optional[str] = ..., ledger_seq: _Optional[int] = ..., close_time: _Optional[int] = ..., hash: _Optional[bytes] = ..., actual_fee: _Optional[int] = ..., contract_tx_hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TransactionEnvSet(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedCompositeFieldContainer[TransactionEnv]
    def __init__(self, txs: _Optional[_Iterable[_Union[TransactionEnv, _Mapping]]] = ...) -> None: ...

class ConsensusValueValidation(_message.Message):
    __slots__ = ("expire_tx_ids", "error_tx_ids")
    EXPIRE_TX_IDS_FIELD_NUMBER: _ClassVar[int]
    ERROR_TX_IDS_FIELD_NUMBER: _ClassVar[int]
    expire_tx_ids: _containers.RepeatedScalarFieldContainer[int]
    error_tx_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, expire_tx_ids: _Optional[_Iterable[int]] = ..., error_tx_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ConsensusValue(_message.Message):
    __slots__ = ("txset", "close_time", "previous_proof", "ledger_seq", "previous_ledger_hash", "ledger_upgrade", "validation")
    TXSET_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PROOF_FIELD_NUMBER: _ClassVar[int]
    LEDGER_SEQ_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_LEDGER_HASH_FIELD_NUMBER: _ClassVar[int]
    LEDGER_UPGRADE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    txset: TransactionEnvSet
    close_time: int
    previous_proof: bytes
    ledger_seq: int
    previous_ledger_hash: bytes
    ledger_upgrade: LedgerUpgrade
    validation: ConsensusValueValidation
    def __init__(self, txset: _Optional[_Union[TransactionEnvSet, _Mapping]] = ..., close_time: _Optional[int] = ..., previous_proof: _Optional[bytes] = ..., ledger_seq: _Optional[int] = ..., previous_ledger_hash: _Optional[bytes] = ..., ledger_upgrade: _Optional[_Union[LedgerUpgrade, _Mapping]] = ..., validation: _Optional[_Union[ConsensusValueValidation, _Mapping]] = ...) -> None: ...

class Contract(_message.Message):
    __slots__ = ("type", "payload", "version", "owner")
    class ContractType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        JAVASCRIPT: _ClassVar[Contract.ContractType]
    JAVASCRIPT: Contract.ContractType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    type: Contract.ContractType
    payload: str
    version: int
    owner: str
    def __init__(self, type: _Optional[_Union[Contract.ContractType, str]] = ..., payload: _Optional[str] = ..., version: _Optional[int] = ..., owner: _Optional[str] = ...) -> None: ...

class OperationCreateAccount(_message.Message):
    __slots__ = ("dest_address", "contract", "priv", "metadatas", "init_balance", "init_input")
    DEST_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    PRIV_FIELD_NUMBER: _ClassVar[int]
    METADATAS_FIELD_NUMBER: _ClassVar[int]
    INIT_BALANCE_FIELD_NUMBER: _ClassVar[int]
    INIT_INPUT_FIELD_NUMBER: _ClassVar[int]
    dest_address: str
    contract: Contract
    priv: AccountPrivilege
    metadatas: _containers.RepeatedCompositeFieldContainer[KeyPair]
    init_balance: int
    init_input: str
    def __init__(self, dest_address: _Optional[str] = ..., contract: _Optional[_Union[Contract, _Mapping]] = ..., priv: _Optional[_Union[AccountPrivilege, _Mapping]] = ..., metadatas: _Optional[_Iterable[_Union[KeyPair, _Mapping]]] = ..., init_balance: _Optional[int] = ..., init_input: _Optional[str] = ...) -> None: ...

class OperationSetMetadata(_message.Message):
    __slots__ = ("key", "value", "version", "delete_flag")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DELETE_FLAG_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    version: int
    delete_flag: bool
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., version: _Optional[int] = ..., delete_flag: _Optional[bool] = ...) -> None: ...

class KeyPair(_message.Message):
    __slots__ = ("key", "value", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    version: int
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class LedgerUpgrade(_message.Message):
    __slots__ = ("new_ledger_version", "new_validator_list", "del_validators", "chain_id")
    NEW_LEDGER_VERSION_FIELD_NUMBER: _ClassVar[int]
    NEW_VALIDATOR_LIST_FIELD_NUMBER: _ClassVar[int]
    DEL_VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    new_ledger_version: int
    new_validator_list: _containers.RepeatedScalarFieldContainer[str]
    del_validators: _containers.RepeatedScalarFieldContainer[str]
    chain_id: int
    def __init__(self, new_ledger_version: _Optional[int] = ..., new_validator_list: _Optional[_Iterable[str]] = ..., del_validators: _Optional[_Iterable[str]] = ..., chain_id: _Optional[int] = ...) -> None: ...
