#include "json.h"

#include <cstdio>

namespace h5redislock {
namespace cli {

std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);  // UTF-8 passes through; file names are bytes
    }
  }
  return out + "\"";
}

std::string JsonArray(const std::vector<std::string>& elements) {
  std::string out = "[";
  for (size_t i = 0; i < elements.size(); ++i) out += (i ? "," : "") + elements[i];
  return out + "]";
}

JsonObject& JsonObject::AddRaw(const std::string& key, const std::string& json) {
  if (!members_.empty()) members_ += ",";
  members_ += JsonQuote(key) + ":" + json;
  return *this;
}

}  // namespace cli
}  // namespace h5redislock
