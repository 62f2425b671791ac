#include "lock_listing.h"

#include <set>

#include "lock/lock_keys.h"
#include "lock/lock_name.h"

namespace h5redislock {
namespace cli {
namespace {

// `text` with glob metacharacters escaped, for SCAN MATCH.
std::string GlobEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

Status ScanNames(RedisConnection& conn, const std::string& prefix, const std::string& part,
                 std::set<std::string>* names) {
  const std::string pattern = GlobEscape(prefix) + "{*}:" + part;
  std::string cursor = "0";
  do {
    Reply reply;
    Status s = conn.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, &reply);
    if (!s.ok()) return s;
    if (IsErrorReply(reply.get()) || ReplyArraySize(reply.get()) != 2)
      return Status::Auth("Redis at " + conn.endpoint().Describe() + " refused SCAN: " + ReplyString(reply.get()));
    cursor = ReplyString(ReplyElement(reply.get(), 0));
    const redisReply* keys = ReplyElement(reply.get(), 1);
    for (size_t i = 0; i < ReplyArraySize(keys); ++i) {
      std::string name = LockKeys::LockNameOf(prefix, ReplyString(ReplyElement(keys, i)));
      if (!name.empty()) names->insert(name);
    }
  } while (cursor != "0");
  return Status::OK();
}

}  // namespace

Status ListLockNames(RedisConnection& conn, const std::string& prefix, std::vector<std::string>* names) {
  std::set<std::string> found;
  // The lock's hash; and the keys of an older h5redislock's layout, so that
  // a lock it holds shows (as such: lock_protocol.cc) rather than looks free.
  for (const char* part : {"lock", "state", "lease"}) {
    Status s = ScanNames(conn, prefix, part, &found);
    if (!s.ok()) return s;
  }
  names->assign(found.begin(), found.end());
  return Status::OK();
}

Status LockNameOfFile(const Config& config, const std::string& file, std::string* name) {
  if (!config.key.empty()) {
    *name = config.key;
    return Status::OK();
  }
  return CanonicalPath(file, name);
}

}  // namespace cli
}  // namespace h5redislock
