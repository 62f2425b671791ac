// info_field_test.cc: a field of INFO (redis/info_field.h), read from a real
// server's reply, as the master's term and the command read theirs: only a
// line that starts with the field's name counts (not a longer name that ends
// with it, nor one that begins with it), a field with no value is there and
// empty, and an absent one is told apart from it.
#include <gtest/gtest.h>

#include "redis/info_field.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

TEST(InfoFieldTest, ReadsOnlyTheLineThatStartsWithTheName) {
  RedisServer redis;
  const std::string info = redis.Command({"INFO", "replication"});
  std::string value;
  ASSERT_TRUE(FindInfoField(info, "role", &value)) << info;
  EXPECT_EQ(value, "master");
  ASSERT_TRUE(FindInfoField(info, "connected_slaves", &value)) << info;
  EXPECT_EQ(value, "0");
  // master_replid2 follows it, and begins with its name.
  ASSERT_TRUE(FindInfoField(info, "master_replid", &value)) << info;
  EXPECT_EQ(value.size(), 40u) << value;
  EXPECT_NE(value, std::string(40, '0')) << "read master_replid2's value";
  EXPECT_EQ(InfoField(info, "master_replid"), value);
  // A name that only ends another one is not a field.
  EXPECT_FALSE(FindInfoField(info, "replid", &value)) << value;
  EXPECT_EQ(InfoField(info, "replid"), "");
}

TEST(InfoFieldTest, AFieldWithoutAValueIsThereAndEmpty) {
  RedisServer redis;  // started without a configuration file
  const std::string info = redis.Command({"INFO", "server"});
  std::string value = "unset";
  ASSERT_TRUE(FindInfoField(info, "config_file", &value)) << info;
  EXPECT_EQ(value, "");
  EXPECT_FALSE(FindInfoField(info, "no_such_field", &value));
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
