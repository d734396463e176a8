"""The database: the one opener, the migrations, backups."""

from newsletter.db.connection import open_database

__all__ = ["open_database"]
