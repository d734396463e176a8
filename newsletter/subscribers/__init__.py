"""Subscribers: the model, addresses, tokens, the subscriber SQL, CSV import and export."""
