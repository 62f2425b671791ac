#include "lock/lock_keys.h"

#include "redis/hash_slot.h"

namespace h5redislock {
namespace {

// The lock's hash and queue, and the key by which the layout before it is
// recognised (lock_protocol.cc, "An older layout").
const char* const kParts[] = {"lock", "q", "lease"};

std::string Escape(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '%') out += "%25";
    else if (c == '{') out += "%7B";
    else if (c == '}') out += "%7D";
    else out += c;
  }
  return out;
}

std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      std::string code = text.substr(i + 1, 2);
      if (code == "25") out += '%';
      else if (code == "7B") out += '{';
      else if (code == "7D") out += '}';
      else out += text.substr(i, 3);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

LockKeys::LockKeys(const std::string& prefix, const std::string& lock_name)
    : lock_name_(lock_name), prefix_(prefix), base_(prefix + "{" + Escape(lock_name) + "}"), slot_(HashSlot(base_)) {}

std::vector<std::string> LockKeys::ScriptKeys() const {
  std::vector<std::string> keys;
  for (const char* part : kParts) keys.push_back(base_ + ":" + part);
  return keys;
}

std::string LockKeys::LockNameOf(const std::string& prefix, const std::string& key) {
  if (key.compare(0, prefix.size(), prefix) != 0 || key.size() <= prefix.size() || key[prefix.size()] != '{')
    return {};
  size_t close = key.find('}', prefix.size());
  if (close == std::string::npos) return {};
  return Unescape(key.substr(prefix.size() + 1, close - prefix.size() - 1));
}

}  // namespace h5redislock
