/* A standalone `nh sync run` for the benchmarks (the same code as the CLI's). */
int nh_cli_sync_run(int argc, char **argv);

int main(int argc, char **argv) { return nh_cli_sync_run(argc - 1, argv + 1); }
