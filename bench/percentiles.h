// percentiles.h: order statistics of measurements (nearest rank), for the
// cases that collect many samples themselves: hand-off latencies, and the
// pairwise ratios of the paired cases.
#ifndef H5REDISLOCK_BENCH_PERCENTILES_H_
#define H5REDISLOCK_BENCH_PERCENTILES_H_

#include <vector>

namespace h5redislock {
namespace bench {

// The q-quantile (0 < q <= 1) of `values`, by nearest rank; 0 if empty.
double Percentile(std::vector<double> values, double q);
inline double Median(std::vector<double> values) { return Percentile(std::move(values), 0.5); }

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_PERCENTILES_H_
