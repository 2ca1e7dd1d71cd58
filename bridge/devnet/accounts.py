"""Development accounts funded on every devnet chain. These keys are public test keys, never secrets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bridge.xcm import accounts as xcm_accounts

# anvil's default mnemonic: its dev accounts are public test accounts, funded with 10,000 ETH each at genesis.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass(frozen=True)
class EthereumDevAccount:
    index: int
    address: str
    private_key: str  # public test key


# anvil (as the devnet starts it) funds accounts 0..9 with ETH, and the devnet's deployment funds 2..9 with PHA: the
# indices a command line may name (`--dev-account`).
ANVIL_FUNDED_ACCOUNTS = 10


def ethereum_dev_account(index: int) -> EthereumDevAccount:
    """The anvil dev account at `index`; only this one is derived (each derivation is a PBKDF2 over the mnemonic)."""
    from eth_account import Account

    if not 0 <= index < 2**31:  # a non-hardened BIP-32 index
        raise ValueError(f"an anvil account index is in 0..{2**31 - 1}, got {index}")
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return EthereumDevAccount(index, acct.address, "0x" + acct.key.hex().removeprefix("0x"))


def ethereum_dev_accounts(count: int = 5) -> list[EthereumDevAccount]:
    return [ethereum_dev_account(i) for i in range(count)]


SR25519_DEV_URIS: tuple[str, ...] = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")

# Substrate's `//Alice`-style derivation is sr25519 only, so ed25519 dev accounts come from fixed public seeds.
ED25519_DEV_SEEDS: tuple[str, ...] = tuple(
    "0x" + hashlib.sha256(f"phala-bridge devnet ed25519 account {i}".encode()).hexdigest() for i in range(3)
)

# 1,000,000 units of a 12-decimal token.
DEV_BALANCE_PLANCK = 1_000_000 * 10**12


@dataclass(frozen=True)
class SubstrateDevAccount:
    name: str
    crypto: str  # "sr25519" | "ed25519"
    secret: str  # URI for sr25519, hex seed for ed25519 (public test material)
    public_key: str  # 0x-hex, 32 bytes


def substrate_dev_accounts() -> list[SubstrateDevAccount]:
    from substrateinterface import Keypair, KeypairType

    out: list[SubstrateDevAccount] = []
    for uri in SR25519_DEV_URIS:
        kp = Keypair.create_from_uri(uri, crypto_type=KeypairType.SR25519)
        out.append(SubstrateDevAccount(uri.lstrip("/").lower(), "sr25519", uri, "0x" + kp.public_key.hex()))
    for i, seed in enumerate(ED25519_DEV_SEEDS):
        kp = Keypair.create_from_seed(seed, crypto_type=KeypairType.ED25519)
        out.append(SubstrateDevAccount(f"ed25519-{i}", "ed25519", seed, "0x" + kp.public_key.hex()))
    return out


def sibling_sovereign_account(para_id: int) -> str:
    """The sibling sovereign account of `para_id` as 0x-hex (what Chopsticks' import-storage takes)."""
    return "0x" + xcm_accounts.sibling_sovereign_account(para_id).hex()
