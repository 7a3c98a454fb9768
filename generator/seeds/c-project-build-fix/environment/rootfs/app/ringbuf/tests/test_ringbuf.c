/* Unit tests of the ring buffer and its statistics. Exit status 0 when all pass. */
#include <math.h>
#include <stdio.h>

#include "ringbuf.h"
#include "stats.h"

static int fails;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        fails++;
    }
}

int main(void)
{
    struct ringbuf rb;
    check(ringbuf_init(&rb, 3) == 0, "init");
    ringbuf_push(&rb, 1);
    ringbuf_push(&rb, 2);
    check(rb.len == 2, "len before full");
    check(fabs(rb_mean(&rb) - 1.5) < 1e-9, "mean of 1,2");
    for (int i = 3; i <= 5; i++)
        ringbuf_push(&rb, i);
    check(rb.len == 3, "len stays at capacity");
    check(ringbuf_get(&rb, 0) == 3 && ringbuf_get(&rb, 1) == 4 && ringbuf_get(&rb, 2) == 5,
          "oldest first after wrapping");
    check(fabs(rb_mean(&rb) - 4.0) < 1e-9, "mean of 3,4,5");
    check(fabs(rb_stddev(&rb) - sqrt(2.0 / 3.0)) < 1e-9, "stddev of 3,4,5");
    ringbuf_push(&rb, 10);
    check(ringbuf_get(&rb, 0) == 4 && ringbuf_get(&rb, 2) == 10, "second wrap");
    ringbuf_free(&rb);
    printf(fails ? "%d test(s) FAILED\n" : "all tests passed\n", fails);
    return fails != 0;
}
