-- The complete resource model: teams and team scope, roles, optimistic-concurrency versions,
-- policies, limits, the model price table, organization settings and the audit trail.

CREATE TABLE teams (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Admin API keys: roles, team scope, expiry and revocation. Deleting a team that still owns
-- keys or objects is refused (RESTRICT) so nothing disappears by accident.
ALTER TABLE api_keys
    ADD COLUMN team_id      UUID REFERENCES teams (id) ON DELETE RESTRICT,
    ADD COLUMN expires_at   TIMESTAMPTZ,
    ADD COLUMN revoked_at   TIMESTAMPTZ,
    ADD COLUMN token_prefix TEXT NOT NULL DEFAULT '',
    ADD COLUMN version      BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'editor', 'viewer'));

ALTER TABLE profiles
    ADD COLUMN team_id                    UUID REFERENCES teams (id) ON DELETE RESTRICT,
    ADD COLUMN labels                     JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN consider_context_untrusted BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN require_virtual_key        BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN allowed_models             JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN version                    BIGINT NOT NULL DEFAULT 1,
    DROP CONSTRAINT profiles_name_key,
    ADD CONSTRAINT profiles_team_name_key UNIQUE NULLS NOT DISTINCT (team_id, name);
CREATE INDEX profiles_labels_idx ON profiles USING gin (labels);

-- `secret_key_id` names the encryption key a secret is sealed under (empty: written before
-- key ids existed; every key of the keyring is tried). `secret_fingerprint` is a truncated
-- SHA-256 of the secret, so a client can tell whether it holds the same secret.
ALTER TABLE provider_keys
    ADD COLUMN team_id            UUID REFERENCES teams (id) ON DELETE RESTRICT,
    ADD COLUMN extra_headers      JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN is_default         BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN secret_key_id      TEXT NOT NULL DEFAULT '',
    ADD COLUMN secret_fingerprint TEXT NOT NULL DEFAULT '',
    ADD COLUMN version            BIGINT NOT NULL DEFAULT 1,
    DROP CONSTRAINT provider_keys_name_key,
    ADD CONSTRAINT provider_keys_team_name_key UNIQUE NULLS NOT DISTINCT (team_id, name);
CREATE UNIQUE INDEX provider_keys_one_default ON provider_keys (team_id, provider)
    NULLS NOT DISTINCT WHERE is_default;

ALTER TABLE virtual_keys
    ADD COLUMN team_id        UUID REFERENCES teams (id) ON DELETE RESTRICT,
    ADD COLUMN allowed_models JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN last_used_at   TIMESTAMPTZ,
    ADD COLUMN revoked_at     TIMESTAMPTZ,
    ADD COLUMN version        BIGINT NOT NULL DEFAULT 1;

-- Policies belong to a team (NULL: organization-wide) and optionally to one profile
-- (NULL: every profile in that scope). Conditions are validated by the API.
CREATE TABLE tool_invocation_policies (
    id          UUID PRIMARY KEY,
    team_id     UUID REFERENCES teams (id) ON DELETE RESTRICT,
    profile_id  UUID REFERENCES profiles (id) ON DELETE CASCADE,
    tool_name   TEXT NOT NULL,
    conditions  JSONB NOT NULL DEFAULT '[]',
    action      TEXT NOT NULL,
    reason      TEXT,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE trusted_data_policies (
    id          UUID PRIMARY KEY,
    team_id     UUID REFERENCES teams (id) ON DELETE RESTRICT,
    profile_id  UUID REFERENCES profiles (id) ON DELETE CASCADE,
    tool_name   TEXT NOT NULL,
    conditions  JSONB NOT NULL DEFAULT '[]',
    action      TEXT NOT NULL,
    description TEXT,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A usage limit on one subject (the organization, a team, a profile or a virtual key).
CREATE TABLE limits (
    id          UUID PRIMARY KEY,
    team_id     UUID REFERENCES teams (id) ON DELETE RESTRICT,
    scope       TEXT NOT NULL,
    subject_id  UUID,
    metric      TEXT NOT NULL,
    "window"    TEXT NOT NULL,
    max_value   DOUBLE PRECISION NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX limits_subject_idx ON limits (subject_id);

-- Prices in US dollars per million tokens.
CREATE TABLE model_prices (
    id                            UUID PRIMARY KEY,
    provider                      TEXT NOT NULL,
    model                         TEXT NOT NULL,
    input_price_per_million       DOUBLE PRECISION NOT NULL,
    output_price_per_million      DOUBLE PRECISION NOT NULL,
    cached_input_price_per_million DOUBLE PRECISION,
    version                       BIGINT NOT NULL DEFAULT 1,
    created_at                    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider, model)
);

CREATE TABLE organization (
    id                 INT PRIMARY KEY CHECK (id = 1),
    name               TEXT NOT NULL DEFAULT 'default',
    global_tool_policy TEXT NOT NULL DEFAULT 'permissive',
    version            BIGINT NOT NULL DEFAULT 1,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO organization (id) VALUES (1);

-- Every change made through the API. `before` / `after` are the API representations, which
-- never carry a secret.
CREATE TABLE audit_events (
    id            UUID PRIMARY KEY,
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_key_id  UUID,
    actor_name    TEXT,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    team_id       UUID,
    before        JSONB,
    after         JSONB
);
CREATE INDEX audit_events_resource_idx ON audit_events (resource_type, resource_id);
CREATE INDEX audit_events_team_idx ON audit_events (team_id);
