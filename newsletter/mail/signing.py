"""The project's DKIM signer, for the issues and the single mails alike.

Without [dkim] it is None and `cryptography` is never imported; with it, the
key is loaded here, so a missing or unreadable one is a one-line ConfigError
when `send` or `serve` starts, not halfway through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.config import Config

if TYPE_CHECKING:
    from newsletter.mail.dkim import DkimSigner


def project_signer(config: Config) -> DkimSigner | None:
    if config.dkim is None:
        return None
    from newsletter.mail.dkim_keys import signer_for

    return signer_for(config)
