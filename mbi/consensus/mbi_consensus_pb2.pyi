from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QuorumCert(_message.Message):
    __slots__ = ("block_id", "round", "commit_id", "signers", "signatures")
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    block_id: bytes
    round: int
    commit_id: bytes
    signers: bytes
    signatures: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, block_id: _Optional[bytes] = ..., round: _Optional[int] = ..., commit_id: _Optional[bytes] = ..., signers: _Optional[bytes] = ..., signatures: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TimeoutCert(_message.Message):
    __slots__ = ("round", "signers", "high_qc_rounds", "signatures", "high_qc")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    HIGH_QC_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    HIGH_QC_FIELD_NUMBER: _ClassVar[int]
    round: int
    signers: bytes
    high_qc_rounds: _containers.RepeatedScalarFieldContainer[int]
    signatures: _containers.RepeatedScalarFieldContainer[bytes]
    high_qc: QuorumCert
    def __init__(self, round: _Optional[int] = ..., signers: _Optional[bytes] = ..., high_qc_rounds: _Optional[_Iterable[int]] = ..., signatures: _Optional[_Iterable[bytes]] = ..., high_qc: _Optional[_Union[QuorumCert, _Mapping]] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("height", "round", "timestamp_us", "author", "parent_id", "qc", "payload", "exec_height", "exec_root")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    QC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EXEC_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    EXEC_ROOT_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    timestamp_us: int
    author: int
    parent_id: bytes
    qc: QuorumCert
    payload: bytes
    exec_height: int
    exec_root: bytes
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., timestamp_us: _Optional[int] = ..., author: _Optional[int] = ..., parent_id: _Optional[bytes] = ..., qc: _Optional[_Union[QuorumCert, _Mapping]] = ..., payload: _Optional[bytes] = ..., exec_height: _Optional[int] = ..., exec_root: _Optional[bytes] = ...) -> None: ...

class BlockHeader(_message.Message):
    __slots__ = ("height", "round", "timestamp_us", "author", "parent_id", "qc_round", "payload_hash", "exec_height", "exec_root")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    QC_ROUND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_HASH_FIELD_NUMBER: _ClassVar[int]
    EXEC_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    EXEC_ROOT_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    timestamp_us: int
    author: int
    parent_id: bytes
    qc_round: int
    payload_hash: bytes
    exec_height: int
    exec_root: bytes
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., timestamp_us: _Optional[int] = ..., author: _Optional[int] = ..., parent_id: _Optional[bytes] = ..., qc_round: _Optional[int] = ..., payload_hash: _Optional[bytes] = ..., exec_height: _Optional[int] = ..., exec_root: _Optional[bytes] = ...) -> None: ...

class Proposal(_message.Message):
    __slots__ = ("block", "tc", "signature")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    TC_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    block: Block
    tc: TimeoutCert
    signature: bytes
    def __init__(self, block: _Optional[_Union[Block, _Mapping]] = ..., tc: _Optional[_Union[TimeoutCert, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Vote(_message.Message):
    __slots__ = ("block_id", "round", "commit_id", "voter", "signature")
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    VOTER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    block_id: bytes
    round: int
    commit_id: bytes
    voter: int
    signature: bytes
    def __init__(self, block_id: _Optional[bytes] = ..., round: _Optional[int] = ..., commit_id: _Optional[bytes] = ..., voter: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Timeout(_message.Message):
    __slots__ = ("round", "author", "high_qc", "last_tc", "signature")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    HIGH_QC_FIELD_NUMBER: _ClassVar[int]
    LAST_TC_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    round: int
    author: int
    high_qc: QuorumCert
    last_tc: TimeoutCert
    signature: bytes
    def __init__(self, round: _Optional[int] = ..., author: _Optional[int] = ..., high_qc: _Optional[_Union[QuorumCert, _Mapping]] = ..., last_tc: _Optional[_Union[TimeoutCert, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("from_height", "max_blocks")
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    max_blocks: int
    def __init__(self, from_height: _Optional[int] = ..., max_blocks: _Optional[int] = ...) -> None: ...

class SyncResponse(_message.Message):
    __slots__ = ("committed", "commit_qc", "certified", "high_qc", "proof")
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    COMMIT_QC_FIELD_NUMBER: _ClassVar[int]
    CERTIFIED_FIELD_NUMBER: _ClassVar[int]
    HIGH_QC_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    committed: _containers.RepeatedCompositeFieldContainer[Block]
    commit_qc: QuorumCert
    certified: _containers.RepeatedCompositeFieldContainer[Block]
    high_qc: QuorumCert
    proof: _containers.RepeatedCompositeFieldContainer[BlockHeader]
    def __init__(self, committed: _Optional[_Iterable[_Union[Block, _Mapping]]] = ..., commit_qc: _Optional[_Union[QuorumCert, _Mapping]] = ..., certified: _Optional[_Iterable[_Union[Block, _Mapping]]] = ..., high_qc: _Optional[_Union[QuorumCert, _Mapping]] = ..., proof: _Optional[_Iterable[_Union[BlockHeader, _Mapping]]] = ...) -> None: ...

class ConsensusMessage(_message.Message):
    __slots__ = ("proposal", "vote", "timeout", "sync_request", "sync_response")
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SYNC_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SYNC_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    proposal: Proposal
    vote: Vote
    timeout: Timeout
    sync_request: SyncRequest
    sync_response: SyncResponse
    def __init__(self, proposal: _Optional[_Union[Proposal, _Mapping]] = ..., vote: _Optional[_Union[Vote, _Mapping]] = ..., timeout: _Optional[_Union[Timeout, _Mapping]] = ..., sync_request: _Optional[_Union[SyncRequest, _Mapping]] = ..., sync_response: _Optional[_Union[SyncResponse, _Mapping]] = ...) -> None: ...

class SafetyData(_message.Message):
    __slots__ = ("highest_voted_round", "highest_qc_round", "high_qc", "last_tc")
    HIGHEST_VOTED_ROUND_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_QC_ROUND_FIELD_NUMBER: _ClassVar[int]
    HIGH_QC_FIELD_NUMBER: _ClassVar[int]
    LAST_TC_FIELD_NUMBER: _ClassVar[int]
    highest_voted_round: int
    highest_qc_round: int
    high_qc: QuorumCert
    last_tc: TimeoutCert
    def __init__(self, highest_voted_round: _Optional[int] = ..., highest_qc_round: _Optional[int] = ..., high_qc: _Optional[_Union[QuorumCert, _Mapping]] = ..., last_tc: _Optional[_Union[TimeoutCert, _Mapping]] = ...) -> None: ...
