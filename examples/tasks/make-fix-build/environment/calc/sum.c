#include <stdlib.h>
#include "sum.h"

long sum_args(int n, char **args) {
    long total = 0;
    for (int i = 0; i < n; i++) total += strtol(args[i], NULL, 10);
    return total;
}
