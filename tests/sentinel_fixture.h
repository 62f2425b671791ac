// sentinel_fixture.h: a master, its replicas and three Sentinels on this
// host, for the tests.
//
// Every server is a RedisServer on a 127.0.0.1 port, stopped by pid when the
// fixture goes, whatever the test did. The Sentinels watch the master as
// "mymaster" with a quorum of 2 and find it down after 1 s, so a killed
// master is replaced within a few seconds.
#ifndef H5REDISLOCK_TESTS_SENTINEL_FIXTURE_H_
#define H5REDISLOCK_TESTS_SENTINEL_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace h5redislock {
namespace testing {

class LocalSentinels {
 public:
  static constexpr const char* kMasterName = "mymaster";

  explicit LocalSentinels(int replicas = 1, int sentinels = 3);
  LocalSentinels(const LocalSentinels&) = delete;
  LocalSentinels& operator=(const LocalSentinels&) = delete;

  // redis-sentinel://127.0.0.1:<port>,.../mymaster
  std::string url() const;
  RedisServer& server(size_t i) { return *servers_[i]; }  // the master and replicas
  RedisServer& sentinel(size_t i) { return *sentinels_[i]; }

  // The server the Sentinels name as master now.
  size_t master() const;

  // SENTINEL FAILOVER: a replica is promoted at once (what the old master had
  // not sent it is lost); waits until every Sentinel names it, it is master,
  // and the other replicas replicate from it (the old master follows later).
  // Returns the new master.
  size_t FailOver();
  // SIGKILLs the master and waits until the Sentinels promoted a replica.
  // Returns the new master.
  size_t KillMaster();

 private:
  // Waits until every Sentinel names `master`, it is master, at least
  // `replicas` servers replicate from it with their link up, and the
  // Sentinels know each other and that many replicas.
  void WaitFor(size_t master, int replicas) const;
  size_t NamedMaster(size_t sentinel) const;

  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_SENTINEL_FIXTURE_H_
