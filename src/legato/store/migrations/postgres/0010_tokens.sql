-- 0010 API tokens for legato server: a name, a role, and the SHA-256 of the token (the
-- token itself is shown once, when it is created, and never stored).
-- The PostgreSQL twin of migrations/sqlite/0010_tokens.sql.

CREATE TABLE tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,     -- viewer, operator, approver or admin
    token_hash TEXT NOT NULL,     -- hex SHA-256 of the token
    created_at BIGINT NOT NULL,
    created_by TEXT
);

-- Every API request looks its token up by hash.
CREATE UNIQUE INDEX tokens_by_hash ON tokens (token_hash);
