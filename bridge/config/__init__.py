"""Configuration models (pydantic) and their parsing from TOML text. No file I/O here: callers read the file."""

from bridge.config.errors import ConfigError
from bridge.config.parse import parse_config
from bridge.config.schema import ChainRegistry, DevnetConfig, NodeConfig

__all__ = ["ChainRegistry", "ConfigError", "DevnetConfig", "NodeConfig", "parse_config"]
