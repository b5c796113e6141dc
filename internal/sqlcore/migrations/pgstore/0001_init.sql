-- Sessions, filed under the SHA-256 of their token; times in Unix
-- milliseconds; data is a JSON object of base64-encoded values.
CREATE TABLE sessionkit_sessions (
    id               bytea PRIMARY KEY,
    principal        text NOT NULL DEFAULT '',
    created_ms       bigint NOT NULL,
    idle_deadline_ms bigint NOT NULL,
    deadline_ms      bigint NOT NULL,
    expires_ms       bigint GENERATED ALWAYS AS (LEAST(idle_deadline_ms, deadline_ms)) STORED,
    idle_timeout_ns  bigint NOT NULL,
    persistent       boolean NOT NULL DEFAULT false,
    generation       bigint NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,
    data             jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX sessionkit_sessions_principal ON sessionkit_sessions (principal) WHERE principal <> '';
CREATE INDEX sessionkit_sessions_expires ON sessionkit_sessions (expires_ms);

CREATE TABLE sessionkit_generations (
    principal  text PRIMARY KEY,
    generation bigint NOT NULL
);
