// cli.h -- the t2ibench commands. Each takes (argc, argv) with argv[0] = the command name
// and returns a process exit code (args.h). Only main.c calls exit().
#ifndef T2I_CLI_H
#define T2I_CLI_H

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} Command;

int cmd_version(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_metric(int argc, char **argv);
int cmd_tensors(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_vocab_build(int argc, char **argv);
int cmd_suite(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval_images(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_fid_stats(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_rescore(int argc, char **argv);
int cmd_breakdown(int argc, char **argv);
int cmd_report(int argc, char **argv);

// Helpers of cmd_samples.c used by other commands.
int export_samples(const char *db_path, const char *run_arg, const char *fmt, const char *out);
#include <stdio.h>
#include "db.h"
int metric_sets_print(Db *d, int64_t run, FILE *f);
// Writes s escaped for XML/HTML text and attribute values (cmd_results.c).
void xml_escape(FILE *f, const char *s);

#endif
