#include "puppet.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "hdf5_files.h"

namespace h5redislock {
namespace testing {

Puppet::Puppet(const std::string& path, const std::string& config, bool for_writing) {
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) throw std::runtime_error("pipe");
  double* times = &times_[0];
  char* error = &error_[0];
  pid_ = RunChild([&] {
    close(to_child[1]);
    close(to_parent[0]);
    return Serve(path, config, for_writing, to_child[0], to_parent[1], times, error);
  });
  close(to_child[0]);
  close(to_parent[1]);
  in_ = to_parent[0];
  out_ = to_child[1];
}

Puppet::~Puppet() {
  close(out_);
  close(in_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitChild(pid_);
  }
}

bool Puppet::Ask(char command) {
  if (write(out_, &command, 1) != 1) return false;
  char answer = 0;
  return read(in_, &answer, 1) == 1 && answer == 'y';
}

bool Puppet::Opened() {
  char answer = 0;
  return read(in_, &answer, 1) == 1 && answer == 'y';
}

int Puppet::Wait() {
  int rc = WaitChild(pid_);
  pid_ = -1;
  return rc;
}

int Puppet::Serve(const std::string& path, const std::string& config, bool for_writing, int in, int out,
                  double* times, char* error) {
  auto refused = [&](const char* what) {
    std::string text = ErrorText();
    std::fprintf(stderr, "puppet %d: %s refused:\n%s", getpid(), what, text.c_str());
    text.resize(std::min(text.size(), kErrorSize - 1));
    std::copy(text.c_str(), text.c_str() + text.size() + 1, error);
  };
  hid_t fapl = LockedFapl(config);
  auto open = [&] {
    hid_t file = H5Fopen(path.c_str(), for_writing ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (file >= 0) times[0] = MonotonicSeconds();
    if (file < 0) refused("open");
    return file;
  };
  hid_t f = open();
  auto answer = [&](bool ok) {
    char c = ok ? 'y' : 'n';
    return write(out, &c, 1) == 1;
  };
  if (!answer(f >= 0)) return 2;
  int value = 100;
  for (char command; read(in, &command, 1) == 1;) {
    if (command == 'w') {
      int data[4] = {value, value, value, value};
      ++value;
      bool ok = WriteAll(f, "x", H5T_NATIVE_INT, data) && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0;
      if (ok) times[1] = MonotonicSeconds();
      if (!ok) refused("write");
      answer(ok);
    } else if (command == 'c') {
      bool ok = H5Fclose(f) >= 0;
      if (!ok) refused("close");
      answer(ok);
      f = -1;
    } else if (command == 'o') {
      f = open();
      answer(f >= 0);
    } else if (command == 'h') {
      answer(H5close() >= 0);
    } else if (command == 'q') {
      return 0;
    }
  }
  return 0;
}

}  // namespace testing
}  // namespace h5redislock
