#include "tcp_relay.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <stdexcept>
#include <vector>

namespace h5redislock {
namespace testing {
namespace {

constexpr size_t kMaxBuffered = 1 << 20;  // per direction; reading stops above it

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Closes `fd` with a RST rather than a FIN.
void Reset(int fd) {
  linger abort{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  close(fd);
}

void Close(int fd) { close(fd); }

// Bytes on their way from one socket to another.
struct Flow {
  int from, to;
  std::string pending;
  bool ended = false;  // `from` said EOF; `to` is shut for writing once `pending` is out
};

// One client's connection and the relay's connection to the server for it.
struct Link {
  Flow up, down;  // client to server, server to client
  bool broken = false;
};

// The relay's loop, in the child process.
class Relay {
 public:
  Relay(int listener, int control, int server_port)
      : listener_(listener), control_(control), server_port_(server_port) {}

  void Run() {
    for (;;) {
      const bool moving = !paused_;
      std::vector<pollfd> fds = {{control_, POLLIN, 0}};
      if (moving) fds.push_back({listener_, POLLIN, 0});
      std::vector<std::pair<Flow*, bool>> roles;  // per fd after those two: the flow, and whether it reads
      if (moving) {
        for (Link& link : links_) {
          for (Flow* f : {&link.up, &link.down}) {
            if (!f->ended && f->pending.size() < kMaxBuffered) {
              fds.push_back({f->from, POLLIN, 0});
              roles.emplace_back(f, true);
            }
            if (!f->pending.empty()) {
              fds.push_back({f->to, POLLOUT, 0});
              roles.emplace_back(f, false);
            }
          }
        }
      }
      if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      // A command changes what the set was made for: the state, or (a drop)
      // the sockets, closed and their links freed. Poll again.
      if (fds[0].revents) {
        if (!Obey()) return;
        continue;
      }
      if (!moving) continue;
      if (fds[1].revents) Accept();
      for (size_t i = 0; i < roles.size(); ++i) {
        if (fds[i + 2].revents) Move(*roles[i].first, roles[i].second);
      }
      Tidy();
    }
  }

 private:
  // A command from the test; false when the test is done with us.
  bool Obey() {
    char command = 0;
    if (read(control_, &command, 1) != 1 || command == 'q') return false;
    if (command == 'p') paused_ = true;
    if (command == 'r') paused_ = false;
    if (command == 'd') DropAll();
    return write(control_, "k", 1) == 1;
  }

  void Accept() {
    for (;;) {
      int client = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) return;
      int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = Loopback(server_port_);
      if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (server >= 0) close(server);
        Reset(client);
        continue;
      }
      fcntl(server, F_SETFL, fcntl(server, F_GETFL) | O_NONBLOCK);
      Link& link = links_.emplace_back();
      link.up.from = link.down.to = client;
      link.up.to = link.down.from = server;
    }
  }

  // Reads from or writes for `flow`; a socket error breaks its link.
  void Move(Flow& flow, bool reading) {
    Link& link = LinkOf(flow);
    if (reading) {
      char buf[16384];
      ssize_t n = read(flow.from, buf, sizeof buf);
      if (n > 0) flow.pending.append(buf, static_cast<size_t>(n));
      if (n == 0) flow.ended = true;
      if (n < 0 && errno != EAGAIN && errno != EINTR) link.broken = true;
    } else {
      ssize_t n = write(flow.to, flow.pending.data(), flow.pending.size());
      if (n > 0) flow.pending.erase(0, static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) link.broken = true;
    }
  }

  Link& LinkOf(Flow& flow) {
    for (Link& link : links_)
      if (&link.up == &flow || &link.down == &flow) return link;
    throw std::logic_error("a flow without a link");
  }

  // Passes EOFs on once their bytes are out; closes links that are done. A
  // link broken on one side is reset on the other, as a network would.
  void Tidy() {
    for (auto it = links_.begin(); it != links_.end();) {
      Link& link = *it;
      for (Flow* f : {&link.up, &link.down}) {
        if (f->ended && f->pending.empty()) shutdown(f->to, SHUT_WR);
      }
      const bool done = link.up.ended && link.down.ended && link.up.pending.empty() && link.down.pending.empty();
      if (link.broken || done) {
        void (*end)(int) = link.broken ? Reset : Close;
        end(link.up.from);
        end(link.up.to);
        it = links_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void DropAll() {
    for (Link& link : links_) {
      Reset(link.up.from);
      Reset(link.up.to);
    }
    links_.clear();
    for (int client; (client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) Reset(client);
  }

  const int listener_, control_, server_port_;
  bool paused_ = false;
  std::list<Link> links_;  // a list: flows are found by address
};

}  // namespace

TcpRelay::TcpRelay(int server_port) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof addr;
  int pair[2];
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 128) != 0 || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    throw std::runtime_error("cannot set up the relay's sockets");
  port_ = ntohs(addr.sin_port);
  const pid_t test = getpid();
  fflush(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != test) _exit(1);
    close(pair[0]);
    signal(SIGPIPE, SIG_IGN);
    // Whatever happens, this copy of the test's process never returns into
    // the test's body.
    try {
      Relay(listener, pair[1], server_port).Run();
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  close(listener);
  close(pair[1]);
  control_ = pair[0];
}

TcpRelay::~TcpRelay() {
  if (send(control_, "q", 1, MSG_NOSIGNAL) != 1) kill(pid_, SIGKILL);
  close(control_);
  waitpid(pid_, nullptr, 0);
}

void TcpRelay::Tell(char command) {
  char ack = 0;
  // A relay that died closed its end: an error, not SIGPIPE.
  if (send(control_, &command, 1, MSG_NOSIGNAL) != 1 || read(control_, &ack, 1) != 1 || ack != 'k')
    throw std::runtime_error(std::string("the relay did not obey '") + command + "'");
}

void TcpRelay::Pause() { Tell('p'); }
void TcpRelay::Drop() { Tell('d'); }
void TcpRelay::Resume() { Tell('r'); }

}  // namespace testing
}  // namespace h5redislock
