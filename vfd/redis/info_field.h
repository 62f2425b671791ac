// info_field.h: one field of the text of Redis's INFO reply.
//
// INFO answers with lines of "field:value" ended by "\r\n", grouped under
// "# Section" headers. The master's term (its run id, replication id and
// uptime), its connected replicas, and the command's checks of a server
// (its version, its clients) are all read from it.
//
// Thread-safety: pure functions.
#ifndef H5REDISLOCK_INFO_FIELD_H_
#define H5REDISLOCK_INFO_FIELD_H_

#include <string>

namespace h5redislock {

// Finds the line of `field` in `info`; its value (to the end of the line)
// in *value. False if no line names the field.
bool FindInfoField(const std::string& info, const std::string& field, std::string* value);

// The value of `field` in `info`; "" if no line names it.
std::string InfoField(const std::string& info, const std::string& field);

}  // namespace h5redislock

#endif  // H5REDISLOCK_INFO_FIELD_H_
