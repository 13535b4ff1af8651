"""Analytics benchmark: the utilisation job over 1,000,000 bookings beside hand-written SQL of the same figures in the
same run (target: at most 3x), and an incremental run after 1,000 changed bookings.

    .venv/bin/python bench/analytics.py              # a few minutes on a 2-core machine
    BENCH_QUICK=1 .venv/bin/python bench/analytics.py   # 100,000 bookings, for a smoke run

It (re)creates a dedicated PostgreSQL database (``labs_bench_analytics``, loopback only), migrates it and seeds one
site with 500 rooms (2 to 24 seats), 1,000 people and 2,000 room bookings per room over about 250 days with one
``INSERT ... SELECT generate_series`` (the exclusion constraints in place): working hours, a fifth released as
no-shows, one in twenty cancelled, the rest checked in and completed, some with attendees. Then it measures:

- the job: ``analytics.services.run_execute`` over the whole period (every day computed: the snapshots per room per
  local day and per hour, the period report with k-anonymity and recommendations);
- the same figures as hand-written SQL (PostgreSQL's ``AT TIME ZONE`` for local days, one statement per figure
  table, results fetched, nothing written), in the same run: the ratio job / SQL;
- the incremental job after 1,000 bookings of the last week changed (re-timed, released, cancelled).

It prints the figures and writes bench/results/analytics.json. The database is dropped at the end (``BENCH_KEEP=1``
keeps it).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "labs_bench_analytics")
QUICK = os.environ.get("BENCH_QUICK") == "1"
KEEP = os.environ.get("BENCH_KEEP") == "1"
ROOMS = 500 if not QUICK else 100
BOOKINGS_PER_ROOM = 2000 if not QUICK else 1000
PER_DAY = 8  # bookings per room and working day
PEOPLE = 1000
CHANGED = 1000
TARGET_RATIO = 3.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

if urlsplit(SERVER).hostname not in LOOPBACK:
    raise SystemExit("The benchmark only talks to a database on loopback.")

ENV = {
    **os.environ,
    "DATABASE_URL": f"{SERVER}/{DB_NAME}",
    "DJANGO_SETTINGS_MODULE": "labs.settings",
    "DJANGO_DEBUG": "false",
    "LOG_LEVEL": "ERROR",
    "CELERY_TASK_ALWAYS_EAGER": "true",
}
os.environ.update({k: ENV[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "LOG_LEVEL")})

import psycopg  # noqa: E402


def log(message: str) -> None:
    print(message, flush=True)


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def migrate() -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=ENV, check=True, timeout=600
    )


def seed() -> dict:
    import django

    django.setup()
    from django.db import connection

    from bookings.models import BookingPolicy
    from labs.models import Floor, Site

    site = Site.objects.create(slug="bench", name="Bench", timezone="Europe/Copenhagen")
    floors = [Floor.objects.create(site=site, level=level, name=f"Floor {level}") for level in range(1, 6)]
    BookingPolicy.objects.create(site=site)
    days = BOOKINGS_PER_ROOM // PER_DAY
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                   is_active, date_joined)
            SELECT '!', false, 'bench' || i, 'Bench', 'Person ' || i, 'bench' || i || '@example.test', false, true,
                   now()
              FROM generate_series(1, %s) AS i
            """,
            [PEOPLE],
        )
        cursor.execute(
            """
            INSERT INTO labs_person (user_id, role, site_id, phone, job_title, created_at)
            SELECT id, 'mentor', %s, '', '', now() FROM auth_user WHERE username LIKE 'bench%%'
            """,
            [site.pk],
        )
        cursor.execute(
            """
            INSERT INTO bookings_room (site_id, floor_id, name, capacity, amenities, is_active, buffer_minutes,
                                       google_calendar_id, microsoft_resource_email)
            SELECT %s, (ARRAY[%s, %s, %s, %s, %s])[1 + i %% 5], 'Room ' || lpad(i::text, 3, '0'),
                   (ARRAY[2, 2, 4, 4, 4, 6, 8, 10, 12, 24])[1 + i %% 10], '[]'::jsonb, true, 0, '', ''
              FROM generate_series(1, %s) AS i
            """,
            [site.pk, *[f.pk for f in floors], ROOMS],
        )
        # Per room and day PER_DAY one-hour bookings between 08:00 and 18:00 local, ending yesterday; statuses by a
        # hash of (room, day, slot): 20 % no-shows, 5 % cancelled, the rest checked in (some late) and completed.
        cursor.execute(
            """
            WITH p AS (SELECT array_agg(id ORDER BY id) AS ids FROM labs_person WHERE site_id = %(site)s)
            INSERT INTO bookings_booking (uid, site_id, room_id, organiser_id, title, attendees, attendee_count,
                start, "end", hold_end, status, source, is_moved, override_reason, sequence, checked_in_at,
                checked_in_via, released_at, created_at, updated_at)
            SELECT gen_random_uuid(), %(site)s, r.id, p.ids[1 + (h %% %(people)s)], '',
                   CASE WHEN h %% 10 = 0 THEN jsonb_build_array('guest' || (h %% 997) || '@example.test',
                                                                 'guest' || (h %% 991) || '@example.test')
                        ELSE '[]'::jsonb END,
                   CASE WHEN h %% 10 = 0 THEN NULL ELSE h %% 4 END,
                   s.start, s.start + interval '1 hour', s.start + interval '1 hour',
                   CASE WHEN h %% 20 = 7 THEN 'cancelled' WHEN h %% 5 = 1 THEN 'released' ELSE 'completed' END,
                   'import', false, '', 0,
                   CASE WHEN h %% 20 <> 7 AND h %% 5 <> 1 THEN s.start + (h %% 9) * interval '1 minute' END,
                   CASE WHEN h %% 20 <> 7 AND h %% 5 <> 1 THEN 'badge' ELSE '' END,
                   CASE WHEN h %% 20 <> 7 AND h %% 5 = 1 THEN s.start + interval '10 minutes' END,
                   s.start - (1 + h %% 200) * interval '1 hour', now()
              FROM p, bookings_room r
              CROSS JOIN generate_series(1, %(days)s) AS d(n)
              CROSS JOIN generate_series(0, %(per_day)s - 1) AS k(slot)
              CROSS JOIN LATERAL (SELECT abs(hashint4((r.id * 100000 + d.n * 10 + k.slot)::int)) AS h) hh
              CROSS JOIN LATERAL (
                SELECT ((current_date - d.n) + make_time(8 + k.slot + (CASE WHEN k.slot >= 4 THEN 2 ELSE 0 END), 0, 0))
                       AT TIME ZONE 'Europe/Copenhagen' AS start) s
             WHERE r.site_id = %(site)s
            """,
            {"site": site.pk, "people": PEOPLE, "days": days, "per_day": PER_DAY},
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*), min(start), max(start) FROM bookings_booking")
        count, first, last = cursor.fetchone()
    seconds = time.perf_counter() - started
    tz = site.tz
    return {
        "site_id": site.pk,
        "bookings": count,
        "from": first.astimezone(tz).date(),
        "to": last.astimezone(tz).date(),
        "seed_seconds": round(seconds, 1),
    }


def run_job(seeded: dict) -> tuple[float, object]:
    from analytics import services
    from labs.models import Site

    site = Site.objects.get(pk=seeded["site_id"])
    run = services.run_create(site=site, date_from=seeded["from"], date_to=seeded["to"], enqueue=False)
    started = time.perf_counter()
    done = services.run_execute(run_id=run.pk)
    elapsed = time.perf_counter() - started
    if done.state != "done":
        raise SystemExit(f"the run failed: {done.error}")
    return elapsed, done


HELD = "('confirmed', 'checked_in', 'completed')"
HAND_WRITTEN = {
    # Per room per local day: every figure of the rooms table (hours clipped to 07:00-20:00 local).
    "room_days": f"""
        WITH d AS (
          SELECT g::date AS day, (g::date + time '07:00') AT TIME ZONE %(tz)s AS o_s,
                 (g::date + time '20:00') AT TIME ZONE %(tz)s AS o_e,
                 g::date::timestamp AT TIME ZONE %(tz)s AS d_s, (g::date + 1)::timestamp AT TIME ZONE %(tz)s AS d_e
            FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') g)
        SELECT b.room_id, d.day,
          sum(CASE WHEN b.status IN {HELD} THEN greatest(0, extract(epoch FROM least(b."end", d.o_e)
              - greatest(b.start, d.o_s)) / 3600) ELSE 0 END),
          sum(CASE WHEN b.checked_in_at IS NOT NULL AND b.status IN ('checked_in', 'completed')
              THEN greatest(0, extract(epoch FROM least(b."end", d.o_e) - greatest(b.checked_in_at, d.o_s)) / 3600)
              ELSE 0 END),
          sum(CASE WHEN b.status = 'released' THEN greatest(0, extract(epoch FROM least(coalesce(b.released_at,
              b.start + interval '10 minutes'), b."end", d.o_e) - greatest(b.start, d.o_s)) / 3600) ELSE 0 END),
          count(*) FILTER (WHERE b.start >= d.d_s AND b.status IN {HELD}),
          count(*) FILTER (WHERE b.start >= d.d_s AND b.status IN ('checked_in', 'completed', 'released')),
          count(*) FILTER (WHERE b.start >= d.d_s AND b.status = 'released'),
          sum((1.0 + coalesce(b.attendee_count, jsonb_array_length(b.attendees))) / r.capacity)
              FILTER (WHERE b.start >= d.d_s AND b.status IN {HELD}),
          count(*) FILTER (WHERE b.start >= d.d_s AND b.status IN {HELD} AND EXISTS (
              SELECT 1 FROM bookings_room r2 WHERE r2.site_id = b.site_id AND r2.is_active AND r2.id <> b.room_id
                 AND (CASE WHEN r2.capacity <= 2 THEN 1 WHEN r2.capacity <= 4 THEN 2 WHEN r2.capacity <= 8 THEN 3
                      ELSE 4 END) = (CASE WHEN r.capacity <= 2 THEN 1 WHEN r.capacity <= 4 THEN 2
                      WHEN r.capacity <= 8 THEN 3 ELSE 4 END)
                 AND NOT EXISTS (SELECT 1 FROM bookings_booking b3 WHERE b3.room_id = r2.id
                      AND b3.status IN {HELD} AND b3.hold_end > b.start AND b3.start < b."end")))
        FROM d JOIN bookings_booking b ON b.site_id = %(site)s AND b.room_id IS NOT NULL
             AND b.start < d.d_e AND b."end" > d.d_s AND b.start >= d.d_s - %(look_back)s
        JOIN bookings_room r ON r.id = b.room_id
        GROUP BY 1, 2
    """,  # noqa: S608 - HELD is a constant
    # Lead-time and meeting-size histograms per room and day.
    "histograms": f"""
        SELECT b.room_id, (b.start AT TIME ZONE %(tz)s)::date,
               floor(extract(epoch FROM b.start - b.created_at) / 900)::int, count(*)
          FROM bookings_booking b
         WHERE b.site_id = %(site)s AND b.room_id IS NOT NULL AND b.status IN {HELD} AND b.created_at <= b.start
         GROUP BY 1, 2, 3
        UNION ALL
        SELECT b.room_id, (b.start AT TIME ZONE %(tz)s)::date,
               1 + coalesce(b.attendee_count, jsonb_array_length(b.attendees)), count(*)
          FROM bookings_booking b
         WHERE b.site_id = %(site)s AND b.room_id IS NOT NULL AND b.status IN {HELD}
         GROUP BY 1, 2, 3
    """,  # noqa: S608 - HELD is a constant
    # Per local hour and room band: booked and occupied room-hours.
    "hours": f"""
        WITH h AS (
          SELECT hs AS h_s, hs + interval '1 hour' AS h_e
            FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') g,
                 generate_series(((g::date + time '07:00') AT TIME ZONE %(tz)s),
                                 ((g::date + time '19:00') AT TIME ZONE %(tz)s), interval '1 hour') hs)
        SELECT h.h_s,
               CASE WHEN r.capacity <= 2 THEN 1 WHEN r.capacity <= 4 THEN 2 WHEN r.capacity <= 8 THEN 3 ELSE 4 END,
          sum(CASE WHEN b.status IN {HELD} THEN greatest(0, extract(epoch FROM least(b."end", h.h_e)
              - greatest(b.start, h.h_s)) / 3600) ELSE 0 END),
          sum(CASE WHEN b.checked_in_at IS NOT NULL AND b.status IN ('checked_in', 'completed')
              THEN greatest(0, extract(epoch FROM least(b."end", h.h_e) - greatest(b.checked_in_at, h.h_s)) / 3600)
              ELSE 0 END)
        FROM h JOIN bookings_booking b ON b.site_id = %(site)s AND b.room_id IS NOT NULL
             AND b.start < h.h_e AND b."end" > h.h_s AND b.start >= h.h_s - %(look_back)s
             AND b.status IN ('confirmed', 'checked_in', 'completed', 'released')
        JOIN bookings_room r ON r.id = b.room_id
        GROUP BY 1, 2
    """,  # noqa: S608 - HELD is a constant
    # Rooms booked at once at each quarter hour, per band.
    "peaks": f"""
        WITH s AS (
          SELECT qs AS at
            FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') g,
                 generate_series(((g::date + time '07:00') AT TIME ZONE %(tz)s),
                                 ((g::date + time '19:45') AT TIME ZONE %(tz)s), interval '15 minutes') qs)
        SELECT s.at,
               CASE WHEN r.capacity <= 2 THEN 1 WHEN r.capacity <= 4 THEN 2 WHEN r.capacity <= 8 THEN 3 ELSE 4 END,
               count(DISTINCT b.room_id)
        FROM s JOIN bookings_booking b ON b.site_id = %(site)s AND b.room_id IS NOT NULL AND b.status IN {HELD}
             AND b.start <= s.at AND b."end" > s.at AND b.start >= s.at - %(look_back)s
        JOIN bookings_room r ON r.id = b.room_id
        GROUP BY 1, 2
    """,  # noqa: S608 - HELD is a constant
    # k-anonymity: distinct people (organisers by e-mail, attendees) per room and per weekday x hour cell.
    "people_by_room": """
        SELECT k, count(DISTINCT who) FROM (
          SELECT b.room_id AS k, lower(u.email) AS who FROM bookings_booking b
            JOIN labs_person p ON p.id = b.organiser_id JOIN auth_user u ON u.id = p.user_id
           WHERE b.site_id = %(site)s AND b.room_id IS NOT NULL
             AND b.status IN ('confirmed', 'checked_in', 'completed', 'released')
          UNION ALL
          SELECT b.room_id, lower(e) FROM bookings_booking b, jsonb_array_elements_text(b.attendees) e
           WHERE b.site_id = %(site)s AND b.room_id IS NOT NULL
             AND b.status IN ('confirmed', 'checked_in', 'completed', 'released')) x
        GROUP BY k
    """,
    "people_by_cell": """
        WITH h AS (
          SELECT hs AS h_s, hs + interval '1 hour' AS h_e,
                 extract(isodow FROM hs AT TIME ZONE %(tz)s) * 100 + extract(hour FROM hs AT TIME ZONE %(tz)s) AS cell
            FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') g,
                 generate_series(((g::date + time '07:00') AT TIME ZONE %(tz)s),
                                 ((g::date + time '19:00') AT TIME ZONE %(tz)s), interval '1 hour') hs)
        SELECT cell, count(DISTINCT who) FROM (
          SELECT h.cell, lower(u.email) AS who FROM h JOIN bookings_booking b ON b.site_id = %(site)s
             AND b.room_id IS NOT NULL AND b.start < h.h_e AND b."end" > h.h_s AND b.start >= h.h_s - %(look_back)s
             AND b.status IN ('confirmed', 'checked_in', 'completed', 'released')
            JOIN labs_person p ON p.id = b.organiser_id JOIN auth_user u ON u.id = p.user_id
          UNION ALL
          SELECT h.cell, lower(e) FROM h JOIN bookings_booking b ON b.site_id = %(site)s
             AND b.room_id IS NOT NULL AND b.start < h.h_e AND b."end" > h.h_s AND b.start >= h.h_s - %(look_back)s
             AND b.status IN ('confirmed', 'checked_in', 'completed', 'released')
            CROSS JOIN LATERAL jsonb_array_elements_text(b.attendees) e) x
        GROUP BY cell
    """,
}


def hand_written(seeded: dict) -> tuple[float, dict]:
    from datetime import timedelta

    params = {
        "site": seeded["site_id"],
        "tz": "Europe/Copenhagen",
        "from": seeded["from"],
        "to": seeded["to"],
        "look_back": timedelta(hours=1, seconds=1),
    }
    timings = {}
    started = time.perf_counter()
    with psycopg.connect(ENV["DATABASE_URL"]) as conn:
        conn.execute("SET jit = off")  # as the job runs them: JIT costs more than these statements save
        for name, statement in HAND_WRITTEN.items():
            t = time.perf_counter()
            rows = conn.execute(statement, params).fetchall()
            timings[name] = {"seconds": round(time.perf_counter() - t, 3), "rows": len(rows)}
    return time.perf_counter() - started, timings


def change_bookings(seeded: dict) -> None:
    """1,000 bookings of the last week change: a third re-timed by 30 minutes, a third released, a third cancelled."""
    with psycopg.connect(ENV["DATABASE_URL"], autocommit=True) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                """SELECT id FROM bookings_booking WHERE site_id = %s AND status = 'completed'
                   AND start >= now() - interval '7 days' ORDER BY hashint4(id::int) LIMIT %s""",
                [seeded["site_id"], CHANGED],
            ).fetchall()
        ]
        third = len(ids) // 3
        conn.execute(
            """UPDATE bookings_booking SET start = start + interval '30 minutes', "end" = "end" + interval '30 minutes',
               hold_end = hold_end + interval '30 minutes', updated_at = now()
               WHERE id = ANY(%s) AND NOT EXISTS (
                 SELECT 1 FROM bookings_booking o WHERE o.room_id = bookings_booking.room_id
                    AND o.id <> bookings_booking.id AND o.status IN ('confirmed', 'checked_in', 'completed')
                    AND o.start < bookings_booking.hold_end + interval '30 minutes'
                    AND o.hold_end > bookings_booking.start + interval '30 minutes')""",
            [ids[:third]],
        )
        conn.execute(
            "UPDATE bookings_booking SET status = 'released', released_at = start + interval '10 minutes', "
            "checked_in_at = NULL, updated_at = now() WHERE id = ANY(%s)",
            [ids[third : 2 * third]],
        )
        conn.execute(
            "UPDATE bookings_booking SET status = 'cancelled', cancelled_at = now(), updated_at = now() "
            "WHERE id = ANY(%s)",
            [ids[2 * third :]],
        )


def main() -> None:
    log(f"analytics bench: {ROOMS} rooms x {BOOKINGS_PER_ROOM} bookings into {DB_NAME}")
    recreate_database()
    try:
        migrate()
        seeded = seed()
        log(f"seeded {seeded['bookings']:,} bookings {seeded['from']}..{seeded['to']} in {seeded['seed_seconds']} s")
        sql_seconds, sql_timings = hand_written(seeded)
        log(f"hand-written SQL of the same figures: {sql_seconds:.2f} s {json.dumps(sql_timings)}")
        job_seconds, run = run_job(seeded)
        log(f"job over every day: {job_seconds:.2f} s ({run.days_recomputed} days)")
        sql_again, _ = hand_written(seeded)
        sql_best = min(sql_seconds, sql_again)
        log(f"hand-written SQL again: {sql_again:.2f} s")
        again_seconds, again = run_job(seeded)
        log(f"job with nothing changed: {again_seconds:.2f} s ({again.days_recomputed} days)")
        change_bookings(seeded)
        incremental_seconds, incremental = run_job(seeded)
        log(f"job after {CHANGED} changed bookings: {incremental_seconds:.2f} s ({incremental.days_recomputed} days)")
        ratio = job_seconds / sql_best
        result = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "bookings": seeded["bookings"],
            "rooms": ROOMS,
            "days": (seeded["to"] - seeded["from"]).days + 1,
            "seed_seconds": seeded["seed_seconds"],
            "hand_written_sql_seconds": round(sql_best, 3),
            "hand_written_sql": sql_timings,
            "job_seconds": round(job_seconds, 3),
            "job_vs_sql_ratio": round(ratio, 2),
            "target_ratio_max": TARGET_RATIO,
            "unchanged_job_seconds": round(again_seconds, 3),
            "incremental_changed_bookings": CHANGED,
            "incremental_job_seconds": round(incremental_seconds, 3),
            "incremental_days_recomputed": incremental.days_recomputed,
            "meets_target": ratio <= TARGET_RATIO,
        }
        log(json.dumps(result, indent=2, default=str))
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "analytics.json").write_text(json.dumps(result, indent=2, default=str))
    finally:
        if not KEEP:
            from django.db import connections

            connections.close_all()
            drop_database()


if __name__ == "__main__":
    main()
