#include <math.h>

#include "stats.h"

double rb_mean(const struct ringbuf *rb)
{
    double sum = 0.0;
    for (size_t i = 0; i < rb->len; i++)
        sum += ringbuf_get(rb, i);
    return rb->len ? sum / rb->len : 0.0;
}

double rb_stddev(const struct ringbuf *rb)
{
    double m = rb_mean(rb), acc = 0.0;
    for (size_t i = 0; i < rb->len; i++) {
        double d = ringbuf_get(rb, i) - m;
        acc += d * d;
    }
    return rb->len ? sqrt(acc / rb->len) : 0.0;
}
