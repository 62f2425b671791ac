// no_destructor.h: a process-lifetime object whose destructor never runs.
//
// HDF5 closes files from an atexit handler, which can run after the static
// destructors of this library: what a close needs (the compiled lock
// scripts, the host's identity, HDF5's error class) must still work then.
// Holding it in NoDestructor keeps it alive until the process is gone. (The
// lock table, with the pools and the keeper, is kept alive differently: one
// per fork generation, never freed; see LockTable::ForThisProcess.)
#ifndef H5REDISLOCK_NO_DESTRUCTOR_H_
#define H5REDISLOCK_NO_DESTRUCTOR_H_

#include <new>
#include <type_traits>
#include <utility>

namespace h5redislock {

template <typename T>
class NoDestructor {
 public:
  template <typename... Args>
  explicit NoDestructor(Args&&... args) {
    new (storage_) T(std::forward<Args>(args)...);
  }
  NoDestructor(const NoDestructor&) = delete;
  NoDestructor& operator=(const NoDestructor&) = delete;

  T* get() { return std::launder(reinterpret_cast<T*>(storage_)); }
  T& operator*() { return *get(); }
  T* operator->() { return get(); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_NO_DESTRUCTOR_H_
