"""mbi.consensus: Jolteon (two-chain HotStuff, DiemBFT v4) as a pure, embeddable engine.

    core = Core(CoreConfig(chain_id=1), ValidatorSet(keys), Ed25519Signer(seed), genesis_id)
    actions = core.start(now)
    actions = core.handle(event, now)   # carry the actions out in list order

No I/O, no clock, no threads: the driver passes `now` in and carries the actions out.
The rules are in docs/consensus.md; embedding is in docs/embedding.md. The package needs
only `core_ext.sigverify`, pysodium and protobuf, nothing else of `mbi`.
"""
from __future__ import annotations

from mbi.consensus import wire
from mbi.consensus.certs import CertChecker
from mbi.consensus.core import Core, CoreConfig
from mbi.consensus.crypto import Ed25519Signer, Signer, verify_many
from mbi.consensus.events import (
    BlockExecuted, Broadcast, Commit, Halted, MessageReceived, PayloadReady, PayloadVerified, PersistSafety,
    ReportMisbehaviour, RequestPayload, Send, ServeSync, SetTimer, TimerFired, VerifyPayload,
)
from mbi.consensus.safety import SafetyRules
from mbi.consensus.sync import SyncError, SyncPlan, plan_sync_range, verify_certified_chain, verify_committed_range
from mbi.consensus.types import (
    Block, BlockHeader, Proposal, QuorumCert, SafetyData, SyncRequest, SyncResponse, Timeout, TimeoutCert,
    ValidatorSet, Vote, genesis_block_id, genesis_qc, header_of, make_block,
)

__all__ = [
    "Block", "BlockExecuted", "BlockHeader", "Broadcast", "CertChecker", "Commit", "Core", "CoreConfig",
    "Ed25519Signer", "Halted",
    "MessageReceived", "PayloadReady", "PayloadVerified", "PersistSafety", "Proposal", "QuorumCert",
    "ReportMisbehaviour", "RequestPayload", "SafetyData", "SafetyRules", "Send", "ServeSync", "SetTimer", "Signer",
    "SyncError", "SyncPlan", "SyncRequest", "SyncResponse", "Timeout", "TimeoutCert", "TimerFired", "ValidatorSet",
    "VerifyPayload", "Vote", "genesis_block_id", "genesis_qc", "header_of", "make_block",
    "plan_sync_range", "verify_certified_chain",
    "verify_committed_range", "verify_many", "wire",
]
