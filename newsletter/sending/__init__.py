"""Sending: the ledger, reply classification, transports, the send loop and the campaign around it."""
