"""The database (engine, tables, every write, every read) and the media store."""
