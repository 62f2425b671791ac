// redirection.h: error replies that say the command went to the wrong server.
//
// Redis answers a command it will not serve with an error that says where to
// go instead, or that it is no longer the master:
//   MOVED <slot> <host>:<port>   Redis Cluster: that node serves the slot now
//   ASK <slot> <host>:<port>     Redis Cluster: the slot is being migrated;
//                                ask that node once, after ASKING
//   READONLY ...                 a replica (a master that was failed over)
//   UNBLOCKED ... (master -> replica?)   a blocked command on a master that
//                                just became a replica
//   TRYAGAIN, CLUSTERDOWN        Redis Cluster: the slot is being migrated
//                                and the command's keys are split, or the
//                                cluster is failing a node over: try again
//                                shortly
// The codes are read as reply_error.h reads them (also inside a script's
// error before Redis 7).
//
// Thread-safety: pure functions on values.
#ifndef H5REDISLOCK_REDIRECTION_H_
#define H5REDISLOCK_REDIRECTION_H_

#include <string>

#include "redis/redis_endpoint.h"

struct redisReply;

namespace h5redislock {

struct Redirection {
  enum class Kind { kNone, kMoved, kAsk, kNotMaster, kTryAgain };
  Kind kind = Kind::kNone;
  int slot = -1;         // kMoved, kAsk
  HostPort address;      // kMoved, kAsk
  std::string text;      // the error reply, for messages

  explicit operator bool() const { return kind != Kind::kNone; }
};

// What an error reply says; kNone for every other reply.
Redirection ParseRedirection(const redisReply* reply);

}  // namespace h5redislock

#endif  // H5REDISLOCK_REDIRECTION_H_
