/* Statistics over the current contents of a ring buffer. */
#include "ringbuf.h"

double rb_mean(const struct ringbuf *rb);
double rb_stddev(const struct ringbuf *rb); /* population standard deviation */
