// test_verify_fixtures.c -- `t2ibench verify` on every folder of the shared fixtures: each passes
// (exit 0, "0 failing output(s), 0 error(s)"), except the folders listed as expected-unsupported,
// which must be refused as an unknown case (exit 2). When support for one lands, this test fails
// for it: delete its line from EXPECTED_UNSUPPORTED (one line per folder).
#include "test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_test.h"

// Fixture folders no verifier handles yet, one line each, NULL last. (DM-GAN, DF-GAN and
// TF-slim Inception were listed here until their verifiers landed.) Remove a line when `verify`
// supports the folder; add one when a fixture arrives before its verifier.
static const char *const EXPECTED_UNSUPPORTED[] = {
    NULL,
};

static int n_expected_unsupported(void) {
    int n = 0;
    while (EXPECTED_UNSUPPORTED[n]) n++;
    return n;
}

static int expected_unsupported(const char *name) {
    for (int i = 0; EXPECTED_UNSUPPORTED[i]; i++)
        if (!strcmp(EXPECTED_UNSUPPORTED[i], name)) return 1;
    return 0;
}

TEST(verify_every_fixture_folder) {
    const char *root = test_fixtures_dir();
    DIR *d = opendir(root);
    CHECKF(d != NULL, "cannot open %s", root);
    if (!d) return;
    int folders = 0, listed_seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        folders++;
        int rc = sh("%s verify %s", BIN, path);
        if (expected_unsupported(e->d_name)) {
            listed_seen++;
            CHECKF(rc == 2 && strstr(OUT, "unknown fixture case"),
                   "%s is listed as expected-unsupported but verify gave exit %d (support landed? "
                   "remove its line from EXPECTED_UNSUPPORTED):\n%s", e->d_name, rc, OUT);
        } else {
            CHECKF(rc == 0 && strstr(OUT, "0 failing output(s), 0 error(s)"),
                   "verify %s: exit %d:\n%s", e->d_name, rc, OUT);
        }
    }
    closedir(d);
    CHECKF(folders >= 7, "only %d fixture folders under %s", folders, root);
    CHECKF(listed_seen == n_expected_unsupported(),
           "%d of the expected-unsupported folders exist", listed_seen);
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2iv_%d", (int)getpid());
    mkdir(T, 0700);
    RUN(verify_every_fixture_folder);
    sh("rm -rf %s", T);
    return test_report("test_verify_fixtures");
}
