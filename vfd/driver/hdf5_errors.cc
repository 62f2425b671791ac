#include "driver/hdf5_errors.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "base/no_destructor.h"

namespace h5redislock {
namespace {

// Our error class, registered once per HDF5 library lifetime. Registering
// (an API call) clears HDF5's error stack, so it happens when a file is
// opened (EnsureErrorClass), never while an error is being pushed; HDF5
// closes error classes when it shuts down, which calls our driver's
// terminate callback (ForgetErrorClass).
std::mutex& ClassMutex() {
  static NoDestructor<std::mutex> mu;
  return *mu;
}
hid_t g_error_class = H5I_INVALID_HID;  // guarded by ClassMutex()

}  // namespace

void EnsureErrorClass() {
  std::lock_guard<std::mutex> lock(ClassMutex());
  if (g_error_class == H5I_INVALID_HID)
    g_error_class = H5Eregister_class("h5redislock", "h5redislock", H5REDISLOCK_VERSION);
}

void ForgetErrorClass() {
  std::lock_guard<std::mutex> lock(ClassMutex());
  g_error_class = H5I_INVALID_HID;
}

void PushError(const Status& status, const char* function, hid_t minor) {
  hid_t cls;
  {
    std::lock_guard<std::mutex> lock(ClassMutex());
    cls = g_error_class;
  }
  // Only when nothing opened a file since HDF5 started: register now.
  if (cls == H5I_INVALID_HID) {
    EnsureErrorClass();
    std::lock_guard<std::mutex> lock(ClassMutex());
    cls = g_error_class;
  }
  // "%s" keeps any '%' in a file name from being read as a format.
  H5Epush2(H5E_DEFAULT, __FILE__, function, __LINE__, cls, H5E_VFL, minor, "%s", status.message().c_str());
}

std::string LastPushedCause() {
  struct Found {
    std::string newest;      // the error pushed last
    std::string with_errno;  // the newest that reports an errno
  } found;
  auto look = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* f = static_cast<Found*>(data);
    const std::string desc = err->desc ? err->desc : "";
    if (n == 0) f->newest = desc;
    if (desc.find("errno = ") == std::string::npos) return H5_ITER_CONT;
    f->with_errno = desc;
    return H5_ITER_STOP;
  };
  // Downward: from the error pushed last.
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, look, &found);
  if (found.with_errno.empty()) return found.newest;
  const int code = std::atoi(found.with_errno.c_str() + found.with_errno.find("errno = ") + 8);
  return code > 0 ? std::strerror(code) : found.with_errno;
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
