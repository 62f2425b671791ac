// base_test.cc: the small tools of vfd/base that the rest stands on, without
// a server: a descriptor an Fd owns is closed when the Fd goes or is reset;
// a SharedArray is seen by a forked child and refuses memory it cannot map
// (a copy without that check wrote through MAP_FAILED); HexString writes two
// lower-case digits a byte.
#include <gtest/gtest.h>
#include <fcntl.h>

#include <cerrno>
#include <atomic>
#include <new>
#include <thread>

#include "base/fd.h"
#include "base/fork_gate.h"
#include "base/hex.h"
#include "base/shared_array.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(FdTest, ClosesWhatItOwnsWhenItGoesOrIsReset) {
  int first = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(first, 0);
  {
    Fd fd(first);
    EXPECT_EQ(fd.get(), first);
    int second = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(second, 0);
    fd.reset(second);
    EXPECT_FALSE(IsOpen(first)) << "reset kept the descriptor it replaced";
    EXPECT_TRUE(IsOpen(second));
    first = second;
  }
  EXPECT_FALSE(IsOpen(first)) << "the descriptor outlived its Fd";
  Fd none;
  EXPECT_EQ(none.get(), -1);
}

TEST(SharedArrayTest, AChildsWritesAreSeenByItsParent) {
  SharedArray<long> values(3);
  EXPECT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0] + values[1] + values[2], 0);
  ASSERT_EQ(WaitChild(RunChild([&] {
              for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<long>(i) + 40;
              return 0;
            })),
            0);
  EXPECT_EQ(values[0], 40);
  EXPECT_EQ(values[2], 42);
}

TEST(SharedArrayTest, MemoryThatCannotBeMappedThrows) {
  EXPECT_THROW(SharedArray<char>(size_t{1} << 62), std::bad_alloc);
}

// fork() waits until no thread is inside a ForkGate::Busy, and a thread
// that wants in waits until fork has returned: the child never starts with a
// driver thread half-way through its work (in malloc, holding a lock). A
// thread of StartThread's is inside from before it starts: the fork right
// after StartThread waits for it too.
TEST(ForkGateTest, ForkWaitsForBusyThreadsToLeave) {
  std::atomic<double> left_at{0};
  std::atomic<bool> done{false};
  ForkGate::StartThread([&left_at, &done](ForkGate::Busy& busy) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    left_at = MonotonicSeconds();
    busy.Leave();
    done = true;  // nothing of the test's after this
  });
  // The child's own threads may enter the gate, and the child may fork.
  pid_t child = RunChild([] {
    std::thread inner([] { ForkGate::Busy busy; });
    inner.join();
    pid_t grandchild = fork();
    if (grandchild == 0) _exit(0);
    return WaitChild(grandchild);
  });
  const double forked_at = MonotonicSeconds();
  EXPECT_EQ(WaitChild(child), 0);
  while (!done) std::this_thread::yield();
  EXPECT_GE(forked_at, left_at.load()) << "fork returned while a thread was still busy";
}

TEST(HexStringTest, TwoLowerCaseDigitsAByte) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff, 0x10};
  EXPECT_EQ(HexString(bytes, sizeof bytes), "000fa5ff10");
  EXPECT_EQ(HexString(bytes, 0), "");
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
