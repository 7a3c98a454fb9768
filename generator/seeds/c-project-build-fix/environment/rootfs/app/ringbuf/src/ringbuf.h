/* Fixed-capacity ring buffer of doubles. */
#include <stddef.h>

struct ringbuf {
    double *data;
    size_t cap;
    size_t len;
    size_t head; /* index of the oldest element */
};

int ringbuf_init(struct ringbuf *rb, size_t cap);
void ringbuf_free(struct ringbuf *rb);
void ringbuf_push(struct ringbuf *rb, double v);
double ringbuf_get(const struct ringbuf *rb, size_t i); /* i-th oldest element */
