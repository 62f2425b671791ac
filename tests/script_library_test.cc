// script_library_test.cc: a library of Lua functions runs as Redis Functions
// where the server has them, loaded when it lacks them, and as scripts where
// FCALL is unknown or forbidden; error replies are classified by their code.
//
// The servers are real: FCALL renamed away stands for a server before Redis 7,
// ACL users for the ones that may not load functions or scripts. To see a
// test fail, make ScriptLibrary::Call always send FCALL (the fallbacks then
// fail with "unknown command" and NOPERM).
#include <gtest/gtest.h>

#include <memory>

#include "redis/redis_connection.h"
#include "redis/reply_error.h"
#include "redis/script_library.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// Two functions: one that counts its calls in a key, one that raises an error.
const char kLua[] = R"lua(
local function bump(keys, args) return redis.call('INCRBY', keys[1], tonumber(args[1])) end
local function fail(keys, args) return redis.error_reply('H5REDISLOCK_CORRUPT ' .. args[1]) end
)lua";

class ScriptLibraryTest : public ::testing::Test {
 protected:
  // A fresh library object: what a new process knows.
  std::unique_ptr<ScriptLibrary> Library(const std::string& name = "h5rltest1") {
    return std::make_unique<ScriptLibrary>(name, kLua, std::vector<std::string>{"bump", "fail"});
  }

  std::unique_ptr<RedisConnection> Connect(const RedisServer& server, const std::string& user = "",
                                           const std::string& password = "") {
    RedisEndpoint endpoint;
    std::string url = server.url();
    EXPECT_TRUE(ParseRedisUrl(url, &endpoint).ok());
    endpoint.user = user;
    endpoint.password = password;
    std::unique_ptr<RedisConnection> conn;
    Status s = RedisConnection::Open(endpoint, 5, &conn);
    EXPECT_TRUE(s.ok()) << s.message();
    return conn;
  }

  long long Bump(ScriptLibrary& library, RedisConnection& conn, long long by = 1) {
    Reply reply;
    Status s = library.Call(conn, 0, {"counter"}, {std::to_string(by)}, &reply);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_FALSE(IsErrorReply(reply.get())) << ReplyString(reply.get());
    return ReplyInteger(reply.get());
  }
};

TEST_F(ScriptLibraryTest, FunctionsAreLoadedOnceAndCalledByName) {
  RedisServer server;
  auto library = Library();
  auto conn = Connect(server);
  EXPECT_EQ(Bump(*library, *conn), 1);
  EXPECT_EQ(Bump(*library, *conn), 2);
  auto other_process = Library();
  auto other_conn = Connect(server);
  EXPECT_EQ(Bump(*other_process, *other_conn), 3);
  EXPECT_EQ(CommandCalls(server, "function|load"), 1) << "the second process found the library loaded";
  EXPECT_EQ(CommandCalls(server, "fcall"), 4) << "one FCALL that found nothing, then one per call";
  EXPECT_EQ(CommandCalls(server, "eval") + CommandCalls(server, "evalsha"), 0);
}

TEST_F(ScriptLibraryTest, AFlushedLibraryIsLoadedAgain) {
  RedisServer server;
  auto library = Library();
  auto conn = Connect(server);
  EXPECT_EQ(Bump(*library, *conn), 1);
  server.Command({"FUNCTION", "FLUSH"});
  EXPECT_EQ(Bump(*library, *conn), 2);
  EXPECT_EQ(CommandCalls(server, "function|load"), 2);
}

TEST_F(ScriptLibraryTest, WithoutFcallScriptsGoByDigest) {
  RedisServer server({"--rename-command", "FCALL", ""});
  auto library = Library();
  auto conn = Connect(server);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(Bump(*library, *conn), i);
  EXPECT_EQ(CommandCalls(server, "script|load"), 2) << "one SCRIPT LOAD of each function's script, once";
  EXPECT_EQ(CommandCalls(server, "eval"), 1) << "only the first call went whole";
  EXPECT_EQ(CommandCalls(server, "evalsha"), 4);
  server.Command({"SCRIPT", "FLUSH"});
  EXPECT_EQ(Bump(*library, *conn), 6) << "NOSCRIPT after a flush sends the script whole again";
}

TEST_F(ScriptLibraryTest, AUserWhoMayNotLoadRunsScriptsWhole) {
  RedisServer server;
  server.Command({"ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all", "-function", "-fcall", "-script"});
  auto library = Library();
  auto conn = Connect(server, "u", "pw");
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(Bump(*library, *conn), i);
  EXPECT_EQ(CommandCalls(server, "evalsha"), 0);
  EXPECT_EQ(CommandCalls(server, "eval"), 3);
}

TEST_F(ScriptLibraryTest, PipelinedCommandsFollowWhatTheServerCanDo) {
  RedisServer server({"--rename-command", "FCALL", ""});
  auto library = Library();
  auto conn = Connect(server);
  Argv first = library->Command(*conn, 0, {"counter"}, {"1"});
  EXPECT_EQ(first[0], "FCALL") << "nothing is known of the server yet";
  Reply reply;
  ASSERT_TRUE(conn->Command(first, &reply).ok());
  EXPECT_TRUE(ScriptLibrary::RanNothing(reply.get())) << ReplyString(reply.get());
  EXPECT_EQ(Bump(*library, *conn), 1);
  EXPECT_EQ(library->Command(*conn, 0, {"counter"}, {"1"})[0], "EVALSHA");
}

TEST_F(ScriptLibraryTest, ErrorsRaisedByAFunctionComeBackAsReplies) {
  RedisServer server;
  auto library = Library();
  auto conn = Connect(server);
  Reply reply;
  ASSERT_TRUE(library->Call(*conn, 1, {"k"}, {"here"}, &reply).ok());
  ASSERT_TRUE(IsErrorReply(reply.get()));
  EXPECT_EQ(ClassifyError(ReplyString(reply.get())), ReplyError::kForeignData) << ReplyString(reply.get());
}

TEST(ReplyErrorTest, CodesAreWholeWordsFirstOrAfterTheScriptsLocation) {
  EXPECT_EQ(ClassifyError("MOVED 3999 127.0.0.1:6381"), ReplyError::kMoved);
  EXPECT_EQ(ClassifyError("ASK 3999 127.0.0.1:6381"), ReplyError::kAsk);
  EXPECT_EQ(ClassifyError("ERR TASK failed"), ReplyError::kOther) << "ASK inside a word is not ASK";
  EXPECT_EQ(ClassifyError("ERR the ASK 1 h:1 word"), ReplyError::kOther) << "nor in the prose";
  EXPECT_EQ(ClassifyError("TRYAGAIN Multiple keys request during rehashing of slot"), ReplyError::kTryAgain);
  EXPECT_EQ(ClassifyError("CLUSTERDOWN The cluster is down"), ReplyError::kTryAgain);
  EXPECT_EQ(ClassifyError("READONLY You can't write against a read only replica."), ReplyError::kNotMaster);
  EXPECT_EQ(ClassifyError("UNBLOCKED force unblock from blocking operation, instance state changed (master -> "
                          "replica?)"),
            ReplyError::kNotMaster);
  EXPECT_EQ(ClassifyError("LOADING Redis is loading the dataset in memory"), ReplyError::kUnavailable);
  EXPECT_EQ(ClassifyError("NOSCRIPT No matching script. Please use EVAL."), ReplyError::kNoScript);
  EXPECT_EQ(ClassifyError("ERR Function not found"), ReplyError::kNoFunction);
  EXPECT_EQ(ClassifyError("ERR unknown command 'FCALL', with args beginning with: "), ReplyError::kUnknownCommand);
  EXPECT_EQ(ClassifyError("NOAUTH Authentication required."), ReplyError::kNoAuth);
  EXPECT_EQ(ClassifyError("WRONGPASS invalid username-password pair or user is disabled."),
            ReplyError::kWrongPassword);
  EXPECT_EQ(ClassifyError("NOPERM this user has no permissions to run the 'fcall' command"),
            ReplyError::kNoPermission);
  EXPECT_EQ(ClassifyError("WRONGTYPE Operation against a key holding the wrong kind of value script: 0a, on "
                          "@user_script:1."),
            ReplyError::kForeignData);
  EXPECT_EQ(ClassifyError("H5REDISLOCK_OLD_LAYOUT h5redislock:{/x}"), ReplyError::kOldLayout);
  // Before Redis 7 an error inside a script came after the script's location.
  EXPECT_EQ(ClassifyError("ERR Error running script (call to f_0a): @user_script:12: WRONGTYPE Operation against "
                          "a key holding the wrong kind of value"),
            ReplyError::kForeignData);
  EXPECT_EQ(ClassifyError("ERR Error running script (call to f_0a): @user_script:1: @user_script: 1: -READONLY "
                          "You can't write against a read only replica."),
            ReplyError::kNotMaster);
  EXPECT_EQ(ClassifyError("ERR user_script:1: READONLY You can't write against a read only replica. script: x"),
            ReplyError::kNotMaster);
  EXPECT_EQ(ClassifyError("H5REDISLOCK_CORRUPT entry x under h5redislock:{/READONLY/x.h5}"),
            ReplyError::kForeignData) << "a code in a key name is not a code";
  EXPECT_EQ(ErrorCode("not an error code"), "");
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
