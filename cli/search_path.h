// search_path.h: colon-separated directory lists ($PATH, HDF5_PLUGIN_PATH).
#ifndef H5REDISLOCK_CLI_SEARCH_PATH_H_
#define H5REDISLOCK_CLI_SEARCH_PATH_H_

#include <string>
#include <vector>

namespace h5redislock {
namespace cli {

// The directories of `list`, empty entries included (in $PATH they mean ".").
inline std::vector<std::string> SplitSearchPath(const std::string& list) {
  std::vector<std::string> dirs;
  size_t start = 0;
  for (size_t colon; (colon = list.find(':', start)) != std::string::npos; start = colon + 1)
    dirs.push_back(list.substr(start, colon - start));
  dirs.push_back(list.substr(start));
  return dirs;
}

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_SEARCH_PATH_H_
