#include "redis/redirection.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <string_view>

namespace h5redislock {
namespace {

// "<slot> <host>:<port>", the rest of a MOVED or ASK error.
bool ParseTarget(std::string_view rest, Redirection* out) {
  size_t space = rest.find(' ');
  size_t colon = rest.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) return false;
  auto number = [](std::string_view text, int* value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
    return ec == std::errc() && end == text.data() + text.size();
  };
  std::string_view host = rest.substr(space + 1, colon - space - 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out->address.host = std::string(host);
  return number(rest.substr(0, space), &out->slot) && number(rest.substr(colon + 1), &out->address.port) &&
         !out->address.host.empty();
}

}  // namespace

Redirection ParseRedirection(const redisReply* reply) {
  Redirection r;
  if (!reply || reply->type != REDIS_REPLY_ERROR) return r;
  std::string_view text(reply->str, reply->len);
  if (text.rfind("MOVED ", 0) == 0 && ParseTarget(text.substr(6), &r)) {
    r.kind = Redirection::Kind::kMoved;
  } else if (text.rfind("ASK ", 0) == 0 && ParseTarget(text.substr(4), &r)) {
    r.kind = Redirection::Kind::kAsk;
  } else if (text.find("READONLY You can't write") != std::string_view::npos ||
             (text.rfind("UNBLOCKED", 0) == 0 && text.find("replica") != std::string_view::npos)) {
    r.kind = Redirection::Kind::kNotMaster;
  } else if (text.rfind("TRYAGAIN", 0) == 0 || text.rfind("CLUSTERDOWN", 0) == 0) {
    r.kind = Redirection::Kind::kTryAgain;
  }
  if (!r) return Redirection();
  r.text = std::string(text);
  return r;
}

}  // namespace h5redislock
