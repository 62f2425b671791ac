// status.h: the outcome of an operation that can fail.
//
// Modeled on LevelDB's Status: success carries nothing, failure carries a code
// the caller can branch on and a message a person can act on. Messages are
// built where the evidence is (file name, Redis endpoint, holder) and are
// pushed onto the HDF5 error stack unchanged by the callback layer, so they
// must never contain a secret (see RedisEndpoint::Describe).
//
// Thread-safety: a Status is a value; distinct objects may be used from
// distinct threads freely.
#ifndef H5REDISLOCK_STATUS_H_
#define H5REDISLOCK_STATUS_H_

#include <string>
#include <utility>

namespace h5redislock {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,   // a malformed config string or a bad value
    kTimeout,           // the lock was not granted within the timeout
    kBusy,              // would have to wait, and timeout=0 forbids it
    kUnavailable,       // Redis unreachable or the connection broke
    kUnsatisfiable,     // Redis cannot do what the configuration asks (replicas= more than it has)
    kAuth,              // Redis refused our credentials or a command (ACL)
    kCorrupt,           // Redis holds data under our keys we did not write
    kUpgrade,           // read-to-write upgrade within one process
    kLockLost,          // lease expired, lock broken, or Redis lost its state
    kIoError,           // a local file system call failed
    kInternal,          // a bug or an HDF5 call that failed unexpectedly
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status Error(Code code, std::string message) {
    return Status(code, std::move(message));
  }
  static Status InvalidArgument(std::string m) { return Error(Code::kInvalidArgument, std::move(m)); }
  static Status Timeout(std::string m) { return Error(Code::kTimeout, std::move(m)); }
  static Status Busy(std::string m) { return Error(Code::kBusy, std::move(m)); }
  static Status Unavailable(std::string m) { return Error(Code::kUnavailable, std::move(m)); }
  static Status Unsatisfiable(std::string m) { return Error(Code::kUnsatisfiable, std::move(m)); }
  static Status Auth(std::string m) { return Error(Code::kAuth, std::move(m)); }
  static Status Corrupt(std::string m) { return Error(Code::kCorrupt, std::move(m)); }
  static Status Upgrade(std::string m) { return Error(Code::kUpgrade, std::move(m)); }
  static Status LockLost(std::string m) { return Error(Code::kLockLost, std::move(m)); }
  static Status IoError(std::string m) { return Error(Code::kIoError, std::move(m)); }
  static Status Internal(std::string m) { return Error(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_STATUS_H_
