#include "redis/info_field.h"

namespace h5redislock {

bool FindInfoField(const std::string& info, const std::string& field, std::string* value) {
  const std::string key = field + ":";
  for (size_t at = 0; (at = info.find(key, at)) != std::string::npos; at += key.size()) {
    if (at != 0 && info[at - 1] != '\n') continue;  // the name ends another field's
    const size_t start = at + key.size();
    const size_t end = info.find_first_of("\r\n", start);
    *value = info.substr(start, end == std::string::npos ? std::string::npos : end - start);
    return true;
  }
  return false;
}

std::string InfoField(const std::string& info, const std::string& field) {
  std::string value;
  return FindInfoField(info, field, &value) ? value : "";
}

}  // namespace h5redislock
