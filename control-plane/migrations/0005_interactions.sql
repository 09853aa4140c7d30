-- The interaction log and limit accounting.

ALTER TABLE profiles
    ADD COLUMN log_bodies TEXT NOT NULL DEFAULT 'metadata';

ALTER TABLE limits
    ADD COLUMN model   TEXT,
    ADD COLUMN rolling BOOLEAN NOT NULL DEFAULT false;

-- One row per proxied request. `id` is made by the worker (UUIDv7) and is the record's
-- idempotency key: a batch delivered twice inserts nothing the second time. Amounts of money
-- are NUMERIC so sums over records are exact.
CREATE TABLE interactions (
    id                     UUID PRIMARY KEY,
    occurred_at            TIMESTAMPTZ NOT NULL,
    request_id             TEXT NOT NULL,
    provider               TEXT,
    api                    TEXT,
    model                  TEXT,
    response_model         TEXT,
    profile_id             UUID,
    team_id                UUID,
    virtual_key_id         UUID,
    credential             TEXT NOT NULL,
    status                 INT NOT NULL,
    error                  TEXT,
    stream                 BOOLEAN NOT NULL,
    client_aborted         BOOLEAN NOT NULL,
    has_usage              BOOLEAN NOT NULL,
    input_tokens           BIGINT NOT NULL,
    output_tokens          BIGINT NOT NULL,
    cached_read_tokens     BIGINT NOT NULL,
    cache_write_tokens     BIGINT NOT NULL,
    reasoning_tokens       BIGINT NOT NULL,
    cost_usd               NUMERIC,
    duration_ms            DOUBLE PRECISION NOT NULL,
    time_to_first_token_ms DOUBLE PRECISION,
    gateway_overhead_us    BIGINT NOT NULL,
    tool_calls_allowed     INT NOT NULL,
    tool_calls_blocked     INT NOT NULL,
    untrusted              BOOLEAN NOT NULL,
    charges                JSONB NOT NULL DEFAULT '[]',
    metadata               JSONB,
    request_body           TEXT,
    response_body          TEXT,
    ingested_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX interactions_profile_idx ON interactions (profile_id, id);
CREATE INDEX interactions_team_idx ON interactions (team_id, id);
CREATE INDEX interactions_virtual_key_idx ON interactions (virtual_key_id, id);
CREATE INDEX interactions_occurred_idx ON interactions (occurred_at);

-- What stored records counted against a limit, per window (or sliding-window bucket).
CREATE TABLE limit_usage (
    limit_id     UUID NOT NULL REFERENCES limits (id) ON DELETE CASCADE,
    window_start TIMESTAMPTZ NOT NULL,
    used         NUMERIC NOT NULL DEFAULT 0,
    PRIMARY KEY (limit_id, window_start)
);

-- Slices of a limit's budget handed to workers. `amount - settled` is still outstanding
-- until `expires_at` (the worker's validity plus a grace for records still on their way).
CREATE TABLE limit_leases (
    id           UUID PRIMARY KEY,
    limit_id     UUID NOT NULL REFERENCES limits (id) ON DELETE CASCADE,
    window_start TIMESTAMPTZ NOT NULL,
    amount       DOUBLE PRECISION NOT NULL,
    settled      DOUBLE PRECISION NOT NULL DEFAULT 0,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX limit_leases_limit_idx ON limit_leases (limit_id, expires_at);
