// lock_name.h: which lock guards a file.
//
// Two spellings of one file ("data.h5", "./x/../data.h5", a symlink) must
// share a lock, so a file's lock is named by its canonical path: realpath()
// of the file, or, for a file about to be created, realpath() of its
// directory plus its name. config key= replaces it (e.g. to share one lock
// between hosts that mount the file at different paths).
#ifndef H5REDISLOCK_LOCK_NAME_H_
#define H5REDISLOCK_LOCK_NAME_H_

#include <string>

#include "base/status.h"

namespace h5redislock {

// *exists (if given) tells whether the file is there: false once realpath()
// found no such file, whether or not its directory resolved.
Status CanonicalPath(const std::string& path, std::string* out, bool* exists = nullptr);

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOCK_NAME_H_
