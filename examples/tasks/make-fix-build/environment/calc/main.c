#include <stdio.h>
#include "sum.h"

int main(int argc, char **argv) {
    printf("%ld\n", sum_args(argc - 1, argv + 1));
    return 0;
}
