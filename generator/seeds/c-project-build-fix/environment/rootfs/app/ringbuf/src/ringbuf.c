#include <stdlib.h>

#include "ringbuf.h"

int ringbuf_init(struct ringbuf *rb, size_t cap)
{
    rb->data = calloc(cap, sizeof(double));
    rb->cap = cap;
    rb->len = 0;
    rb->head = 0;
    return rb->data ? 0 : -1;
}

void ringbuf_free(struct ringbuf *rb)
{
    free(rb->data);
    rb->data = NULL;
}

void ringbuf_push(struct ringbuf *rb, double v)
{
    if (rb->len < rb->cap) {
        rb->data[(rb->head + rb->len) % rb->cap] = v;
        rb->len++;
    } else {
        /* full: overwrite the oldest element */
        rb->data[rb->head] = v;
    }
}

double ringbuf_get(const struct ringbuf *rb, size_t i)
{
    return rb->data[(rb->head + i) % rb->cap];
}
