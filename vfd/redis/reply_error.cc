#include "redis/reply_error.h"

namespace h5redislock {
namespace {

bool IsCode(std::string_view word) {
  if (word.empty()) return false;
  for (char c : word)
    if (!((c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'))) return false;
  return word.front() >= 'A' && word.front() <= 'Z';
}

std::string_view FirstWord(std::string_view text) { return text.substr(0, text.find(' ')); }

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

}  // namespace

std::string_view ErrorCode(std::string_view text) {
  std::string_view code = FirstWord(text);
  if (!IsCode(code)) return {};
  // An error raised inside a script, as servers before Redis 7 (and some
  // forks) report it: "ERR Error running script (call to f_...):
  // @user_script:12: -WRONGTYPE ...", or "ERR user_script:1: READONLY ...".
  // The code after the last location is the command's.
  if (code == "ERR") {
    size_t at = text.rfind("user_script:");
    if (at != std::string_view::npos) {
      std::string_view rest = text.substr(at + std::string_view("user_script:").size());
      size_t digits = 0;
      while (digits < rest.size() && rest[digits] == ' ') ++digits;
      while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
      rest = rest.substr(digits);
      if (StartsWith(rest, ": ")) rest = rest.substr(2);
      if (StartsWith(rest, "-")) rest = rest.substr(1);
      std::string_view inner = FirstWord(rest);
      if (IsCode(inner)) return inner;
    }
  }
  return code;
}

ReplyError ClassifyError(std::string_view text) {
  const std::string_view code = ErrorCode(text);
  if (code == "MOVED") return ReplyError::kMoved;
  if (code == "ASK") return ReplyError::kAsk;
  if (code == "TRYAGAIN" || code == "CLUSTERDOWN") return ReplyError::kTryAgain;
  if (code == "READONLY") return ReplyError::kNotMaster;
  if (code == "UNBLOCKED" && text.find("replica") != std::string_view::npos) return ReplyError::kNotMaster;
  if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "NOREPLICAS")
    return ReplyError::kUnavailable;
  if (code == "NOSCRIPT") return ReplyError::kNoScript;
  if (code == "NOAUTH") return ReplyError::kNoAuth;
  if (code == "WRONGPASS") return ReplyError::kWrongPassword;
  if (code == "NOPERM") return ReplyError::kNoPermission;
  if (code == "WRONGTYPE" || code == "H5REDISLOCK_CORRUPT") return ReplyError::kForeignData;
  if (code == "H5REDISLOCK_OLD_LAYOUT") return ReplyError::kOldLayout;
  if (code == "ERR") {
    if (StartsWith(text, "ERR Function not found")) return ReplyError::kNoFunction;
    if (StartsWith(text, "ERR unknown command")) return ReplyError::kUnknownCommand;
  }
  return ReplyError::kOther;
}

Status PasswordRequired(const std::string& where, const std::string& error) {
  return Status::Auth(where + " requires a password (give it in the url, by password_file= or in "
                              "H5REDISLOCK_PASSWORD): " + error);
}

}  // namespace h5redislock
