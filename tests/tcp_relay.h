// tcp_relay.h: a TCP relay between clients and one server, whose network the
// test makes fail the way real networks fail.
//
// Clients connect to 127.0.0.1:port(); the relay opens a connection to the
// server's TCP port for each and forwards bytes both ways. The test can
//   Pause   stop forwarding, both ways: connections stay open and bytes wait
//           in the sockets; new connections wait in the listen queue (their
//           connect succeeds, as the kernel completes it, but nothing
//           answers). A network that went silent: no FIN, no RST.
//   Drop    reset every connection (RST), those still in the listen queue
//           too: a NAT or a firewall that lost its state. The relay stays
//           paused if it was.
//   Resume  forward and accept again; bytes that waited go through.
// Each call returns once the relay has done it.
//
// The relay is a child process of the test, not a thread: the test process
// forks the processes it tests, which must not inherit a running thread
// (ThreadSanitizer cannot follow such a fork). It dies with the test
// (PR_SET_PDEATHSIG), and is stopped by its pid.
#ifndef H5REDISLOCK_TESTS_TCP_RELAY_H_
#define H5REDISLOCK_TESTS_TCP_RELAY_H_

#include <sys/types.h>

#include <string>

namespace h5redislock {
namespace testing {

class TcpRelay {
 public:
  // Relays to the server at 127.0.0.1:`server_port`.
  explicit TcpRelay(int server_port);
  ~TcpRelay();  // stops the relay; its connections close
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  void Pause();
  void Drop();
  void Resume();

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  void Tell(char command);

  int port_ = 0;
  int control_ = -1;  // our end of the socket pair the relay reads commands from
  pid_t pid_ = -1;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_TCP_RELAY_H_
