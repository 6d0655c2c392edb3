// db.c -- SQLite results store (see db.h).
#include "db.h"

#include "t2i.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema_v1[] =
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  status TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  run_key TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL,"
    "  inputs_fingerprint TEXT NOT NULL,"
    "  model_fingerprint TEXT NOT NULL,"
    "  suite TEXT NOT NULL,"
    "  suite_sha256 TEXT NOT NULL,"
    "  protocol TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  evaluators TEXT NOT NULL,"
    "  n_samples INTEGER NOT NULL,"
    "  n_blocks INTEGER NOT NULL,"
    "  block_size INTEGER NOT NULL,"
    "  started TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  finished TEXT,"
    "  provenance TEXT NOT NULL);"
    "CREATE INDEX runs_key ON runs(run_key);"
    "CREATE TABLE blocks ("
    "  run INTEGER NOT NULL REFERENCES runs(id),"
    "  block INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  samples INTEGER NOT NULL,"
    "  seconds REAL NOT NULL,"
    "  committed TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    "  PRIMARY KEY (run, block));"
    "CREATE TABLE samples ("
    "  run INTEGER NOT NULL REFERENCES runs(id),"
    "  sample INTEGER NOT NULL,"
    "  block INTEGER NOT NULL,"
    "  is_logits BLOB,"
    "  rp_rank INTEGER,"
    "  rp_scores BLOB,"
    "  fid_feat BLOB,"
    "  image_sha256 TEXT,"
    "  PRIMARY KEY (run, sample));"
    "CREATE TABLE metrics ("
    "  run INTEGER NOT NULL REFERENCES runs(id),"
    "  name TEXT NOT NULL,"
    "  value REAL,"
    "  std REAL,"
    "  n INTEGER NOT NULL,"
    "  direction INTEGER NOT NULL,"
    "  PRIMARY KEY (run, name));"
    "CREATE TABLE timings ("
    "  run INTEGER NOT NULL REFERENCES runs(id),"
    "  stage TEXT NOT NULL,"
    "  seconds REAL NOT NULL,"
    "  images INTEGER NOT NULL,"
    "  PRIMARY KEY (run, stage));";

sqlite3 *db_handle(Db *d) { return d->db; }

int db_err(Db *d, const char *what) {
    return t2i_error(T2I_EDB, "database %s: %s: %s", d->path ? d->path : "?", what,
                     d->db ? sqlite3_errmsg(d->db) : "not open");
}

static int exec(Db *d, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = t2i_error(T2I_EDB, "database %s: %s", d->path, msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return T2I_OK;
}

static int pragma_int(Db *d, const char *sql, int64_t *out) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) return db_err(d, sql);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? T2I_OK : db_err(d, sql);
}

// A read-only open of a WAL database fails with SQLITE_CANTOPEN (or a SQLITE_READONLY_*
// variant) when the -shm file is missing and cannot be created (read-only file or mount).
static int ro_open_failed(sqlite3 *db) {
    int e = sqlite3_errcode(db) & 0xff;
    return e == SQLITE_CANTOPEN || e == SQLITE_READONLY;
}

// Reopens d->db as "file:PATH?immutable=1" (path percent-encoded). Refused when a non-empty
// -wal file exists: immutable mode ignores it and would show stale contents.
static int reopen_immutable(Db *d) {
    char wal[4096];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", d->path);
    if (stat(wal, &sb) == 0 && sb.st_size > 0)
        return t2i_error(T2I_EDB,
                         "database %s: cannot be read without write access while it has a "
                         "write-ahead log (%s); open it once with write access to checkpoint it",
                         d->path, wal);
    size_t n = strlen(d->path);
    char *uri = t2i_malloc(3 * n + 32);
    if (!uri) return T2I_ENOMEM;
    // "file:///abs" (empty authority) or "file:rel": a path starting with "//" is no host.
    char *q = uri + sprintf(uri, d->path[0] == '/' ? "file://" : "file:");
    for (const unsigned char *s = (const unsigned char *)d->path; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            strchr("-._~/", *s))
            *q++ = (char)*s;
        else
            q += sprintf(q, "%%%02X", *s);
    }
    strcpy(q, "?immutable=1");
    if (d->db) sqlite3_close(d->db);
    d->db = NULL;
    int rc = sqlite3_open_v2(uri, &d->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    t2i_free(uri);
    return rc == SQLITE_OK ? T2I_OK : db_err(d, "open (immutable)");
}

int db_open(Db *d, const char *path, int readonly) {
    memset(d, 0, sizeof *d);
    d->path = t2i_strdup(path);
    if (!d->path) return T2I_ENOMEM;
    if (readonly && access(path, F_OK) != 0) {
        int rc = t2i_error(T2I_EIO, "database %s: no such file (run `t2ibench run` first)", path);
        db_close(d);
        return rc;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int orc = sqlite3_open_v2(path, &d->db, flags, NULL);
    int rc = T2I_OK;
    if (readonly && orc != SQLITE_OK && d->db && ro_open_failed(d->db)) {
        if ((rc = reopen_immutable(d))) goto fail;
        orc = SQLITE_OK;
    }
    if (orc != SQLITE_OK) {
        rc = db_err(d, "open");
        db_close(d);
        return rc;
    }
    sqlite3_busy_timeout(d->db, 5000);
    if (!readonly && sqlite3_db_readonly(d->db, "main") == 1) {
        rc = t2i_error(T2I_EDB, "database %s is read-only (check the file and directory "
                                "permissions); nothing was written",
                       path);
        goto fail;
    }
    int64_t ver = 0, app = 0;
    if ((rc = pragma_int(d, "PRAGMA user_version", &ver))) {
        if (!readonly || !ro_open_failed(d->db)) goto fail;
        if ((rc = reopen_immutable(d))) goto fail;
        sqlite3_busy_timeout(d->db, 5000);
        if ((rc = pragma_int(d, "PRAGMA user_version", &ver))) goto fail;
    }
    if ((rc = pragma_int(d, "PRAGMA application_id", &app))) goto fail;
    if (app != 0 && app != DB_APPLICATION_ID) {
        rc = t2i_error(T2I_EDB, "database %s: application_id 0x%08llx is not a t2ibench database",
                       path, (unsigned long long)app);
        goto fail;
    }
    if (ver > DB_SCHEMA_VERSION) {
        rc = t2i_error(T2I_EDB,
                       "database %s: schema version %lld is newer than this binary supports (%d); "
                       "use a newer t2ibench",
                       path, (long long)ver, DB_SCHEMA_VERSION);
        goto fail;
    }
    if (readonly) {
        if (ver == 0) {
            int64_t ntab = 0;
            if ((rc = pragma_int(d, "SELECT count(*) FROM sqlite_master", &ntab))) goto fail;
            if (ntab) {
                rc = t2i_error(T2I_EDB, "database %s: not a t2ibench database", path);
                goto fail;
            }
            rc = t2i_error(T2I_EDB, "database %s is empty (no runs yet)", path);
            goto fail;
        }
        return T2I_OK;
    }
    if ((rc = exec(d, "PRAGMA journal_mode=WAL"))) goto fail;
    if ((rc = exec(d, "PRAGMA synchronous=NORMAL"))) goto fail;
    if ((rc = exec(d, "PRAGMA foreign_keys=ON"))) goto fail;
    if (ver == 0) {
        int64_t ntab = 0;
        if ((rc = db_begin(d))) goto fail;
        if ((rc = pragma_int(d, "SELECT count(*) FROM sqlite_master", &ntab))) goto fail_tx;
        if (ntab) {
            rc = t2i_error(T2I_EDB, "database %s: has tables but no t2ibench schema version", path);
            goto fail_tx;
        }
        if ((rc = exec(d, schema_v1))) goto fail_tx;
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d",
                 DB_APPLICATION_ID, DB_SCHEMA_VERSION);
        if ((rc = exec(d, sql))) goto fail_tx;
        if ((rc = db_commit(d))) goto fail;
    }
    return T2I_OK;
fail_tx:
    db_rollback(d);
fail:
    db_close(d);
    return rc;
}

void db_close(Db *d) {
    if (!d) return;
    if (d->db) sqlite3_close(d->db);
    t2i_free(d->path);
    memset(d, 0, sizeof *d);
}

int db_begin(Db *d) {
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        int e = sqlite3_errcode(d->db);
        if (e == SQLITE_BUSY || e == SQLITE_LOCKED)
            return t2i_error(T2I_EDB,
                             "database %s is locked by another writer (waited 5 s); nothing was "
                             "written",
                             d->path);
        return db_err(d, "BEGIN IMMEDIATE");
    }
    return T2I_OK;
}

int db_commit(Db *d) {
    if (sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = db_err(d, "COMMIT");
        db_rollback(d);
        return rc;
    }
    return T2I_OK;
}

void db_rollback(Db *d) {
    if (d->db && !sqlite3_get_autocommit(d->db))
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

static int step_done(Db *d, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_DONE ? T2I_OK : db_err(d, what);
    sqlite3_finalize(st);
    return out;
}

static int prep(Db *d, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v2(d->db, sql, -1, st, NULL) != SQLITE_OK) return db_err(d, sql);
    return T2I_OK;
}

int db_run_insert(Db *d, const DbRun *r, int64_t *id) {
    sqlite3_stmt *st;
    int rc = prep(d,
                  "INSERT INTO runs (status, kind, run_key, fingerprint, model_fingerprint, suite,"
                  " suite_sha256, protocol, model, evaluators, n_samples, n_blocks, block_size,"
                  " provenance, inputs_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  &st);
    if (rc) return rc;
    const char *txt[] = {r->status,       r->kind,   r->run_key, r->fingerprint,
                         r->model_fingerprint, r->suite, r->suite_sha256, r->protocol,
                         r->model,        r->evaluators};
    for (int i = 0; i < 10; i++) sqlite3_bind_text(st, i + 1, txt[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, r->n_samples);
    sqlite3_bind_int64(st, 12, r->n_blocks);
    sqlite3_bind_int(st, 13, r->block_size);
    sqlite3_bind_text(st, 14, r->provenance, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 15, r->inputs_fingerprint, -1, SQLITE_TRANSIENT);
    if ((rc = step_done(d, st, "insert run"))) return rc;
    *id = sqlite3_last_insert_rowid(d->db);
    return T2I_OK;
}

int db_run_set_status(Db *d, int64_t run, const char *status) {
    sqlite3_stmt *st;
    int rc = prep(d,
                  "UPDATE runs SET status = ?, finished = CASE WHEN ? = 'complete' THEN "
                  "strftime('%Y-%m-%dT%H:%M:%SZ','now') ELSE finished END WHERE id = ?",
                  &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, run);
    return step_done(d, st, "update run status");
}

static void bind_floats(sqlite3_stmt *st, int i, const float *x, int n) {
    if (x && n > 0) sqlite3_bind_blob(st, i, x, (int)(sizeof(float) * (size_t)n), SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

int db_sample_put(Db *d, int64_t run, const DbSample *s) {
    sqlite3_stmt *st;
    int rc = prep(d,
                  "INSERT OR REPLACE INTO samples (run, sample, block, is_logits, rp_rank,"
                  " rp_scores, fid_feat, image_sha256) VALUES (?,?,?,?,?,?,?,?)",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, s->sample);
    sqlite3_bind_int64(st, 3, s->block);
    bind_floats(st, 4, s->is_logits, s->n_is);
    if (s->rp_rank >= 0) sqlite3_bind_int(st, 5, s->rp_rank);
    else sqlite3_bind_null(st, 5);
    bind_floats(st, 6, s->rp_scores, s->n_rp);
    bind_floats(st, 7, s->fid_feat, s->n_fid);
    if (s->image_sha256) sqlite3_bind_text(st, 8, s->image_sha256, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 8);
    return step_done(d, st, "insert sample");
}

int db_block_done(Db *d, int64_t run, int64_t block, int64_t n, double seconds) {
    sqlite3_stmt *st;
    int rc = prep(d,
                  "INSERT OR REPLACE INTO blocks (run, block, state, samples, seconds)"
                  " VALUES (?,?,'done',?,?)",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, block);
    sqlite3_bind_int64(st, 3, n);
    sqlite3_bind_double(st, 4, seconds);
    return step_done(d, st, "insert block");
}

int db_timing_add(Db *d, int64_t run, const char *stage, double seconds, int64_t images) {
    sqlite3_stmt *st;
    int rc = prep(d,
                  "INSERT INTO timings (run, stage, seconds, images) VALUES (?,?,?,?)"
                  " ON CONFLICT(run, stage) DO UPDATE SET seconds = seconds + excluded.seconds,"
                  " images = images + excluded.images",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, stage, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, seconds);
    sqlite3_bind_int64(st, 4, images);
    return step_done(d, st, "update timings");
}

int db_metric_put(Db *d, int64_t run, const char *name, double value, double std, int64_t n,
                  int direction) {
    sqlite3_stmt *st;
    int rc = prep(d,
                  "INSERT OR REPLACE INTO metrics (run, name, value, std, n, direction)"
                  " VALUES (?,?,?,?,?,?)",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, value);
    sqlite3_bind_double(st, 4, std);
    sqlite3_bind_int64(st, 5, n);
    sqlite3_bind_int(st, 6, direction);
    return step_done(d, st, "insert metric");
}

int db_metrics_clear(Db *d, int64_t run) {
    sqlite3_stmt *st;
    int rc = prep(d, "DELETE FROM metrics WHERE run = ?", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    return step_done(d, st, "clear metrics");
}

int db_run_find_incomplete(Db *d, const char *run_key, int64_t *id) {
    sqlite3_stmt *st;
    *id = 0;
    int rc = prep(d,
                  "SELECT id FROM runs WHERE run_key = ? AND status NOT IN ('complete', 'shard-complete')"
                  " ORDER BY id DESC LIMIT 1",
                  &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, run_key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? T2I_OK : db_err(d, "find run");
}

int db_run_exists(Db *d, int64_t run, int *exists) {
    sqlite3_stmt *st;
    int rc = prep(d, "SELECT 1 FROM runs WHERE id = ?", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    rc = sqlite3_step(st);
    *exists = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? T2I_OK : db_err(d, "find run");
}

int db_blocks_done(Db *d, int64_t run, uint8_t *done, int64_t n_blocks) {
    sqlite3_stmt *st;
    memset(done, 0, (size_t)n_blocks);
    int rc = prep(d, "SELECT block FROM blocks WHERE run = ? AND state = 'done'", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        if (b >= 0 && b < n_blocks) done[b] = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? T2I_OK : db_err(d, "read blocks");
}

int db_run_latest(Db *d, int64_t *id) {
    return pragma_int(d, "SELECT coalesce(max(id), 0) FROM runs", id);
}
