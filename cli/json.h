// json.h: JSON text for `--json` output, built by appending members.
//
//   JsonObject o;  o.Add("pid", 12).Add("host", "node7").AddBool("broken", false).AddRaw("holders", array);
//   o.Text()  ->  {"pid":12,"host":"node7","broken":false,"holders":[...]}
#ifndef H5REDISLOCK_CLI_JSON_H_
#define H5REDISLOCK_CLI_JSON_H_

#include <string>
#include <vector>

namespace h5redislock {
namespace cli {

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& text);

// Elements that are JSON texts already, as an array.
std::string JsonArray(const std::vector<std::string>& elements);

class JsonObject {
 public:
  JsonObject& Add(const std::string& key, const std::string& value) { return AddRaw(key, JsonQuote(value)); }
  JsonObject& Add(const std::string& key, const char* value) { return Add(key, std::string(value)); }
  JsonObject& Add(const std::string& key, long long value) { return AddRaw(key, std::to_string(value)); }
  JsonObject& AddBool(const std::string& key, bool value) { return AddRaw(key, value ? "true" : "false"); }
  JsonObject& AddRaw(const std::string& key, const std::string& json);  // `json` is JSON text already

  std::string Text() const { return "{" + members_ + "}"; }

 private:
  std::string members_;
};

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_JSON_H_
