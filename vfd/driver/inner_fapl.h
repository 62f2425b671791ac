// inner_fapl.h: the file access property list of the inner driver.
//
// Every open of the inner file (H5FDopen) needs a fapl that names the inner
// driver. The driver is always set explicitly, never left to the default,
// which HDF5_DRIVER=redislock would make this very driver. Making the list
// on every open costs more than the rest of the driver's own work on an open
// (a property list is a copy of HDF5's default one), so it is made once per
// process and inner driver, and kept. HDF5 ids do not survive the library's
// shutdown, and are numbered anew after it: the lists are forgotten when
// HDF5 terminates the driver (its terminate callback), never used after.
//
// Thread-safety: thread-safe.
#ifndef H5REDISLOCK_INNER_FAPL_H_
#define H5REDISLOCK_INNER_FAPL_H_

#include <hdf5.h>

#include <string>

#include "base/status.h"

namespace h5redislock {

// The fapl for the inner driver `inner` ("sec2", or a driver's name), owned
// by this module: the caller must not close it.
Status InnerFapl(const std::string& inner, hid_t* out);

// HDF5 is terminating the driver: the lists go with it.
void ForgetInnerFapls();

}  // namespace h5redislock

#endif  // H5REDISLOCK_INNER_FAPL_H_
