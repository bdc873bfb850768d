"""Schema history. Each function moves the database one version forward; never edit a released
one, append a new one. ``PRAGMA user_version`` records how many have run."""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database


def v1_core(db: Database) -> None:
    db.table("events").create(
        {"seq": int, "day": str, "at": float, "type": str, "data": str}, pk="seq"
    )
    db.table("events").create_index(["day"])
    db.table("tickets").create(
        {
            "id": str,
            "day": str,
            "service": str,
            "number": str,
            "priority": str,
            "status": str,
            "issued_at": float,
            "enqueued_at": float,
            "called_at": float,
            "started_at": float,
            "finished_at": float,
            "window": str,
            "kiosk": str,
            "token": str,
            "recalls": int,
            "called_by": str,
            "finished_by": str,
            "predecessor": str,
            "successor": str,
            "identity": str,
            "name_masked": str,
            "appointment": str,
        },
        pk="id",
    )
    db.table("tickets").create_index(["day", "service"])
    db.table("tickets").create_index(["token"])
    db.table("tickets").create_index(["issued_at"])
    db.table("users").create(
        {
            "username": str,
            "password_hash": str,
            "role": str,
            "windows": str,
            "display_name": str,
            "created_at": float,
        },
        pk="username",
    )
    db.table("sessions").create(
        {
            "token_hash": str,
            "username": str,
            "window": str,
            "created_at": float,
            "expires_at": float,
        },
        pk="token_hash",
    )
    db.table("meta").create({"key": str, "value": str}, pk="key")


def v2_appointments_ratings(db: Database) -> None:
    """Online appointments (no clear ID number or phone: ``person`` is a keyed hash) and
    好差评 ratings with their follow-up."""
    db.table("appointments").create(
        {
            "code": str,
            "service": str,
            "day": str,
            "slot": str,
            "slot_start": float,
            "slot_end": float,
            "person": str,
            "person_kind": str,
            "name_masked": str,
            "contact_masked": str,
            "status": str,
            "created_at": float,
            "cancelled_at": float,
            "arrived_at": float,
            "late_s": float,
            "ticket_id": str,
        },
        pk="code",
    )
    db.table("appointments").create_index(["day", "service", "slot"])
    db.table("appointments").create_index(["person", "day"])
    db.table("appointments").create_index(["status", "slot_end"])
    db.table("ratings").create(
        {
            "id": int,
            "ticket_id": str,
            "day": str,
            "service": str,
            "number": str,
            "window": str,
            "staff": str,
            "level": int,
            "options": str,
            "comment": str,
            "source": str,
            "at": float,
            "followup": str,
            "due_at": float,
            "followup_note": str,
            "followup_by": str,
            "followup_at": float,
        },
        pk="id",
    )
    db.table("ratings").create_index(["ticket_id"], unique=True)
    db.table("ratings").create_index(["day"])
    db.table("ratings").create_index(["followup"])
    db.table("tickets").create_index(["appointment"])


def v3_reports_alarms(db: Database) -> None:
    """Day caches for fast reports (one columnar blob per closed day, see ``reports.py``) and
    the manager's alarm log with who acknowledged each alarm."""
    db.table("report_days").create(
        {"day": str, "version": int, "built_at": float, "n": int, "keys": str, "data": bytes},
        pk="day",
    )
    db.table("alarms").create(
        {
            "id": int,
            "day": str,
            "service": str,
            "kind": str,
            "value": float,
            "threshold": float,
            "raised_at": float,
            "peak": float,
            "cleared_at": float,
            "acked_by": str,
            "acked_at": float,
        },
        pk="id",
    )
    db.table("alarms").create_index(["day"])
    db.table("alarms").create_index(["cleared_at"])


def v4_devices(db: Database) -> None:
    """Kiosk devices: agent tokens (a hash only), each kiosk's last known device states, and
    print jobs, so that a ticket is printed once even across reconnects and restarts."""
    db.table("device_tokens").create(
        {"kiosk": str, "token_hash": str, "created_at": float}, pk="kiosk"
    )
    db.table("device_tokens").create_index(["token_hash"], unique=True)
    db.table("devices").create(
        {
            "kiosk": str,
            "mode": str,
            "has_printer": int,
            "has_reader": int,
            "printer": str,
            "printer_detail": str,
            "reader": str,
            "reader_detail": str,
            "last_seen": float,
        },
        pk="kiosk",
    )
    db.table("print_jobs").create(
        {
            "id": str,
            "day": str,
            "kiosk": str,
            "ticket_id": str,
            "number": str,
            "service": str,
            "payload": str,
            "created_at": float,
            "updated_at": float,
            "state": str,
            "reason": str,
            "attempt": int,
            "acked": int,
            "printed_at": float,
        },
        pk="id",
    )
    db.table("print_jobs").create_index(["day", "kiosk"])
    db.table("print_jobs").create_index(["ticket_id"])


def v5_webhooks(db: Database) -> None:
    """Webhook receivers, the outbox they read in order, and the delivery log.

    The outbox is derived from the event log, the ratings and the alarms by a pump whose
    cursors (in ``meta``) move in the same transaction as the rows it adds; they start at the
    present, so an upgraded hall does not send its past. ``AUTOINCREMENT``: a sequence number
    is never reused, even after old rows are pruned, since receivers' cursors point into it."""
    db.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
        "type TEXT NOT NULL, at REAL NOT NULL, body TEXT NOT NULL)"
    )
    db.table("outbox").create_index(["at"])
    db.table("webhooks").create(
        {
            "id": int,
            "url": str,
            "events": str,
            "secret": str,
            "description": str,
            "created_at": float,
            "state": str,
            "cursor": int,
            "replay_next": int,
            "replay_to": int,
            "failures": int,
            "failing_since": float,
            "next_attempt_at": float,
            "last_attempt_at": float,
            "last_success_at": float,
            "last_status": int,
            "last_error": str,
            "delivered": int,
        },
        pk="id",
    )
    db.table("webhook_attempts").create(
        {
            "id": int,
            "webhook": int,
            "seq": int,
            "msg": str,
            "type": str,
            "at": float,
            "attempt": int,
            "replay": int,
            "status": int,
            "ok": int,
            "error": str,
            "ms": float,
        },
        pk="id",
    )
    db.table("webhook_attempts").create_index(["webhook", "id"])
    for key, sql in (
        ("outbox.events", "SELECT max(seq) FROM events"),
        ("outbox.ratings", "SELECT max(id) FROM ratings"),
        ("outbox.alarms", "SELECT max(id) FROM alarms"),
    ):
        last = db.execute(sql).fetchone()[0] or 0
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(last)))


def v6_appointment_item(db: Database) -> None:
    """The service item (事项) an appointment is for: people book 社会保障卡补领, not 社会保障."""
    db.table("appointments").add_column("item", str)


def v7_device_credentials(db: Database) -> None:
    """Kiosks and evaluator pads as paired devices: one-time pairing codes and the browsers
    they paired (hashes only; see ``guard/credentials.py``)."""
    db.table("pairing_codes").create(
        {"code_hash": str, "device": str, "expires_at": float, "single_use": int, "used_at": float},
        pk="code_hash",
    )
    db.table("device_sessions").create(
        {"token_hash": str, "device": str, "created_at": float}, pk="token_hash"
    )
    db.table("device_sessions").create_index(["device"])
    # a booking whose phone was proven (SMS code); only those count towards a suspension.
    # Earlier bookings keep counting as they did.
    db.execute("ALTER TABLE appointments ADD COLUMN verified INTEGER NOT NULL DEFAULT 1")


def v8_ticket_item(db: Database) -> None:
    """The service item a ticket is for, so the clerk and the reports know what people came
    for, not only the category."""
    db.table("tickets").add_column("item", str)


def v9_rating_phones_audit(db: Database) -> None:
    """The phone number a visitor may leave with a 差评, sealed (``guard/phone_box.py``) and
    masked, in a table of its own so that nothing reading ``ratings`` carries it along; erased
    (``sealed`` and ``masked`` set to NULL) once followed up or after ``[ratings]
    phone_keep_days``. And an audit log of who did what to personal data (revealing a number,
    erasing it): the event log is the queue's, replayed at restart, so it is not the place."""
    db.execute(
        "CREATE TABLE rating_phones (rating_id INTEGER PRIMARY KEY REFERENCES ratings(id), "
        "sealed BLOB, masked TEXT, kept_at REAL NOT NULL, erased_at REAL, erased_why TEXT)"
    )
    db.execute(
        "CREATE INDEX rating_phones_kept ON rating_phones (kept_at) WHERE sealed IS NOT NULL"
    )
    db.table("audit_log").create(
        {"id": int, "at": float, "actor": str, "action": str, "subject": str, "detail": str},
        pk="id",
    )
    db.table("audit_log").create_index(["subject"])


MIGRATIONS: list[Callable[[Database], None]] = [
    v1_core,
    v2_appointments_ratings,
    v3_reports_alarms,
    v4_devices,
    v5_webhooks,
    v6_appointment_item,
    v7_device_credentials,
    v8_ticket_item,
    v9_rating_phones_audit,
]
