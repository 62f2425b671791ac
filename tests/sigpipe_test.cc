// sigpipe_test.cc: a server that closes the driver's idle connections never
// kills the program the driver is loaded into.
//
// Writing to a socket whose other end is closed raises SIGPIPE, whose
// default action ends the process, silently: a program that opens a file
// after Redis closed the connection the driver keeps for it (the server's
// `timeout`, a restart) would die in H5Fopen. The driver writes plain
// sockets with MSG_NOSIGNAL and guards TLS writes (redis_connection.cc).
// To watch this fail, make WriteWithoutSigpipe leave the context's functions
// alone: the child below then dies of SIGPIPE.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "hdf5_files.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class SigpipeTest : public OneServerTest {
 protected:
  // The server closes a client connection after 1 s without a command.
  SigpipeTest() : OneServerTest({"--timeout", "1"}) {}
};

TEST_F(SigpipeTest, AConnectionTheServerClosedIsReplacedWithoutSignal) {
  const std::string config = ServerConfig("retain=0;timeout=10");
  const std::string path = MakeFile("f.h5");
  const int status = WaitChild(RunChild([&] {
    signal(SIGPIPE, SIG_DFL);  // as in a program that never thought of it
    hid_t fapl = LockedFapl(config);
    for (int round = 0; round < 2; ++round) {
      hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
      if (f < 0 || H5Fclose(f) < 0) return 1;
      // The connections the driver keeps for the next open go idle: the
      // server closes them. The next open writes to one of them first.
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    }
    return H5Pclose(fapl) < 0 ? 2 : 0;
  }));
  EXPECT_NE(status, 128 + SIGPIPE) << "the program was killed by SIGPIPE";
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
