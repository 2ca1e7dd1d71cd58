"""The devnet: real chains on one machine, offline.

anvil (Ethereum), two Chopsticks parachains joined by real XCMP ("phala", para 2035, and a peer, para 1000) and an
MQTT broker. `Devnet` starts and stops them in-process (pytest fixtures); `phala-bridge devnet up` runs the same
code in a detached supervisor process so the chains outlive the command.
"""

from bridge.devnet.manager import Devnet, DevnetError
from bridge.devnet.state import DevnetState

__all__ = ["Devnet", "DevnetError", "DevnetState"]
