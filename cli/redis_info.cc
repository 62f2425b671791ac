#include "redis_info.h"

#include <sstream>

namespace h5redislock {
namespace cli {

Status ReadInfoField(RedisConnection& conn, const std::string& section, const std::string& field,
                     std::string* value) {
  Reply reply;
  Status s = conn.Command({"INFO", section}, &reply);
  if (!s.ok()) return s;
  const std::string text = ReplyString(reply.get());
  if (IsErrorReply(reply.get()))
    return Status::Auth("Redis at " + conn.endpoint().Describe() + " refused INFO: " + text);
  std::istringstream lines(text);
  const std::string wanted = field + ":";
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, wanted.size(), wanted) != 0) continue;
    *value = line.substr(wanted.size());
    while (!value->empty() && (value->back() == '\r' || value->back() == ' ')) value->pop_back();
    return Status::OK();
  }
  return Status::Internal("Redis at " + conn.endpoint().Describe() + " reports no " + field + " in INFO " +
                          section);
}

}  // namespace cli
}  // namespace h5redislock
