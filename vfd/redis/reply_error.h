// reply_error.h: what an error reply from Redis means, decided in one place.
//
// Redis starts every error reply with a code, one upper-case word, and the
// code is what a client may branch on; the rest is prose for people:
//
//   NOSCRIPT No matching script. Please use EVAL.
//   WRONGTYPE Operation against a key holding the wrong kind of value
//   ERR Function not found
//
// An error raised inside a script or function by a command it called carries
// that command's code first (Redis 7, Valkey); before Redis 7 it came after
// the script's location ("ERR Error running script ...: @user_script:12:
// -WRONGTYPE ..."), where it is looked for too. Codes are matched as whole
// words, never as substrings of the prose ("ASK" is not in "TASK").
//
// The generic code ERR covers several things a client must tell apart: an
// unknown command (FCALL before Redis 7, or a command renamed away) and a
// function that is not loaded are recognised by their fixed wording.
//
// Thread-safety: pure functions on values.
#ifndef H5REDISLOCK_REPLY_ERROR_H_
#define H5REDISLOCK_REPLY_ERROR_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace h5redislock {

enum class ReplyError {
  kNone,             // not an error reply
  kMoved,            // MOVED: Redis Cluster, another node serves the slot (redirection.h)
  kAsk,              // ASK: the slot is being migrated (redirection.h)
  kTryAgain,         // TRYAGAIN, CLUSTERDOWN: try again shortly
  kNotMaster,        // READONLY, or UNBLOCKED ... replica: the server is a replica now
  kUnavailable,      // LOADING, BUSY, MASTERDOWN, NOREPLICAS: the server cannot serve now
  kNoScript,         // NOSCRIPT: the script cache does not have the digest
  kNoFunction,       // ERR Function not found: the function library is not loaded
  kUnknownCommand,   // ERR unknown command: the server does not have it (or renamed it away)
  kNoAuth,           // NOAUTH: a password is needed
  kWrongPassword,    // WRONGPASS: the credentials were refused
  kNoPermission,     // NOPERM: the ACL user may not run the command or touch the key
  kForeignData,      // WRONGTYPE, or H5REDISLOCK_CORRUPT: a key holds what we did not write
  kOldLayout,        // H5REDISLOCK_OLD_LAYOUT: a lock kept by an older h5redislock
  kOther,            // any other error
};

// The code of an error reply's text (see above); "" if it has none.
std::string_view ErrorCode(std::string_view text);

// What the error reply `text` means.
ReplyError ClassifyError(std::string_view text);

// The error for a server (`where`: "Redis at ...") that answered NOAUTH
// (`error`): it needs a password, and where the driver takes one from.
Status PasswordRequired(const std::string& where, const std::string& error);

}  // namespace h5redislock

#endif  // H5REDISLOCK_REPLY_ERROR_H_
