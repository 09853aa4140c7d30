-- Config distribution: every change to anything a data-plane worker uses bumps one global
-- revision and records a change event in the same transaction. The single-row counter is
-- updated under a row lock, so revisions are assigned in commit order (a sequence would
-- not be: a later value can commit first, and a watcher would skip the earlier one).
CREATE TABLE config_revision (
    id       INT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 0);

CREATE TABLE config_changes (
    revision   BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
