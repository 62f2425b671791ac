// tcp_relay_test.cc: the relay that the fault tests put between clients and
// Redis (tcp_relay.h) does what the tests count on, under traffic.
//
// What is proven: a reset (Drop) of a relay while it forwards resets the
// connections in use and the relay goes on: new connections are served,
// and it obeys the next command. The soak resets relays whose clients are
// busy; before this test, the relay went on after a reset with the poll
// events of the sockets it had just closed, found no link for them ("a
// flow without a link"), and threw out of its process's loop into the
// copy of the test's body it was forked from, which ran on as a second
// test; the test itself died of SIGPIPE at its next command to the relay.
//
// To watch it fail: in Relay::Run (tcp_relay.cc), take out the `continue`
// after Obey, so that the events of the same poll are handled after a
// command; then
//   build/tests/tcp_relay_test
// fails with "the relay did not obey 'd'": its relay process is gone.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <string>
#include <thread>

#include "polling.h"
#include "tcp_relay.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// PINGs through `port` on one connection after another, pipelined by
// `depth`, until `stop`; counts the replies, and the connections that broke
// after they had served.
void Ping(int port, int depth, const std::atomic<bool>& stop, std::atomic<long long>* pongs,
          std::atomic<long long>* broken) {
  const timeval timeout{1, 0};
  while (!stop) {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (c && !c->err) redisSetTimeout(c, timeout);
    bool served = false;
    while (c && !c->err && !stop) {
      for (int i = 0; i < depth; ++i) redisAppendCommand(c, "PING");
      for (int i = 0; i < depth && !c->err; ++i) {
        void* reply = nullptr;
        if (redisGetReply(c, &reply) == REDIS_OK) {
          ++*pongs;
          served = true;
        }
        freeReplyObject(reply);
      }
    }
    if (c && c->err && served && !stop) ++*broken;
    redisFree(c);
  }
}

TEST(TcpRelayTest, DropWhileForwardingResetsConnectionsAndKeepsRelaying) {
  RedisServer redis({}, /*tcp=*/true);
  TcpRelay relay(redis.port());
  std::atomic<bool> stop{false};
  std::atomic<long long> pongs{0}, broken{0};
  std::vector<std::thread> clients;
  for (int depth : {1, 16, 64}) clients.emplace_back(Ping, relay.port(), depth, std::cref(stop), &pongs, &broken);
  ASSERT_TRUE(WaitFor([&] { return pongs > 100; }, 10)) << "no traffic through the relay";

  bool obeyed = true;
  std::string why;
  for (int i = 0; i < 200 && obeyed; ++i) {
    try {
      relay.Drop();
    } catch (const std::exception& e) {
      obeyed = false;
      why = e.what();
    }
    SleepSeconds(0.005);
  }
  const long long before = pongs;
  const bool served = obeyed && WaitFor([&] { return pongs > before + 100; }, 10);
  stop = true;
  for (std::thread& t : clients) t.join();
  std::printf("%lld replies through the relay, %lld connections in use reset by its drops\n", pongs.load(),
              broken.load());
  EXPECT_TRUE(obeyed) << why;
  EXPECT_TRUE(served) << "no traffic through the relay after the drops";
  EXPECT_GT(broken.load(), 0) << "the drops reset no connection that was in use";
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
