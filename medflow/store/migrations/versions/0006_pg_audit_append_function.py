"""PostgreSQL: append an audit event in one round trip.

Every write transaction appends its audit event under the chain lock. Done from Python that
takes two round trips (take the lock and read the chain head; insert the event hashed onto
it). medflow_audit_append does both in the database: it takes the same advisory lock the
Python path takes, reads the head, and stores the event with its hash — SHA-256 of the same
JSON array medflow/audit/chain.py hashes, assembled from the head and the text of the array
after seq, which the server computes (`hashed_tail`). `medflow audit verify` recomputes
every hash in Python, so an event this function wrote is checked like any other.

Each statement of a (volatile) PL/pgSQL function takes a fresh snapshot under READ
COMMITTED, so the head is read after the lock is granted and sees the append of the
transaction that released it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHAIN_LOCK = 0x6D65_6466  # medflow/store/audit.py: _PG_CHAIN_LOCK


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION medflow_audit_append(
            p_event_time bigint, p_request_id varchar, p_actor varchar, p_actor_id integer,
            p_auth_method varchar, p_client_addr varchar, p_action varchar, p_resource_type varchar,
            p_resource_id varchar, p_outcome varchar, p_error_code varchar, p_details text,
            p_hashed_tail text) RETURNS bigint AS $$
        DECLARE
            head_seq bigint;
            head_hash varchar(64);
        BEGIN
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
            SELECT seq, hash INTO head_seq, head_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
            IF NOT FOUND THEN
                head_seq := 0;
                head_hash := repeat('0', 64);
            END IF;
            INSERT INTO audit_events (seq, event_time, request_id, actor, actor_id, auth_method, client_addr,
                                      action, resource_type, resource_id, outcome, error_code, details,
                                      prev_hash, hash)
            VALUES (head_seq + 1, p_event_time, p_request_id, p_actor, p_actor_id, p_auth_method, p_client_addr,
                    p_action, p_resource_type, p_resource_id, p_outcome, p_error_code, p_details, head_hash,
                    encode(sha256(convert_to('["' || head_hash || '",' || (head_seq + 1) || ',' || p_hashed_tail,
                                             'UTF8')), 'hex'));
            RETURN head_seq + 1;
        END $$ LANGUAGE plpgsql""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS medflow_audit_append(bigint, varchar, varchar, integer, varchar, varchar, "
                   "varchar, varchar, varchar, varchar, varchar, text, text)")
