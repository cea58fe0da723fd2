#!/usr/bin/python3
"""Checks that the PostgreSQL migrations (src/store/migrations/postgres/) build the schema the
SQLite ones (src/store/migrations/) build, version by version, and keep rows when they upgrade.

    /usr/bin/python3 tests/pg_schema_compare.py

Starts a throwaway PostgreSQL cluster with .ci/pg-cluster (port GROUPSMS_PG_PORT, 54339 unless
set, so it does not meet a cluster on the tests' usual 54329) and stops it at the end. Each
PostgreSQL migration is applied by psql in one transaction with ON_ERROR_STOP; the SQLite ones
run in an in-memory database the way the store's runner runs them (foreign keys off during a
migration, checked after it).

What is compared, at every version 0001..N: the tables; per table the columns in order, their
type class (integer/text/real/blob, and PostgreSQL integers must be BIGINT), NOT NULL, default,
and whether the column numbers itself (rowid alias / identity); the primary key; the UNIQUE
constraints; the foreign keys (columns, target, ON DELETE, ON UPDATE); the indexes created by
name (columns, uniqueness, partial WHERE); views and triggers. Then, on the last version,
probes of the CHECK and foreign key constraints: the same statements must be accepted or
refused alike on both engines. Then upgrades: for each k, rows written at version k must
read back the same after migrating to N, on both engines.

Prints every difference and exits 1 if there is one (2 when the check could not run)."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQLITE_DIR = os.path.join(ROOT, "src", "store", "migrations")
PG_DIR = os.path.join(SQLITE_DIR, "postgres")
MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# Differences the engines impose, each with why; anything else is a failure. A listed
# difference that no longer shows up is reported too (the list would be stale).
KNOWN = {
    ("sim_quarantine", "sim", "notnull"): "SQLite lets the non-integer PRIMARY KEY of a rowid "
    "table hold NULL (a historical quirk); a PostgreSQL primary key is always NOT NULL",
}


def fail_setup(msg):
    print(f"pg_schema_compare: {msg}", file=sys.stderr)
    sys.exit(2)


def migrations(directory):
    found = sorted(f for f in os.listdir(directory) if MIGRATION.match(f))
    if not found:
        fail_setup(f"no NNNN_name.sql migrations in {directory}")
    return found


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    def __init__(self, admin_url):
        self.admin_url = admin_url

    def url(self, db):
        return self.admin_url.rsplit("/", 1)[0] + "/" + db

    def psql(self, db, *args, sql=None, check=True):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(db), *args]
        out = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"psql {' '.join(args)} on {db} failed:\n{out.stderr}")
        return out

    def create_db(self, db):
        self.psql("postgres", "-c", f"DROP DATABASE IF EXISTS {db}")
        self.psql("postgres", "-c", f"CREATE DATABASE {db}")

    def migrate(self, db, path):
        self.psql(db, "--single-transaction", "-f", path)

    def json(self, db, query):
        out = self.psql(db, "-At", "-c", f"SELECT coalesce(json_agg(q), '[]') FROM ({query}) q")
        return json.loads(out.stdout)

    def rows(self, db, query):
        out = self.psql(db, "-At", "-F", "|", "-c", query)
        return out.stdout.splitlines()

    def schema(self, db):
        s = {}
        tables = self.json(db, """
            SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')""")
        for t in tables:
            s[t["name"]] = {"columns": [], "pk": (), "uniques": set(), "fks": set(),
                            "indexes": {}, "bad_types": []}
        for c in self.json(db, """
                SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type,
                       a.attnotnull AS notnull, a.attidentity <> '' AS auto,
                       pg_get_expr(d.adbin, d.adrelid) AS dflt
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                  AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY c.relname, a.attnum"""):
            cls = {"bigint": "integer", "integer": "integer", "smallint": "integer",
                   "text": "text", "double precision": "real", "real": "real",
                   "bytea": "blob"}.get(c["type"], "other:" + c["type"])
            if cls == "integer" and c["type"] != "bigint":
                s[c["tbl"]]["bad_types"].append(f"{c['col']} is {c['type']}, not bigint")
            s[c["tbl"]]["columns"].append(
                (c["col"], cls, c["notnull"], norm_default(c["dflt"]), c["auto"]))
        for k in self.json(db, """
                SELECT c.conrelid::regclass::text AS tbl, c.contype AS kind,
                       array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                             ORDER BY k.i) AS cols,
                       c.confrelid::regclass::text AS ref,
                       array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                             ORDER BY k.i) AS refcols,
                       c.confdeltype AS del, c.confupdtype AS upd
                FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')"""):
            t = s[k["tbl"]]
            cols = tuple(k["cols"])
            if k["kind"] == "p":
                t["pk"] = cols
            elif k["kind"] == "u":
                t["uniques"].add(cols)
            else:
                t["fks"].add((cols, k["ref"], tuple(k["refcols"]),
                              PG_ACTIONS[k["del"]], PG_ACTIONS[k["upd"]]))
        for i in self.json(db, """
                SELECT ic.relname AS name, tc.relname AS tbl, x.indisunique AS uniq,
                       array(SELECT pg_get_indexdef(x.indexrelid, k, true)
                             FROM generate_series(1, x.indnkeyatts) k ORDER BY k) AS cols,
                       pg_get_expr(x.indpred, x.indrelid) AS pred
                FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
                JOIN pg_class tc ON tc.oid = x.indrelid
                JOIN pg_namespace n ON n.oid = tc.relnamespace
                WHERE n.nspname = 'public'
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"""):
            s[i["tbl"]]["indexes"][i["name"]] = (tuple(i["cols"]), i["uniq"], norm_where(i["pred"]))
        views = {v["name"] for v in self.json(
            db, "SELECT viewname AS name FROM pg_views WHERE schemaname = 'public'")}
        triggers = {v["name"] for v in self.json(db, """
            SELECT t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND NOT t.tgisinternal""")}
        return s, views, triggers


PG_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
              "d": "SET DEFAULT"}


# ---------------------------------------------------------------- SQLite

def sqlite_open():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    return conn


def sqlite_migrate(conn, path):
    """As the store's runner: in a transaction, foreign keys off, checked afterwards."""
    with open(path) as f:
        sql = f.read()
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.executescript("BEGIN;\n" + sql + "\nCOMMIT;")
    broken = conn.execute("SELECT count(*) FROM pragma_foreign_key_check").fetchone()[0]
    if broken:
        raise RuntimeError(f"{os.path.basename(path)}: {broken} rows break a foreign key")


def affinity(decl):
    """SQLite's column affinity rules (datatype3.html section 3.1), as a type class."""
    d = decl.upper()
    if "INT" in d:
        return "integer"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "text"
    if "BLOB" in d or d == "":
        return "blob"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "real"
    return "other:" + decl


def sqlite_schema(conn):
    s = {}
    master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    for typ, name, _, sql in master:
        if typ != "table" or name.startswith("sqlite_"):
            continue
        without_rowid = re.search(r"\)\s*WITHOUT\s+ROWID\s*;?\s*$", sql, re.I) is not None
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        # INTEGER PRIMARY KEY on a rowid table is the rowid: it numbers itself and is never NULL.
        rowid_alias = (not without_rowid and len(pk) == 1
                       and next(r[2] for r in info if r[1] == pk[0]).upper() == "INTEGER")
        t = {"columns": [], "pk": pk, "uniques": set(), "fks": set(), "indexes": {},
             "bad_types": []}
        for _, col, decl, notnull, dflt, in_pk in info:
            auto = rowid_alias and col == pk[0]
            notnull = bool(notnull) or auto or (without_rowid and in_pk > 0)
            t["columns"].append((col, affinity(decl), notnull, norm_default(dflt), auto))
        fks = {}
        for fid, _, ref, frm, to, upd, dele, _ in conn.execute(f'PRAGMA foreign_key_list("{name}")'):
            fks.setdefault(fid, [ref, [], [], dele, upd])
            fks[fid][1].append(frm)
            fks[fid][2].append(to)
        for ref, frm, to, dele, upd in fks.values():
            t["fks"].add((tuple(frm), ref, tuple(to), dele, upd))
        for _, iname, unique, origin, _ in conn.execute(f'PRAGMA index_list("{name}")'):
            cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{iname}")'))
            if origin == "u":
                t["uniques"].add(cols)
            elif origin == "c":
                isql = next(m[3] for m in master if m[0] == "index" and m[1] == iname)
                where = re.search(r"\bWHERE\b(.*)$", isql, re.I | re.S)
                t["indexes"][iname] = (cols, bool(unique),
                                       norm_where(where.group(1) if where else None))
        s[name] = t
    views = {m[1] for m in master if m[0] == "view"}
    triggers = {m[1] for m in master if m[0] == "trigger"}
    return s, views, triggers


# ---------------------------------------------------------------- comparing

def norm_default(d):
    """'group'::text, ('x'::text), 1 and '1' style defaults to one spelling."""
    if d is None:
        return None
    d = re.sub(r"::[a-z ]+", "", d.strip())
    while d.startswith("(") and d.endswith(")"):
        d = d[1:-1].strip()
    return d


def norm_where(w):
    if w is None:
        return None
    w = re.sub(r"::[a-z ]+", "", w.lower())
    w = w.replace("(", " ").replace(")", " ")
    return " ".join(w.split())


def compare(lite, pg, where):
    """Differences between the SQLite and the PostgreSQL schema, and the known ones seen."""
    diffs, known = [], set()
    (ls, lviews, ltrig), (ps, pviews, ptrig) = lite, pg
    for what, a, b in (("views", lviews, pviews), ("triggers", ltrig, ptrig)):
        if a != b:
            diffs.append(f"{where}: {what}: sqlite {sorted(a)} postgres {sorted(b)}")
    for t in sorted(set(ls) - set(ps)):
        diffs.append(f"{where}: table {t} only in sqlite")
    for t in sorted(set(ps) - set(ls)):
        diffs.append(f"{where}: table {t} only in postgres")
    for t in sorted(set(ls) & set(ps)):
        a, b = ls[t], ps[t]
        for bad in b["bad_types"]:
            diffs.append(f"{where}: {t}.{bad} (integers are bound as i64)")
        acols, bcols = [c[0] for c in a["columns"]], [c[0] for c in b["columns"]]
        if acols != bcols:
            diffs.append(f"{where}: {t} columns: sqlite {acols} postgres {bcols}")
        bmap = {c[0]: c for c in b["columns"]}
        for col, cls, notnull, dflt, auto in a["columns"]:
            if col not in bmap:
                continue
            _, pcls, pnotnull, pdflt, pauto = bmap[col]
            for prop, x, y in (("type", cls, pcls), ("notnull", notnull, pnotnull),
                               ("default", dflt, pdflt), ("numbers itself", auto, pauto)):
                if x != y:
                    if (t, col, prop) in KNOWN:
                        known.add((t, col, prop))
                    else:
                        diffs.append(f"{where}: {t}.{col} {prop}: sqlite {x!r} postgres {y!r}")
        for prop in ("pk", "uniques", "fks"):
            if a[prop] != b[prop]:
                diffs.append(f"{where}: {t} {prop}: sqlite {sorted_repr(a[prop])} "
                             f"postgres {sorted_repr(b[prop])}")
        for name in sorted(set(a["indexes"]) | set(b["indexes"])):
            x, y = a["indexes"].get(name), b["indexes"].get(name)
            if x != y:
                diffs.append(f"{where}: {t} index {name}: sqlite {x} postgres {y}")
    return diffs, known


def sorted_repr(v):
    return sorted(v) if isinstance(v, set) else v


# ---------------------------------------------------------------- rows and constraints

# Rows a store holds at any version from 0001 on (ids come from the engine, so both number them
# alike), then rows of tables added later, by the version that adds them.
FIXTURE = {
    1: [
        "INSERT INTO groups (handle, name, daily_quota, created_at) VALUES ('ops', 'Ops', 3, 1000)",
        "INSERT INTO members (handle, name, phone, unix_uid, created_at) "
        "VALUES ('boss', 'Boss', '+15550001', 1000, 1001)",
        "INSERT INTO members (handle, name, phone, valid, created_at) "
        "VALUES ('ann', 'Ann', '+15550002', 0, 1002)",
        "INSERT INTO memberships (group_id, member_id, role, joined_at) "
        "SELECT g.id, m.id, 'super_admin', 1003 FROM groups g, members m "
        "WHERE g.handle = 'ops' AND m.handle = 'boss'",
        "INSERT INTO memberships (group_id, member_id, role, opted_out, joined_at) "
        "SELECT g.id, m.id, 'member', 1, 1004 FROM groups g, members m "
        "WHERE g.handle = 'ops' AND m.handle = 'ann'",
        "INSERT INTO group_modems (group_id, position, modem) "
        "SELECT id, 0, '001010123456789' FROM groups WHERE handle = 'ops'",
        "INSERT INTO broadcasts (group_id, group_handle, sender_id, sender_handle, body, text, "
        "encoding, parts, recipients, dropped_opted_out, dropped_invalid, dropped_sms_disabled, "
        "dropped_duplicate, quota_day, quota_month, state, created_at) "
        "SELECT g.id, 'ops', m.id, 'boss', 'hello', '[ops] hello', 'gsm7', 1, 2, 0, 0, 0, 0, "
        "'2026-12-06', '2026-12', 'active', 2000 FROM groups g, members m "
        "WHERE g.handle = 'ops' AND m.handle = 'boss'",
        "INSERT INTO deliveries (broadcast_id, member_id, number, state, modem, attempts, "
        "part_refs, created_at, updated_at) "
        "SELECT b.id, m.id, m.phone, 'sent', 'ttyUSB0', 1, '17', 2001, 2002 "
        "FROM broadcasts b, members m WHERE m.handle = 'boss'",
        "INSERT INTO deliveries (broadcast_id, member_id, number, state, not_before, "
        "possible_duplicate, created_at, updated_at) "
        "SELECT b.id, m.id, m.phone, 'queued', 5000, 1, 2001, 2001 "
        "FROM broadcasts b, members m WHERE m.handle = 'ann'",
        "INSERT INTO quota_usage (group_id, period, key, used) "
        "SELECT id, 'day', '2026-12-06', 1 FROM groups",
        "INSERT INTO sim_sends (sim, at, parts) VALUES ('001010123456789', 2003, 1)",
        "INSERT INTO audit (at, actor, action, subject, detail) "
        "VALUES (1000, 'root', 'group.create', 'ops', '')",
    ],
    3: [
        "INSERT INTO parts (delivery_id, part, sim, mr, sent_at, status, status_at) "
        "SELECT id, 0, '001010123456789', 17, 2002, 0, 2500 FROM deliveries WHERE state = 'sent'",
        "INSERT INTO unmatched_reports (at, sim, device, mr, reason, pdu) "
        "VALUES (2600, '001010123456789', '/dev/ttyUSB0', 99, 'no part', '0006')",
    ],
    5: [
        "INSERT INTO inbox_messages (sim, device, originator, scts, received_at, updated_at, "
        "text, encoding, parts, parts_total, complete, concat_ref, ref_bits, member_id, "
        "member_handle, from_member, carrier_notice, broadcast_id, group_handle, handling) "
        "SELECT '001010123456789', '/dev/ttyUSB0', '+15550002', '2026-12-06T10:00:00+00:00', "
        "3000, 3000, 'STOP', 'gsm7', 1, 1, 1, -1, 0, m.id, 'ann', 1, 0, b.id, 'ops', 'opt_out' "
        "FROM members m, broadcasts b WHERE m.handle = 'ann'",
        "INSERT INTO inbox_parts (message_id, sim, originator, scts, concat_ref, ref_bits, "
        "parts_total, seq, body_hash, pdu, length, received_at) "
        "SELECT id, sim, originator, scts, -1, 0, 1, 1, -3750763034362895579, '0791', 20, 3000 "
        "FROM inbox_messages",
    ],
    9: [
        "INSERT INTO webhook_events (type, created_at, data) "
        "VALUES ('delivery', 4000, '{\"delivery\": 1, \"state\": \"sent\"}')",
        "INSERT INTO webhook_deliveries (endpoint, event_id, next_try_at) "
        "SELECT 'ep1', id, 4001 FROM webhook_events",
    ],
    10: [
        "INSERT INTO api_tokens (hash, member_id, created_by, created_at) "
        "SELECT '" + "ab" * 32 + "', id, 'root', 4100 FROM members WHERE handle = 'boss'",
    ],
    11: [
        "INSERT INTO idempotency_keys (token_id, key, fingerprint, created_at, broadcast_id, "
        "status, body) SELECT t.id, 'k1', 'fp', 4200, b.id, 201, '{}' "
        "FROM api_tokens t, broadcasts b",
    ],
}

# Read back on the last version (both engines, same text), with the columns later migrations
# added to old tables, so their defaults on old rows are checked as well.
SNAPSHOT = [
    "SELECT id, handle, name, daily_quota, monthly_quota, modem_fallback, allow_urgent "
    "FROM groups ORDER BY id",
    "SELECT id, handle, phone, valid, sms_enabled, unix_uid FROM members ORDER BY id",
    "SELECT group_id, member_id, role, opted_out FROM memberships ORDER BY group_id, member_id",
    "SELECT group_id, position, modem FROM group_modems ORDER BY group_id, position",
    "SELECT id, group_id, sender_id, state, caller, kind, pin_sim, urgent, cancelled_at "
    "FROM broadcasts ORDER BY id",
    "SELECT id, broadcast_id, member_id, number, state, modem, attempts, part_refs, not_before, "
    "possible_duplicate FROM deliveries ORDER BY id",
    "SELECT group_id, period, key, used FROM quota_usage ORDER BY group_id, period, key",
    "SELECT id, sim, at, parts FROM sim_sends ORDER BY id",
    "SELECT id, actor, action FROM audit ORDER BY id",
    "SELECT delivery_id, part, mr, status FROM parts ORDER BY delivery_id, part",
    "SELECT id, mr, reason FROM unmatched_reports ORDER BY id",
    "SELECT id, member_id, broadcast_id, handling, read FROM inbox_messages ORDER BY id",
    "SELECT id, message_id, body_hash FROM inbox_parts ORDER BY id",
    "SELECT id, type, data FROM webhook_events ORDER BY id",
    "SELECT endpoint, event_id, attempts, next_try_at FROM webhook_deliveries "
    "ORDER BY endpoint, event_id",
    "SELECT id, member_id, label FROM api_tokens ORDER BY id",
    "SELECT id, token_id, key, broadcast_id, status FROM idempotency_keys ORDER BY id",
]

# Written after the upgrade: what the later versions allow must work on upgraded rows too.
AFTER_UPGRADE = [
    "UPDATE deliveries SET state = 'cancelled' WHERE state = 'queued'",
    "UPDATE deliveries SET state = 'undelivered' WHERE state = 'sent'",
    "INSERT INTO deliveries (broadcast_id, number, state, created_at, updated_at) "
    "SELECT id, '+15550009', 'queued', 6000, 6000 FROM broadcasts",
    "UPDATE broadcasts SET kind = 'notice', urgent = 1, cancelled_at = 6001, cancelled_by = 'root'",
    "INSERT INTO groups (handle, name, created_at) VALUES ('late', 'Late', 6002)",
]

# (what, statement, accepted?) on the last version with every fixture row in; each in a
# transaction rolled back afterwards. The same verdict is expected from both engines.
PROBES = [
    ("delivery state cancelled", "UPDATE deliveries SET state = 'cancelled'", True),
    ("delivery state undelivered", "UPDATE deliveries SET state = 'undelivered'", True),
    ("delivery state unknown", "UPDATE deliveries SET state = 'lost'", False),
    ("delivery flag 2", "UPDATE deliveries SET possible_duplicate = 2", False),
    ("delivery of no broadcast",
     "INSERT INTO deliveries (broadcast_id, number, state, created_at, updated_at) "
     "VALUES (999, '+1', 'queued', 1, 1)", False),
    ("broadcast kind notice", "UPDATE broadcasts SET kind = 'notice'", True),
    ("broadcast kind unknown", "UPDATE broadcasts SET kind = 'robot'", False),
    ("broadcast urgent 2", "UPDATE broadcasts SET urgent = 2", False),
    ("broadcast encoding unknown", "UPDATE broadcasts SET encoding = 'utf8'", False),
    ("broadcast state unknown", "UPDATE broadcasts SET state = 'paused'", False),
    ("group negative quota", "UPDATE groups SET daily_quota = -1", False),
    ("group monthly negative quota", "UPDATE groups SET monthly_quota = -1", False),
    ("group fallback 2", "UPDATE groups SET modem_fallback = 2", False),
    ("group allow_urgent 2", "UPDATE groups SET allow_urgent = 2", False),
    ("group handle taken",
     "INSERT INTO groups (handle, name, created_at) VALUES ('ops', 'x', 1)", False),
    ("group without name", "INSERT INTO groups (handle, created_at) VALUES ('x', 1)", False),
    ("member negative uid", "UPDATE members SET unix_uid = -1 WHERE handle = 'ann'", False),
    ("member uid taken", "UPDATE members SET unix_uid = 1000 WHERE handle = 'ann'", False),
    ("two members without uid", "UPDATE members SET unix_uid = NULL", True),
    ("member valid 2", "UPDATE members SET valid = 2", False),
    ("member sms_enabled 2", "UPDATE members SET sms_enabled = 2", False),
    ("membership role owner", "UPDATE memberships SET role = 'owner'", False),
    ("membership opted_out 2", "UPDATE memberships SET opted_out = 2", False),
    ("membership twice",
     "INSERT INTO memberships (group_id, member_id, role, joined_at) "
     "SELECT group_id, member_id, role, 1 FROM memberships", False),
    ("quota period week", "UPDATE quota_usage SET period = 'week'", False),
    ("part mr 256", "UPDATE parts SET mr = 256", False),
    ("part negative", "UPDATE parts SET part = -1", False),
    ("part status 256", "UPDATE parts SET status = 256", False),
    ("concat ref 256",
     "INSERT INTO concat_refs (sim, number, last) VALUES ('s', '+1', 256)", False),
    ("concat ref 255",
     "INSERT INTO concat_refs (sim, number, last) VALUES ('s', '+1', 255)", True),
    ("inbox ref_bits 7", "UPDATE inbox_messages SET ref_bits = 7", False),
    ("inbox parts 0", "UPDATE inbox_messages SET parts = 0", False),
    ("inbox encoding unknown", "UPDATE inbox_messages SET encoding = 'x'", False),
    ("inbox handling unknown", "UPDATE inbox_messages SET handling = 'x'", False),
    ("inbox read 2", "UPDATE inbox_messages SET read = 2", False),
    ("inbox part again",
     "INSERT INTO inbox_parts (message_id, sim, originator, scts, concat_ref, ref_bits, "
     "parts_total, seq, body_hash, pdu, received_at) SELECT message_id, sim, originator, scts, "
     "concat_ref, ref_bits, parts_total, seq, body_hash, pdu, 1 FROM inbox_parts", False),
    ("quarantine empty sim",
     "INSERT INTO sim_quarantine (sim, reason, since, until) VALUES ('', 'r', 1, 2)", False),
    ("quarantine until before since",
     "INSERT INTO sim_quarantine (sim, reason, since, until) VALUES ('s', 'r', 2, 2)", False),
    ("quarantine",
     "INSERT INTO sim_quarantine (sim, reason, since, until) VALUES ('s', 'r', 1, 2)", True),
    ("webhook data not JSON", "UPDATE webhook_events SET data = 'not json'", False),
    ("webhook data JSON array", "UPDATE webhook_events SET data = '[1, \"a\"]'", True),
    ("webhook type unknown", "UPDATE webhook_events SET type = 'x'", False),
    ("token hash 63 long", "UPDATE api_tokens SET hash = substr(hash, 2)", False),
    ("token expiring before made", "UPDATE api_tokens SET expires_at = created_at", False),
    ("token expiring later", "UPDATE api_tokens SET expires_at = created_at + 1", True),
    ("idempotency empty key", "UPDATE idempotency_keys SET key = ''", False),
    ("idempotency key twice",
     "INSERT INTO idempotency_keys (token_id, key, fingerprint, created_at) "
     "SELECT token_id, key, 'f', 1 FROM idempotency_keys", False),
    ("alert empty key",
     "INSERT INTO alert_sends (group_handle, key, broadcast_id, sent_at) "
     "SELECT 'ops', '', id, 1 FROM broadcasts", False),
    ("alert empty group",
     "INSERT INTO alert_sends (group_handle, key, broadcast_id, sent_at) "
     "SELECT '', 'k', id, 1 FROM broadcasts", False),
    ("alert", "INSERT INTO alert_sends (group_handle, key, broadcast_id, sent_at) "
     "SELECT 'ops', 'k', id, 1 FROM broadcasts", True),
    # ON DELETE actions, seen from the rows they leave.
    ("deleting a group", "DELETE FROM groups", True),
    ("deleting a member", "DELETE FROM members WHERE handle = 'boss'", True),
    ("deleting a broadcast", "DELETE FROM broadcasts", True),
]

# After each delete probe: what is left (compared between the engines).
PROBE_AFTER = ("SELECT (SELECT count(*) FROM memberships) || ',' || "
               "(SELECT count(*) FROM broadcasts WHERE group_id IS NULL) || ',' || "
               "(SELECT count(*) FROM broadcasts WHERE sender_id IS NULL) || ',' || "
               "(SELECT count(*) FROM deliveries) || ',' || "
               "(SELECT count(*) FROM deliveries WHERE member_id IS NULL) || ',' || "
               "(SELECT count(*) FROM parts) || ',' || "
               "(SELECT count(*) FROM inbox_messages WHERE member_id IS NULL) || ',' || "
               "(SELECT count(*) FROM inbox_messages WHERE broadcast_id IS NULL) || ',' || "
               "(SELECT count(*) FROM api_tokens) || ',' || "
               "(SELECT count(*) FROM idempotency_keys) || ',' || "
               "(SELECT count(*) FROM idempotency_keys WHERE broadcast_id IS NULL) || ',' || "
               "(SELECT count(*) FROM group_modems) || ',' || "
               "(SELECT count(*) FROM quota_usage)")


def fixture_upto(version, start=1):
    return [s for v in sorted(FIXTURE) if start <= v <= version for s in FIXTURE[v]]


def sqlite_write(conn, statements):
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    for s in statements:
        conn.execute(s)
    conn.execute("COMMIT")


def pg_write(pg, db, statements):
    pg.psql(db, "--single-transaction", sql=";\n".join(statements) + ";\n")


def sqlite_rows(conn, query):
    return ["|".join("" if v is None else str(v) for v in r) for r in conn.execute(query)]


def probe_sqlite(conn, stmt):
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    try:
        conn.execute(stmt)
        ok, why, after = True, "", sqlite_rows(conn, PROBE_AFTER)
    except sqlite3.Error as e:
        ok, why, after = False, str(e), None
    conn.execute("ROLLBACK")
    return ok, why, after


def probe_pg(pg, db, stmt):
    out = pg.psql(db, "-At", check=False,
                  sql=f"BEGIN;\n{stmt};\n{PROBE_AFTER};\nROLLBACK;\n")
    if out.returncode == 0:
        return True, "", out.stdout.splitlines()
    return False, out.stderr.strip().splitlines()[0] if out.stderr.strip() else "", None


def upgrade(pg, db, lite, files, k, problems):
    """Rows written at version k, migrated to the last one, read back alike on both
    engines; then what the last version allows, written on them. Returns the number of
    differences (added to problems)."""
    last = len(files)
    rows = fixture_upto(k)
    sqlite_write(lite, rows)
    pg_write(pg, db, rows)
    for f in files[k:]:
        sqlite_migrate(lite, os.path.join(SQLITE_DIR, f))
        pg.migrate(db, os.path.join(PG_DIR, f))
    # Rows of tables born after k, written on the upgraded database.
    later = fixture_upto(last, start=k + 1)
    sqlite_write(lite, later)
    pg_write(pg, db, later)
    before_lite = [sqlite_rows(lite, q) for q in SNAPSHOT]
    before_pg = [pg.rows(db, q) for q in SNAPSHOT]
    sqlite_write(lite, AFTER_UPGRADE)
    pg_write(pg, db, AFTER_UPGRADE)
    after_lite = [sqlite_rows(lite, q) for q in SNAPSHOT]
    after_pg = [pg.rows(db, q) for q in SNAPSHOT]
    bad = 0
    for q, a, b in zip(SNAPSHOT + SNAPSHOT, before_lite + after_lite,
                       before_pg + after_pg):
        if a != b:
            bad += 1
            problems.append(f"upgrade from {files[k - 1]}: {q}\n  sqlite   {a}\n"
                            f"  postgres {b}")
    # The rows written at version k are all there (not merely equal on both sides).
    expect = {"groups": 1, "members": 2, "deliveries": 2, "memberships": 2,
              "broadcasts": 1}
    for table, n in expect.items():
        got = int(pg.rows(db, f"SELECT count(*) FROM {table}")[0])
        want = n + (1 if table in ("groups", "deliveries") else 0)  # AFTER_UPGRADE
        if got != want:
            bad += 1
            problems.append(f"upgrade from {files[k - 1]}: {table} has {got} rows, "
                            f"{want} expected")
    return bad


# ---------------------------------------------------------------- main

def main():
    lite_files = migrations(SQLITE_DIR)
    pg_files = migrations(PG_DIR)
    problems = []
    if lite_files != pg_files:
        problems.append(f"migration files differ: sqlite {lite_files} postgres {pg_files}")
    versions = [int(f[:4]) for f in lite_files]
    if versions != list(range(1, len(versions) + 1)):
        problems.append(f"sqlite migrations are not numbered 1..N: {versions}")
    files = [f for f in lite_files if f in pg_files]
    last = len(files)

    for tool in ("psql",):
        if shutil.which(tool) is None:
            fail_setup(f"{tool} not found (apt-get install postgresql-client)")
    port = os.environ.get("GROUPSMS_PG_PORT", "54339")
    cluster = tempfile.mkdtemp(prefix="pgmig-")
    os.chmod(cluster, 0o755)
    env = dict(os.environ, GROUPSMS_PG_PORT=port)
    started = subprocess.run([os.path.join(ROOT, ".ci", "pg-cluster"), "start", cluster],
                             capture_output=True, text=True, env=env)
    if started.returncode != 0:
        shutil.rmtree(cluster, ignore_errors=True)
        fail_setup(f"could not start PostgreSQL on port {port}:\n{started.stderr}")
    url = re.search(r"GROUPSMS_TEST_POSTGRES=(\S+)", started.stdout).group(1)
    print(f"cluster {cluster} on port {port}")
    pg = Postgres(url)
    known_seen = set()
    try:
        server = pg.rows("postgres", "SHOW server_version")[0]
        print(f"PostgreSQL {server}, SQLite {sqlite3.sqlite_version}, {last} migrations")

        # 1. Schema, version by version, and rows written at version k kept up to the last.
        full_lite = None
        for k in range(1, last + 1):
            db = f"pgmig_v{k:04d}"
            pg.create_db(db)
            lite = sqlite_open()
            for f in files[:k]:
                sqlite_migrate(lite, os.path.join(SQLITE_DIR, f))
                pg.migrate(db, os.path.join(PG_DIR, f))
            diffs, known = compare(sqlite_schema(lite), pg.schema(db), f"after {files[k - 1]}")
            problems += diffs
            known_seen |= known
            tables = len(sqlite_schema(lite)[0])
            print(f"schema after {files[k - 1]}: {tables} tables, "
                  f"{len(diffs)} differences{', ' + str(len(known)) + ' known' if known else ''}")
            if k == last:
                full_lite = (lite, db)
                continue
            try:
                bad = upgrade(pg, db, lite, files, k, problems)
            except (RuntimeError, sqlite3.Error) as e:
                bad = 1
                problems.append(f"upgrade from {files[k - 1]}: {e}")
            print(f"upgrade {files[k - 1]} -> {files[-1]} with {len(fixture_upto(k))} writes "
                  f"at {files[k - 1][:4]}: {bad} differences")
            lite.close()

        # 2. Constraints, by their verdicts on the last version with every fixture row in.
        lite, db = full_lite
        rows = fixture_upto(last)
        sqlite_write(lite, rows)
        pg_write(pg, db, rows)
        bad = 0
        for what, stmt, expected in PROBES:
            lok, lwhy, lafter = probe_sqlite(lite, stmt)
            pok, pwhy, pafter = probe_pg(pg, db, stmt)
            if lok != expected or pok != expected or lafter != pafter:
                bad += 1
                problems.append(f"probe {what!r} ({stmt}): expected "
                                f"{'accepted' if expected else 'refused'}; sqlite "
                                f"{'accepted ' + str(lafter) if lok else 'refused: ' + lwhy}; "
                                f"postgres {'accepted ' + str(pafter) if pok else 'refused: ' + pwhy}")
        print(f"constraint probes: {len(PROBES)}, {bad} differences")
        lite.close()
    except (RuntimeError, sqlite3.Error) as e:
        problems.append(f"stopped: {e}")
    finally:
        subprocess.run([os.path.join(ROOT, ".ci", "pg-cluster"), "stop", cluster], env=env)
        shutil.rmtree(cluster, ignore_errors=True)

    for key, why in sorted(KNOWN.items()):
        if key in known_seen:
            print(f"known difference {'.'.join(key[:2])} {key[2]}: {why}")
        else:
            problems.append(f"known difference {key} no longer seen: remove it from KNOWN")
    for p in problems:
        print("DIFFERENCE " + p)
    print(f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
