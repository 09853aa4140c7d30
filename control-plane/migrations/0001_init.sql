-- Admin API keys for /api/v1. Only the SHA-256 of each key is stored.
CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    role         TEXT NOT NULL DEFAULT 'admin',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);

CREATE TABLE profiles (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Provider secrets are AES-256-GCM ciphertext (nonce || ciphertext || tag).
CREATE TABLE provider_keys (
    id               UUID PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    provider         TEXT NOT NULL,
    secret_encrypted BYTEA NOT NULL,
    secret_last_four TEXT NOT NULL,
    base_url         TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Virtual keys: only the SHA-256 of the token is stored.
CREATE TABLE virtual_keys (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    profile_id   UUID NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Which provider key a virtual key uses for each provider. Deleting a provider key that a
-- virtual key still maps is refused (RESTRICT) rather than silently unmapping it.
CREATE TABLE virtual_key_provider_keys (
    virtual_key_id  UUID NOT NULL REFERENCES virtual_keys (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    provider_key_id UUID NOT NULL REFERENCES provider_keys (id) ON DELETE RESTRICT,
    PRIMARY KEY (virtual_key_id, provider)
);
