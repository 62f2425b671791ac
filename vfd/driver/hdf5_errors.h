// hdf5_errors.h: reporting a Status on the HDF5 error stack.
//
// The driver registers its own error class ("h5redislock"), so `h5dump` and
// H5Eprint show our messages under our name, and pushes one entry per failed
// callback with the Status's message, which already names the file and the
// cause. Errors are pushed even when automatic printing is off: h5py turns
// the stack into its exception text that way.
//
// Thread-safety: thread-safe (the class registration is guarded by a mutex).
#ifndef H5REDISLOCK_HDF5_ERRORS_H_
#define H5REDISLOCK_HDF5_ERRORS_H_

#include <hdf5.h>

#include <string>

#include "base/status.h"

namespace h5redislock {

// Registers our error class if HDF5 has not got it (once per library
// lifetime). Call where clearing HDF5's error stack does no harm: it does.
void EnsureErrorClass();
// HDF5 shuts down (the driver's terminate callback): the class is gone.
void ForgetErrorClass();

// Pushes `status` (not OK) for the callback `function`, with HDF5's major
// class H5E_VFL and the given minor class. Pushing never clears the stack.
void PushError(const Status& status, const char* function, hid_t minor);

// Why the call that failed last failed, from the errors it pushed: the
// system's words for the errno that the newest one reporting an errno gives
// ("errno = 28", as sec2 and stdio report it), else the description of the
// error pushed last; "" if there is none.
std::string LastPushedCause();

// Saves the current error stack for the scope's duration: the public HDF5
// calls we make from callbacks (H5FDopen, H5FDclose) clear it on entry, and
// would otherwise erase what HDF5 had reported before calling us.
class ErrorStackGuard {
 public:
  ErrorStackGuard();
  ~ErrorStackGuard();
  ErrorStackGuard(const ErrorStackGuard&) = delete;
  ErrorStackGuard& operator=(const ErrorStackGuard&) = delete;

 private:
  hid_t saved_;
};

// Turns automatic error printing off for the scope's duration and clears
// what the guarded calls pushed: for calls whose failure is an answer
// (H5Pget_driver_info on a fapl without driver info), not an error.
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
  ErrorStackGuard keep_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_HDF5_ERRORS_H_
