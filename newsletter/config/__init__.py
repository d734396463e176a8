"""newsletter.toml -> frozen dataclasses, validated at load.

Every error names the key it is about, so a coordinator can fix the file from
the message alone. Secrets never live here: the SMTP password is read from the
environment variable the file names, only when a send needs it.

`model` holds the dataclasses, `loading` reads the file and the [newsletter]
section, `sections` the optional sections.
"""

from newsletter.config.loading import find_config, load_config, parse_config
from newsletter.config.model import (
    CONFIG_NAME,
    DATABASE_NAME,
    BouncesConfig,
    Config,
    DkimConfig,
    ImapConfig,
    SendingConfig,
    SmtpConfig,
    SubscribeConfig,
)
from newsletter.config.sections import is_loopback

__all__ = [
    "CONFIG_NAME",
    "DATABASE_NAME",
    "BouncesConfig",
    "Config",
    "DkimConfig",
    "ImapConfig",
    "SendingConfig",
    "SmtpConfig",
    "SubscribeConfig",
    "find_config",
    "is_loopback",
    "load_config",
    "parse_config",
]
