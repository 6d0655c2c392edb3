// db.c -- SQLite results store (see db.h).
#include "db.h"

#include "sha256.h"
#include "t2i.h"

#include <errno.h>
#include <signal.h>
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

// Version 2: the live owner of a run (pid, host, heartbeat: `list` shows "stale" for a
// "running" run whose process is gone, and a second process refuses to compute it), the
// digest of the sample set its metrics cover, and a checksum per sample row (`check` notices
// flipped bytes in stored outputs).
static const char schema_v2[] =
    "ALTER TABLE runs ADD COLUMN owner_pid INTEGER;"
    "ALTER TABLE runs ADD COLUMN owner_host TEXT;"
    "ALTER TABLE runs ADD COLUMN heartbeat TEXT;"
    "ALTER TABLE runs ADD COLUMN sample_set TEXT;"
    "ALTER TABLE samples ADD COLUMN checksum TEXT;";

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

// Creates the missing parent directories of a database path (like `mkdir -p`). Says plainly
// which directory could not be created.
static int make_parent_dirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return t2i_error(T2I_EARG, "database path %.64s...: too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        struct stat sb;
        if (stat(buf, &sb) != 0) {
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return t2i_error(T2I_EIO, "database %s: cannot create the directory %s: %s", path,
                                 buf, strerror(errno));
        } else if (!S_ISDIR(sb.st_mode)) {
            return t2i_error(T2I_EIO, "database %s: %s is not a directory", path, buf);
        }
        *p = '/';
    }
    return T2I_OK;
}

static void parent_dir(const char *path, char *dir, size_t n) {
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, n, ".");
}

// What SQLite would report as "unable to open database file" or "disk I/O error", said in
// words before it gets there: a directory given as the database, a missing or read-only folder.
static int check_db_path(const char *path, int readonly) {
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return t2i_error(T2I_EARG, "database %s is a directory: give a file name, e.g. "
                                       "%s/t2ibench.db",
                             path, path);
        if (!S_ISREG(sb.st_mode))
            return t2i_error(T2I_EARG, "database %s is not a regular file", path);
        if (!readonly) {
            char dir[4096];
            parent_dir(path, dir, sizeof dir);
            if (access(dir, W_OK) != 0)
                return t2i_error(T2I_EIO, "database %s: its directory %s is not writable (SQLite "
                                          "keeps its journal beside the file); nothing was written",
                                 path, dir);
        }
        return T2I_OK;
    }
    if (readonly) return t2i_error(T2I_EIO, "database %s: no such file (run `t2ibench run` first)", path);
    int rc = make_parent_dirs(path);
    if (rc) return rc;
    char dir[4096];
    parent_dir(path, dir, sizeof dir);
    if (access(dir, W_OK) != 0)
        return t2i_error(T2I_EIO, "database %s cannot be created: the directory %s is not "
                                  "writable; nothing was written",
                         path, dir);
    return T2I_OK;
}

// Brings a version-1 database to version 2 (new columns only; old rows keep NULLs).
static int migrate(Db *d, int64_t ver) {
    if (ver >= DB_SCHEMA_VERSION) return T2I_OK;
    int rc = db_begin(d);
    if (rc) return rc;
    if (ver < 2 && (rc = exec(d, schema_v2))) goto fail;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", DB_SCHEMA_VERSION);
    if ((rc = exec(d, sql))) goto fail;
    return db_commit(d);
fail:
    db_rollback(d);
    return rc;
}

int db_open(Db *d, const char *path, int readonly) {
    memset(d, 0, sizeof *d);
    d->path = t2i_strdup(path);
    if (!d->path) return T2I_ENOMEM;
    d->readonly = readonly;
    int rc = check_db_path(path, readonly);
    if (rc) {
        db_close(d);
        return rc;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int orc = sqlite3_open_v2(path, &d->db, flags, NULL);
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
    int64_t ver = 0, app = 0, ntab = 0;
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
    // The schema is checked before anything is changed (no WAL switch on a foreign file).
    if (ver == 0) {
        if ((rc = pragma_int(d, "SELECT count(*) FROM sqlite_master", &ntab))) goto fail;
        if (ntab) {
            rc = t2i_error(T2I_EDB, "database %s: not a t2ibench database (it has tables but no "
                                    "t2ibench schema version); nothing was changed",
                           path);
            goto fail;
        }
        if (readonly) {
            rc = t2i_error(T2I_EDB, "database %s is empty (no runs yet)", path);
            goto fail;
        }
    }
    d->version = (int)ver;
    if (readonly) return T2I_OK;
    if ((rc = exec(d, "PRAGMA journal_mode=WAL"))) goto fail;
    if ((rc = exec(d, "PRAGMA synchronous=NORMAL"))) goto fail;
    if ((rc = exec(d, "PRAGMA foreign_keys=ON"))) goto fail;
    if (ver == 0) {
        if ((rc = db_begin(d))) goto fail;
        if ((rc = pragma_int(d, "SELECT count(*) FROM sqlite_master", &ntab))) goto fail_tx;
        if (ntab) {
            rc = t2i_error(T2I_EDB, "database %s: has tables but no t2ibench schema version", path);
            goto fail_tx;
        }
        if ((rc = exec(d, schema_v1))) goto fail_tx;
        if ((rc = exec(d, schema_v2))) goto fail_tx;
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d",
                 DB_APPLICATION_ID, DB_SCHEMA_VERSION);
        if ((rc = exec(d, sql))) goto fail_tx;
        if ((rc = db_commit(d))) goto fail;
    } else if ((rc = migrate(d, ver))) {
        goto fail;
    }
    d->version = DB_SCHEMA_VERSION;
    return T2I_OK;
fail_tx:
    db_rollback(d);
fail:
    db_close(d);
    return rc;
}

void db_close(Db *d) {
    if (!d) return;
    // A writer leaves the file in rollback-journal mode, so that readers (list, show, check, ...)
    // create no -wal/-shm files beside it. Best effort: while another connection is open the
    // switch fails and the last writer to close does it.
    if (d->db && !d->readonly && d->version > 0)
        sqlite3_exec(d->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
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
                  "UPDATE runs SET status = ?, finished = CASE WHEN ? IN ('complete', 'shard-complete') THEN "
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
                  d->version >= 2
                      ? "INSERT OR REPLACE INTO samples (run, sample, block, is_logits, rp_rank,"
                        " rp_scores, fid_feat, image_sha256, checksum) VALUES (?,?,?,?,?,?,?,?,?)"
                      : "INSERT OR REPLACE INTO samples (run, sample, block, is_logits, rp_rank,"
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
    char sum[65];
    DbRow w = {.sample = s->sample, .block = s->block,
               .is_logits = s->n_is > 0 ? s->is_logits : NULL,
               .is_bytes = (int64_t)sizeof(float) * s->n_is, .rp_rank = s->rp_rank,
               .rp_scores = s->n_rp > 0 ? s->rp_scores : NULL,
               .rp_bytes = (int64_t)sizeof(float) * s->n_rp,
               .fid_feat = s->n_fid > 0 ? s->fid_feat : NULL,
               .fid_bytes = (int64_t)sizeof(float) * s->n_fid, .image_sha256 = s->image_sha256};
    db_row_checksum(&w, sum);
    if (d->version >= 2) sqlite3_bind_text(st, 9, sum, -1, SQLITE_STATIC);
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

// A statement whose only parameter is a run id.
static int exec_run(Db *d, const char *sql, int64_t run, const char *what) {
    sqlite3_stmt *st;
    int rc = prep(d, sql, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    return step_done(d, st, what);
}

int db_metrics_clear(Db *d, int64_t run) {
    return exec_run(d, "DELETE FROM metrics WHERE run = ?", run, "clear metrics");
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

// ---- live owner of a run (schema 2) ---------------------------------------------------------

void db_this_host(char *host, size_t n) {
    if (gethostname(host, n) != 0 || !host[0]) snprintf(host, n, "localhost");
    host[n - 1] = 0;
}

int db_run_owner(Db *d, int64_t run, DbOwner *o) {
    memset(o, 0, sizeof *o);
    if (d->version < 2) return T2I_OK;
    sqlite3_stmt *st;
    int rc = prep(d, "SELECT coalesce(owner_pid, 0), coalesce(owner_host, ''),"
                     " coalesce(heartbeat, '') FROM runs WHERE id = ?",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        o->pid = sqlite3_column_int64(st, 0);
        snprintf(o->host, sizeof o->host, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(o->heartbeat, sizeof o->heartbeat, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? T2I_OK : db_err(d, "read run owner");
}

DbLiveness db_owner_liveness(const DbOwner *o) {
    if (o->pid <= 0) return DB_OWNER_NONE;
    char host[256];
    db_this_host(host, sizeof host);
    if (strcmp(host, o->host) != 0) return DB_OWNER_UNKNOWN;
    if (o->pid == (int64_t)getpid()) return DB_OWNER_ALIVE;
    if (kill((pid_t)o->pid, 0) == 0 || errno == EPERM) return DB_OWNER_ALIVE;
    return DB_OWNER_GONE;
}

int db_run_claim(Db *d, int64_t run) {
    char host[256];
    db_this_host(host, sizeof host);
    sqlite3_stmt *st;
    int rc = prep(d, "UPDATE runs SET owner_pid = ?, owner_host = ?,"
                     " heartbeat = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (int64_t)getpid());
    sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, run);
    return step_done(d, st, "claim run");
}

int db_run_heartbeat(Db *d, int64_t run) {
    return exec_run(d, "UPDATE runs SET heartbeat = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?",
                    run, "update heartbeat");
}

int db_run_release(Db *d, int64_t run) {
    sqlite3_stmt *st;
    int rc = prep(d, "UPDATE runs SET owner_pid = NULL WHERE id = ? AND owner_pid = ?", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, (int64_t)getpid());
    return step_done(d, st, "release run");
}

// ---- partial blocks, sample sets, row checksums ---------------------------------------------

int db_samples_present(Db *d, int64_t run, int64_t first, int64_t cnt, uint8_t *have) {
    sqlite3_stmt *st;
    memset(have, 0, (size_t)cnt);
    int rc = prep(d, "SELECT sample FROM samples WHERE run = ? AND sample >= ? AND sample < ?", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, first);
    sqlite3_bind_int64(st, 3, first + cnt);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) have[sqlite3_column_int64(st, 0) - first] = 1;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? T2I_OK : db_err(d, "read samples");
}

int db_run_set_sample_set(Db *d, int64_t run, const char *digest) {
    if (d->version < 2) return T2I_OK;
    sqlite3_stmt *st;
    int rc = prep(d, "UPDATE runs SET sample_set = ? WHERE id = ?", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, run);
    return step_done(d, st, "store sample set");
}

static void sha_i64(Sha256 *h, int64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)v >> (8 * i));
    sha256_update(h, b, 8);
}

// Length-prefixed, so that moving bytes between columns changes the checksum.
static void sha_blob(Sha256 *h, const void *p, int64_t n) {
    sha_i64(h, p ? n : -1);
    if (p && n > 0) sha256_update(h, p, (size_t)n);
}

void db_row_checksum(const DbRow *w, char hex[65]) {
    Sha256 h;
    sha256_init(&h);
    sha_i64(&h, w->sample);
    sha_i64(&h, w->block);
    sha_blob(&h, w->is_logits, w->is_bytes);
    sha_i64(&h, w->rp_rank);
    sha_blob(&h, w->rp_scores, w->rp_bytes);
    sha_blob(&h, w->fid_feat, w->fid_bytes);
    sha_blob(&h, w->image_sha256, w->image_sha256 ? (int64_t)strlen(w->image_sha256) : 0);
    uint8_t dg[32];
    sha256_final(&h, dg);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dg[i]);
}

int db_samples_verify(Db *d, int64_t run, int64_t *checked, int64_t *unchecked,
                      int64_t *bad_sample) {
    int64_t none = 0;
    *checked = 0;
    *bad_sample = -1;
    if (!unchecked) unchecked = &none;
    *unchecked = 0;
    sqlite3_stmt *st;
    int rc = prep(d, d->version < 2
                         ? "SELECT count(*) FROM samples WHERE run = ?"   // no checksum column
                         : "SELECT sample, block, is_logits, coalesce(rp_rank, -1), rp_scores,"
                           " fid_feat, image_sha256, checksum FROM samples WHERE run = ?"
                           " ORDER BY sample",
                  &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run);
    if (d->version < 2) {
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) *unchecked = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? T2I_OK : db_err(d, "count samples");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 7) == SQLITE_NULL) {
            (*unchecked)++;
            continue;
        }
        DbRow w = {.sample = sqlite3_column_int64(st, 0), .block = sqlite3_column_int64(st, 1),
                   .is_logits = sqlite3_column_blob(st, 2), .is_bytes = sqlite3_column_bytes(st, 2),
                   .rp_rank = sqlite3_column_int64(st, 3),
                   .rp_scores = sqlite3_column_blob(st, 4), .rp_bytes = sqlite3_column_bytes(st, 4),
                   .fid_feat = sqlite3_column_blob(st, 5), .fid_bytes = sqlite3_column_bytes(st, 5),
                   .image_sha256 = (const char *)sqlite3_column_text(st, 6)};
        char hex[65];
        db_row_checksum(&w, hex);
        const char *stored = (const char *)sqlite3_column_text(st, 7);
        (*checked)++;
        if (!stored || strcmp(hex, stored) != 0) {
            *bad_sample = w.sample;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? T2I_OK : db_err(d, "read samples");
}

int db_quick_check(Db *d) {
    sqlite3_stmt *st;
    int rc = prep(d, "PRAGMA quick_check", &st);
    if (rc) return rc;
    char first[512] = "";
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        if (n++ == 0) snprintf(first, sizeof first, "%s", m ? m : "?");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return t2i_error(T2I_EDB, "database %s is damaged (%s); restore it from a copy", d->path,
                         sqlite3_errmsg(d->db));
    if (n != 1 || strcmp(first, "ok") != 0)
        return t2i_error(T2I_EDB, "database %s is damaged: PRAGMA quick_check reports \"%s\"%s; "
                                  "restore it from a copy",
                         d->path, first, n > 1 ? " and more" : "");
    return T2I_OK;
}
