#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ringbuf.h"
#include "stats.h"

int main(int argc, char **argv)
{
    size_t n = 5;
    int opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt == 'n') {
            n = strtoul(optarg, NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [-n window]\n", argv[0]);
            return 2;
        }
    }
    if (n == 0) {
        fprintf(stderr, "window must be positive\n");
        return 2;
    }
    struct ringbuf rb;
    if (ringbuf_init(&rb, n) != 0)
        return 1;
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char *end;
        double v = strtod(line, &end);
        if (end == line)
            continue; /* blank or garbage line */
        ringbuf_push(&rb, v);
        printf("window=[");
        for (size_t i = 0; i < rb.len; i++)
            printf(i ? ",%g" : "%g", ringbuf_get(&rb, i));
        printf("] mean=%.3f sd=%.3f\n", rb_mean(&rb), rb_stddev(&rb));
    }
    ringbuf_free(&rb);
    return 0;
}
