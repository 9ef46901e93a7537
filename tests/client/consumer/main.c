/* A program built against an installed libduro (see install_test.sh). */
#include <duro/duro.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char url[4096];
    snprintf(url, sizeof url, "file://%s?actors=1", argc > 1 ? argv[1] : "/tmp/duro-consumer");
    if (strcmp(duro_version(), DURO_VERSION_STRING) != 0) {
        fprintf(stderr, "libduro %s, headers %s\n", duro_version(), DURO_VERSION_STRING);
        return 1;
    }
    duro *db;
    int rc = duro_open(url, &db);
    if (rc != DURO_OK) {
        fprintf(stderr, "open: %s: %s\n", duro_errstr(rc), duro_last_error());
        return 1;
    }
    char *v = NULL;
    rc = duro_put(db, "app", "k", "{\"ok\":true}", 11, 0);
    if (rc == DURO_OK)
        rc = duro_get(db, "app", "k", &v, NULL);
    int good = rc == DURO_OK && strcmp(v, "{\"ok\":true}") == 0;
    printf("%s %s\n", good ? "ok" : "FAIL", good ? v : duro_errstr(rc));
    duro_free(v);
    duro_close(db);
    return good ? 0 : 1;
}
