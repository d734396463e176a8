"""The return mailbox: bounces, complaints and mailto unsubscribes that come back by mail.

box.py (the interface) with maildir.py and imap.py behind it; reports.py reads
DSN, ARF and non-standard bounces; sorting.py decides what a message is;
processing.py ties it to a delivery and acts (the scores are in
subscribers/bounces.py, shared with the send loop).
"""
