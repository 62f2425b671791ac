// shared_array.h: objects in memory shared with child processes.
//
// The tests and the benchmarks fork real processes that hold locks, and
// those report back what they saw (when they got the lock, what they read)
// through memory mapped MAP_SHARED before the fork. The driver itself shares
// no memory; this lives in base/ because both tests/ and bench/ use it and
// bench/ may see only the driver's lower layers (scripts/check-layers), and
// it needs nothing but POSIX.
//
// Thread-safety: the objects are what T makes them; across processes, T
// must work without its destructor (plain values, lock-free atomics).
#ifndef H5REDISLOCK_SHARED_ARRAY_H_
#define H5REDISLOCK_SHARED_ARRAY_H_

#include <sys/mman.h>

#include <cstddef>
#include <new>

namespace h5redislock {

// `n` default-constructed objects of T, shared with children forked later.
// Throws std::bad_alloc if the memory cannot be mapped.
template <typename T>
class SharedArray {
 public:
  explicit SharedArray(size_t n) : n_(n) {
    void* p = mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    for (size_t i = 0; i < n; ++i) new (&data_[i]) T();
  }
  ~SharedArray() { munmap(data_, sizeof(T) * n_); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;
  T& operator[](size_t i) { return data_[i]; }
  size_t size() const { return n_; }

 private:
  size_t n_;
  T* data_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_SHARED_ARRAY_H_
