// no_destructor.h: a process-lifetime object whose destructor never runs.
//
// HDF5 closes files from an atexit handler, which can run after the static
// destructors of this library: the lock table, the connection pools and the
// lease keeper must still work then. Holding them in NoDestructor keeps them
// alive until the process is gone (the kernel closes the sockets).
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
