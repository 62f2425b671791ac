// routing_test.cc: what routes a lock to a server, without a server: the url
// forms for one server, a Redis Cluster and Sentinel, the replica policy each
// implies, the hash slots of a lock's keys, and redirecting replies.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstring>

#include "lock/config.h"
#include "lock/lock_keys.h"
#include "redis/hash_slot.h"
#include "redis/redirection.h"
#include "redis/redis_endpoint.h"

namespace h5redislock {
namespace testing {
namespace {

using Topology = RedisEndpoint::Topology;

RedisEndpoint Parse(const std::string& url) {
  RedisEndpoint ep;
  Status s = ParseRedisUrl(url, &ep);
  EXPECT_TRUE(s.ok()) << url << ": " << s.message();
  return ep;
}

std::string ParseError(const std::string& url) {
  RedisEndpoint ep;
  Status s = ParseRedisUrl(url, &ep);
  EXPECT_FALSE(s.ok()) << url;
  return s.message();
}

TEST(UrlTest, ClusterNodesCredentialsAndDescription) {
  RedisEndpoint ep = Parse("redis-cluster://alice:s%40cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002/");
  EXPECT_EQ(ep.topology, Topology::kCluster);
  EXPECT_EQ(ep.transport, RedisEndpoint::Transport::kTcp);
  ASSERT_EQ(ep.seeds.size(), 3u);
  EXPECT_EQ(ep.seeds[0], (HostPort{"10.0.0.1", 7000}));
  EXPECT_EQ(ep.seeds[2], (HostPort{"::1", 7002}));
  EXPECT_EQ(ep.user, "alice");
  EXPECT_EQ(ep.password, "s@cret");
  EXPECT_EQ(ep.Describe(), "redis-cluster://alice@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002");
  EXPECT_EQ(Parse("redis-cluster://h").seeds[0].port, 6379);
  EXPECT_EQ(Parse("rediss-cluster://h:1").transport, RedisEndpoint::Transport::kTls);
}

TEST(UrlTest, SentinelsAndMasterName) {
  RedisEndpoint ep = Parse("redis-sentinel://:pw@s1:26380,s2/mymaster");
  EXPECT_EQ(ep.topology, Topology::kSentinel);
  ASSERT_EQ(ep.seeds.size(), 2u);
  EXPECT_EQ(ep.seeds[1], (HostPort{"s2", 26379}));
  EXPECT_EQ(ep.master_name, "mymaster");
  EXPECT_EQ(ep.password, "pw");
  EXPECT_EQ(ep.Describe(), "redis-sentinel://s1:26380,s2:26379/mymaster");
  EXPECT_EQ(Parse("rediss-sentinel://s1/m").transport, RedisEndpoint::Transport::kTls);
}

TEST(UrlTest, NodesOfAClusterShareCredentialsNotTopology) {
  RedisEndpoint node = Parse("rediss-cluster://u:p@a:1,b:2").Node({"b", 2});
  EXPECT_EQ(node.topology, Topology::kSingle);
  EXPECT_EQ(node.transport, RedisEndpoint::Transport::kTls);
  EXPECT_EQ(node.Describe(), "rediss://u@b:2/0");
  EXPECT_EQ(node.password, "p");
}

TEST(UrlTest, MalformedFormsNameTheirFault) {
  EXPECT_NE(ParseError("redis-cluster://a:1/3").find("database 0"), std::string::npos);
  EXPECT_NE(ParseError("redis-cluster://a:1,,b:2").find("no host"), std::string::npos);
  EXPECT_NE(ParseError("redis-cluster://a:99999").find("port"), std::string::npos);
  EXPECT_NE(ParseError("redis-sentinel://s1:26379").find("names the master"), std::string::npos);
  EXPECT_NE(ParseError("redis-sentinel://s1:26379/").find("names the master"), std::string::npos);
  std::string err = ParseError("redis-sentinel://:hunter2@/m");
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;
}

TEST(UrlTest, ReplicaPolicyDefaultsToOneWhereFailoversHappen) {
  Config config;
  ASSERT_TRUE(ParseConfig("url=redis://h", &config).ok());
  EXPECT_EQ(config.replicas, 0);
  ASSERT_TRUE(ParseConfig("url=redis-cluster://h:1", &config).ok());
  EXPECT_EQ(config.replicas, 1);
  ASSERT_TRUE(ParseConfig("url=redis-sentinel://h/m;replicas=0", &config).ok());
  EXPECT_EQ(config.replicas, 0);
  ASSERT_TRUE(ParseConfig("url=redis://h;replicas=2;replica_timeout=0.05", &config).ok());
  EXPECT_EQ(config.replicas, 2);
  EXPECT_DOUBLE_EQ(config.replica_timeout_s, 0.05);
  Status s = ParseConfig("url=redis://h;replicas=-1", &config);
  EXPECT_NE(s.message().find("replicas="), std::string::npos) << s.message();
}

// The Redis Cluster specification's examples.
TEST(HashSlotTest, FollowsTheClusterSpecification) {
  EXPECT_EQ(HashSlot("123456789"), 0x31C3);  // CRC16-XMODEM's check value
  EXPECT_EQ(HashSlot("foo"), 12182);
  EXPECT_EQ(HashSlot("{user1000}.following"), HashSlot("{user1000}.followers"));
  EXPECT_NE(HashSlot("foo{}{bar}"), HashSlot("bar"));   // empty tag: the whole key
  EXPECT_EQ(HashSlot("foo{{bar}}zap"), HashSlot("{bar"));
  EXPECT_EQ(HashSlot("foo{bar}{zap}"), HashSlot("bar"));
}

TEST(HashSlotTest, EveryKeyOfALockIsInTheLocksSlot) {
  LockKeys keys("h5redislock:", "/data/run {7}/x.h5");
  for (const std::string& key : keys.ScriptKeys()) EXPECT_EQ(HashSlot(key), keys.slot()) << key;
  EXPECT_EQ(HashSlot(keys.WakeKey("0123abcd")), keys.slot());
}

redisReply Error(const char* text) {
  redisReply r{};
  r.type = REDIS_REPLY_ERROR;
  r.str = const_cast<char*>(text);
  r.len = std::strlen(text);
  return r;
}

TEST(RedirectionTest, MovedAskReplicaAndTryAgainReplies) {
  redisReply moved = Error("MOVED 3999 127.0.0.1:6381");
  Redirection r = ParseRedirection(&moved);
  EXPECT_EQ(r.kind, Redirection::Kind::kMoved);
  EXPECT_EQ(r.slot, 3999);
  EXPECT_EQ(r.address, (HostPort{"127.0.0.1", 6381}));
  redisReply ask = Error("ASK 12 [::1]:7000");
  r = ParseRedirection(&ask);
  EXPECT_EQ(r.kind, Redirection::Kind::kAsk);
  EXPECT_EQ(r.address, (HostPort{"::1", 7000}));
  redisReply readonly = Error("ERR user_script:1: READONLY You can't write against a read only replica. script: x");
  EXPECT_EQ(ParseRedirection(&readonly).kind, Redirection::Kind::kNotMaster);
  redisReply unblocked =
      Error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
  EXPECT_EQ(ParseRedirection(&unblocked).kind, Redirection::Kind::kNotMaster);
  redisReply tryagain = Error("TRYAGAIN Multiple keys request during rehashing of slot");
  EXPECT_EQ(ParseRedirection(&tryagain).kind, Redirection::Kind::kTryAgain);
  redisReply down = Error("CLUSTERDOWN The cluster is down");
  EXPECT_EQ(ParseRedirection(&down).kind, Redirection::Kind::kTryAgain);
  redisReply other = Error("H5REDISLOCK_CORRUPT entry x under h5redislock:{/READONLY/x.h5}");
  EXPECT_FALSE(ParseRedirection(&other));
  redisReply garbled = Error("MOVED soon");
  EXPECT_FALSE(ParseRedirection(&garbled));
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
