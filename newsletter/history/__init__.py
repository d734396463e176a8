"""The journal's facts applied to the database (`replay`), backups of the whole
project (`archive`) and `restore`: above subscribers/ and sending/, so the replay
calls the same functions every command does."""
