"""The store's schema as a list of migrations, applied in order; ``PRAGMA user_version`` counts them.

Append only: a migration that has shipped is never edited, so every store, however old, reaches
the same schema. Each entry's comment says which module owns its tables.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MIGRATIONS"]

MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        opened_at REAL NOT NULL,
        resolved_at REAL,
        severity TEXT,
        summary TEXT NOT NULL,
        flapping INTEGER NOT NULL DEFAULT 0,
        ticket_ref TEXT
    );
    CREATE UNIQUE INDEX incidents_one_open ON incidents(key) WHERE resolved_at IS NULL;
    CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT,
        summary TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        sink TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox(state, next_at);
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        priority TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE ticket_comments (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        at REAL NOT NULL,
        body TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        until REAL NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX silences_site ON silences(site, until);
    """,
    """
    CREATE TABLE results (
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        at REAL NOT NULL,
        status TEXT NOT NULL,
        duration REAL NOT NULL
    );
    CREATE INDEX results_site_at ON results(site, at);
    """,
    # Each sink has its own reference for an incident's ticket (a Redmine id, a Jira key, ...).
    # Until this table, one column on the incident held whichever sink answered last.
    """
    CREATE TABLE ticket_refs (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        sink TEXT NOT NULL,
        ref TEXT NOT NULL,
        PRIMARY KEY (incident_id, sink)
    );
    INSERT INTO ticket_refs (incident_id, sink, ref)
        SELECT i.id, MIN(o.sink), i.ticket_ref FROM incidents i JOIN outbox o ON o.incident_id = i.id
        WHERE i.ticket_ref IS NOT NULL AND o.action = 'open' AND o.state = 'done'
        GROUP BY i.id HAVING COUNT(DISTINCT o.sink) = 1;
    """,
    # Who acknowledged a local ticket and when: the response the night engineer gave.
    """
    ALTER TABLE tickets ADD COLUMN acked_by TEXT;
    ALTER TABLE tickets ADD COLUMN acked_at REAL;
    """,
    # Silences name who set them, and who lifted them early (sitewatch/store/silences.py).
    """
    ALTER TABLE silences ADD COLUMN author TEXT;
    ALTER TABLE silences ADD COLUMN lifted_at REAL;
    ALTER TABLE silences ADD COLUMN lifted_by TEXT;
    """,
    # The SLA life of an incident, append-only: acknowledged, waiting for the client, resumed
    # (sitewatch/store/life.py). ``source`` says which desk or tool the change came from.
    """
    CREATE TABLE incident_life (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at REAL NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('ack', 'wait', 'resume')),
        by TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT 'local'
    );
    CREATE INDEX incident_life_incident ON incident_life(incident_id, at);
    """,
    # The SLA terms an incident runs on (client, priority, targets, calendar as JSON), updated with a
    # priority change; outcomes are written once, when a goal is settled (sitewatch/store/sla.py).
    """
    CREATE TABLE incident_sla (
        incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
        client TEXT NOT NULL,
        priority TEXT NOT NULL,
        response REAL NOT NULL,
        resolve REAL NOT NULL,
        calendar TEXT NOT NULL,
        timezone TEXT NOT NULL,
        language TEXT NOT NULL,
        response_outcome TEXT,
        response_seconds REAL,
        resolve_outcome TEXT,
        resolve_seconds REAL
    );
    CREATE INDEX incident_sla_unsettled ON incident_sla(response_outcome, resolve_outcome);
    -- How far each desk's status history of an incident's ticket has been read (sitewatch/tickets/readback.py).
    CREATE TABLE desk_seen (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        sink TEXT NOT NULL,
        seen_until REAL NOT NULL,
        seen_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (incident_id, sink)
    );
    """,
    # Escalation steps that fired, one row per (incident, step, repeat) ever, written in the same
    # transaction as their outbox rows; and the on-call messages sent, for later edits
    # (sitewatch/store/escalations.py).
    """
    CREATE TABLE escalation_fired (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        step INTEGER NOT NULL,
        repeat INTEGER NOT NULL,
        level TEXT NOT NULL DEFAULT '',
        due_at REAL NOT NULL,
        fired_at REAL NOT NULL,
        late INTEGER NOT NULL DEFAULT 0,
        targets TEXT NOT NULL DEFAULT ''
    );
    CREATE UNIQUE INDEX escalation_fired_once ON escalation_fired(incident_id, step, repeat);
    CREATE TABLE notifier_messages (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        notifier TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        at REAL NOT NULL,
        UNIQUE (notifier, chat_id, message_id)
    );
    CREATE INDEX notifier_messages_incident ON notifier_messages(incident_id);
    -- The escalator reads each open incident's newest payload every pass.
    CREATE INDEX outbox_incident ON outbox(incident_id, action);
    """,
)
