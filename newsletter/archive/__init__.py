"""The public archive: every sent issue as a page, an index, Atom feeds.

`site.Archive` makes each file from the copies `send` kept (sending/archived.py);
the web app serves them under /archive/ and `archive build DIR` writes them all
(`static.build_archive`), byte for byte the same.
"""
