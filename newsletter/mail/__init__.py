"""The message: a per-issue skeleton and per-recipient bytes, headers, DKIM, the preview."""
