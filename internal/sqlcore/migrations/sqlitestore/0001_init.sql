-- Sessions, filed under the SHA-256 of their token; times in Unix
-- milliseconds; data is a JSON object of base64-encoded values.
CREATE TABLE sessionkit_sessions (
    id               BLOB PRIMARY KEY,
    principal        TEXT NOT NULL DEFAULT '',
    created_ms       INTEGER NOT NULL,
    idle_deadline_ms INTEGER NOT NULL,
    deadline_ms      INTEGER NOT NULL,
    expires_ms       INTEGER GENERATED ALWAYS AS (min(idle_deadline_ms, deadline_ms)) STORED,
    idle_timeout_ns  INTEGER NOT NULL,
    persistent       INTEGER NOT NULL DEFAULT 0,
    generation       INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 1,
    data             TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX sessionkit_sessions_principal ON sessionkit_sessions (principal) WHERE principal <> '';
CREATE INDEX sessionkit_sessions_expires ON sessionkit_sessions (expires_ms);

CREATE TABLE sessionkit_generations (
    principal  TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
