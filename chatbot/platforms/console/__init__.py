"""The local console: the same handlers and database, typed at a terminal."""
