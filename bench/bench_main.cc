// bench_main.cc: the benchmark program: Google Benchmark's main, with what
// must come before and after it. HDF5 reads HDF5_PLUGIN_PATH once, when it
// initializes, so the plugin path is set before any case runs; the scratch
// files go at the end.
#include <benchmark/benchmark.h>

#include "environment.h"

int main(int argc, char** argv) {
  using namespace h5redislock::bench;
  UseBuiltPlugin();
  benchmark::AddCustomContext("redis_url", RedisUrl());  // also fails early without a server
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  RemoveScratch();
  return 0;
}
