long sum_args(int n, char **args);
