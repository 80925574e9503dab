"""SQLAlchemy storage on SQLite (WAL) and PostgreSQL. Every SQLite/PostgreSQL difference
(locking, upserts, text search) lives in this package and nowhere else."""
