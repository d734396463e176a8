"""The database: the one opener, the migrations, backups, the journal that outlives them."""
