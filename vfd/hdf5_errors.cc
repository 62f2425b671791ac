#include "hdf5_errors.h"

#include <mutex>

#include "no_destructor.h"

namespace h5redislock {
namespace {

// Our error class. HDF5 closes every error class when the library shuts
// down (H5close), so the ID is re-registered when it has become invalid.
hid_t ErrorClass() {
  static NoDestructor<std::mutex> mu;
  static hid_t cls = H5I_INVALID_HID;
  std::lock_guard<std::mutex> lock(*mu);
  if (cls == H5I_INVALID_HID || H5Iis_valid(cls) <= 0)
    cls = H5Eregister_class("h5redislock", "h5redislock", H5REDISLOCK_VERSION);
  return cls;
}

}  // namespace

void PushError(const Status& status, const char* function, hid_t minor) {
  // "%s" keeps any '%' in a file name from being read as a format.
  H5Epush2(H5E_DEFAULT, __FILE__, function, __LINE__, ErrorClass(), H5E_VFL, minor, "%s",
           status.message().c_str());
}

ErrorStackGuard::ErrorStackGuard() : saved_(H5Eget_current_stack()) {}

ErrorStackGuard::~ErrorStackGuard() {
  if (saved_ < 0) return;
  // Keep whatever the guarded call pushed, after what was there before.
  ssize_t added = H5Eget_num(H5E_DEFAULT);
  if (added > 0) H5Eappend_stack(saved_, H5Eget_current_stack(), true);
  H5Eset_current_stack(saved_);
}

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() {
  H5Eclear2(H5E_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, func_, data_);
}

}  // namespace h5redislock
