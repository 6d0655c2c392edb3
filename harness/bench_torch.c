// bench_torch.c -- drives tools/torch_baseline.py --serve as a coprocess (see bench.h): one JSON
// request line per measurement on its stdin, one JSON reply line on its stdout. While t2ibench
// measures, the tool blocks reading its stdin, so the two never run at the same time.
#include "bench.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int number(const cJSON *j, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(x)) return 0;
    *v = x->valuedouble;
    return 1;
}

int bench_torch_parse(const char *line, BenchResult *out) {
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_Parse(line);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return t2i_error(T2I_EFORMAT, "PyTorch baseline tool: reply is not a JSON object: %.120s",
                         line);
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(j, "network");
    int rc = T2I_OK;
    double b = 0, t = 0, n = 0, s = 0, ips = 0, g = 0;
    if (cJSON_IsString(err)) {
        rc = t2i_error(T2I_EFORMAT, "PyTorch baseline tool failed on %s: %s",
                       cJSON_IsString(net) ? net->valuestring : "(no network)", err->valuestring);
    } else if (!cJSON_IsString(net) || !number(j, "batch", &b) || !number(j, "threads", &t) ||
               !number(j, "images", &n) || !number(j, "seconds", &s) ||
               !number(j, "images_per_s", &ips)) {
        rc = t2i_error(T2I_EFORMAT, "PyTorch baseline tool: reply lacks network, batch, threads, "
                                    "images, seconds or images_per_s: %.160s", line);
    } else if (!(b >= 1 && b <= 4096 && t >= 1 && t <= 256 && n >= 1 && n <= 1e9 && s > 0 &&
                 s < 1e9 && ips > 0 && ips < 1e9)) {
        rc = t2i_error(T2I_EFORMAT, "PyTorch baseline tool: reply has out-of-range values: %.160s",
                       line);
    } else {
        snprintf(out->network, sizeof out->network, "%s", net->valuestring);
        out->batch = (int)b, out->threads = (int)t, out->images = (int)n;
        out->seconds = s, out->images_per_s = ips;
        if (number(j, "gmac_per_image", &g) && g > 0) out->gmac_per_image = g;
    }
    cJSON_Delete(j);
    return rc;
}

// Reads one line of the tool's stdout (t2i_malloc'd into *line).
static int read_reply(TorchTool *t, char **line) {
    size_t cap = 0;
    *line = NULL;
    ssize_t n = getline(line, &cap, t->from);
    if (n <= 0) {
        free(*line);
        *line = NULL;
        return t2i_error(T2I_EIO, "PyTorch baseline tool %s ended without replying (see its "
                                  "messages above)", t->tool);
    }
    return T2I_OK;
}

int bench_torch_start(TorchTool *t, const char *python, const char *tool) {
    memset(t, 0, sizeof *t);
    snprintf(t->tool, sizeof t->tool, "%s", tool);
    if (access(tool, R_OK) != 0)
        return t2i_error(T2I_EIO, "PyTorch baseline tool %s: %s", tool, strerror(errno));
    int to[2], from[2];
    if (pipe(to) != 0) return t2i_error(T2I_EIO, "pipe: %s", strerror(errno));
    if (pipe(from) != 0) {
        close(to[0]), close(to[1]);
        return t2i_error(T2I_EIO, "pipe: %s", strerror(errno));
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        return t2i_error(T2I_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        execl(python, python, tool, "--serve", (char *)NULL);
        fprintf(stderr, "t2ibench bench: cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    t->pid = pid;
    t->to = fdopen(to[1], "w");
    t->from = fdopen(from[0], "r");
    if (!t->to || !t->from) {
        bench_torch_stop(t);
        return t2i_error(T2I_ENOMEM, "fdopen failed");
    }
    signal(SIGPIPE, SIG_IGN);   // a dead tool is reported by read_reply, not by a signal
    // Wait for the import of torch, so that it never overlaps a t2ibench measurement.
    fputs("{\"ping\": true}\n", t->to);
    fflush(t->to);
    char *line;
    int rc = read_reply(t, &line);
    if (rc) {
        bench_torch_stop(t);
        return rc;
    }
    cJSON *j = cJSON_Parse(line);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "torch");
    if (cJSON_IsString(v)) snprintf(t->version, sizeof t->version, "%s", v->valuestring);
    else rc = t2i_error(T2I_EFORMAT, "PyTorch baseline tool %s: unexpected first reply %.120s",
                        tool, line);
    cJSON_Delete(j);
    free(line);
    if (rc) bench_torch_stop(t);
    return rc;
}

int bench_torch_measure(TorchTool *t, const char *network, int batch, int threads, int iters,
                        int warmup, BenchResult *out) {
    if (!t->to) return t2i_error(T2I_EARG, "PyTorch baseline tool is not running");
    fprintf(t->to, "{\"network\": \"%s\", \"batch\": %d, \"threads\": %d, \"iters\": %d, "
                   "\"warmup\": %d}\n", network, batch, threads, iters, warmup);
    if (fflush(t->to) != 0)
        return t2i_error(T2I_EIO, "PyTorch baseline tool %s: cannot send a request: %s", t->tool,
                         strerror(errno));
    char *line;
    int rc = read_reply(t, &line);
    if (rc) return rc;
    rc = bench_torch_parse(line, out);
    free(line);
    return rc;
}

void bench_torch_stop(TorchTool *t) {
    if (t->to) fclose(t->to);   // EOF on its stdin ends the tool
    if (t->from) fclose(t->from);
    if (t->pid > 0) {
        int st;
        while (waitpid(t->pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    memset(t, 0, sizeof *t);
}
