#include "redis/redirection.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <string_view>

#include "redis/reply_error.h"

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
  switch (ClassifyError(text)) {
    case ReplyError::kMoved:
      if (ParseTarget(text.substr(text.find(' ') + 1), &r)) r.kind = Redirection::Kind::kMoved;
      break;
    case ReplyError::kAsk:
      if (ParseTarget(text.substr(text.find(' ') + 1), &r)) r.kind = Redirection::Kind::kAsk;
      break;
    case ReplyError::kNotMaster: r.kind = Redirection::Kind::kNotMaster; break;
    case ReplyError::kTryAgain: r.kind = Redirection::Kind::kTryAgain; break;
    default: break;
  }
  if (!r) return Redirection();
  r.text = std::string(text);
  return r;
}

}  // namespace h5redislock
