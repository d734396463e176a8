"""Messages: the per-issue skeleton and per-recipient bytes, headers, DKIM."""
