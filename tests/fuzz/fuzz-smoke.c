/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-smoke.c - main() of the smoke build of every fuzz target.
 *
 * Without libFuzzer, each tests/fuzz/fuzz-NAME.c is linked with this file
 * into fuzz-NAME-smoke, which `make check` runs over the checked-in corpus
 * (tests/fuzz/corpus/NAME/): every seed and every crash reproducer ever
 * saved there is replayed on each run.  Each input is fed from a buffer of
 * exactly its size, so a sanitizer build sees any read past the end.
 *
 * A target may define fuzz_smoke_extra() to run generated inputs after the
 * corpus (fuzz-compare does).
 */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, defined by a target: more inputs after the corpus. */
void fuzz_smoke_extra(void) __attribute__((weak));

/* Feeds one file as an exact-size buffer; false if it cannot be read. */
static bool run_file(const char *path)
{
    gchar *buf;
    gsize len;
    uint8_t *exact;

    if (!g_file_get_contents(path, &buf, &len, NULL)) {
        return false;
    }
    exact = g_malloc(len ? len : 1);
    memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
    g_free(exact);
    g_free(buf);
    return true;
}

/* Runs 'arg', a file or a directory of files; returns the inputs run, or
 * -1 if one cannot be read. */
static int run_arg(const char *arg)
{
    GDir *dir = g_dir_open(arg, 0, NULL);
    const char *name;
    int n = 0;

    if (!dir) {
        return run_file(arg) ? 1 : -1;
    }
    while ((name = g_dir_read_name(dir))) {
        g_autofree gchar *path = g_build_filename(arg, name, NULL);

        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            continue;
        }
        if (!run_file(path)) {
            fprintf(stderr, "cannot read %s\n", path);
            g_dir_close(dir);
            return -1;
        }
        n++;
    }
    g_dir_close(dir);
    return n;
}

int main(int argc, char **argv)
{
    g_autofree char *prog = g_path_get_basename(argv[0]);
    unsigned n = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        int k = run_arg(argv[i]);

        if (k < 0) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        n += k;
    }
    if (fuzz_smoke_extra) {
        fuzz_smoke_extra();
    }
    printf("%s: %u inputs ran\n", prog, n);
    return n ? 0 : 1;
}
