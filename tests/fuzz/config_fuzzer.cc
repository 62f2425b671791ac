// config_fuzzer.cc: libFuzzer target for the configuration parser, the one
// piece of the driver that takes arbitrary text from users (environment,
// H5Pset_driver_by_name, the typed API's options). It must never crash, hang
// or leak, and a successful parse must describe itself without the password.
#include <cstdint>
#include <string>

#include "lock/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  h5redislock::Config config;
  h5redislock::Status s = h5redislock::ParseConfig(text, &config);
  if (s.ok()) {
    // Whatever was parsed, the descriptions must not depend on the password
    // (comparing two passwords, not searching for one: other fields may
    // contain the password's text by chance).
    h5redislock::Config other = config;
    other.redis.password = config.redis.password + "x";
    if (config.Describe() != other.Describe() || config.redis.Describe() != other.redis.Describe())
      __builtin_trap();
  }
  return 0;
}
