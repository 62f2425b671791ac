#include "driver/inner_fapl.h"

#include <map>
#include <mutex>

#include "base/no_destructor.h"

namespace h5redislock {
namespace {

struct Fapls {
  std::mutex mu;
  std::map<std::string, hid_t> by_driver;  // guarded by mu
};

// Never destroyed: HDF5 closes files from an atexit handler that may run
// after static destructors.
Fapls& Cache() {
  static NoDestructor<Fapls> fapls;
  return *fapls;
}

}  // namespace

Status InnerFapl(const std::string& inner, hid_t* out) {
  Fapls& cache = Cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  auto it = cache.by_driver.find(inner);
  if (it != cache.by_driver.end()) {
    *out = it->second;
    return Status::OK();
  }
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return Status::Internal("cannot create a file access property list");
  const herr_t rc = inner == "sec2" ? H5Pset_fapl_sec2(fapl) : H5Pset_driver_by_name(fapl, inner.c_str(), nullptr);
  if (rc < 0) {
    H5Pclose(fapl);
    return Status::InvalidArgument("inner='" + inner + "': HDF5 does not know this driver");
  }
  cache.by_driver[inner] = fapl;
  *out = fapl;
  return Status::OK();
}

void ForgetInnerFapls() {
  Fapls& cache = Cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  cache.by_driver.clear();
}

}  // namespace h5redislock
