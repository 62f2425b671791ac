#include "redis_info.h"

#include "redis/info_field.h"

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
  if (FindInfoField(text, field, value)) return Status::OK();
  return Status::Internal("Redis at " + conn.endpoint().Describe() + " reports no " + field + " in INFO " +
                          section);
}

}  // namespace cli
}  // namespace h5redislock
