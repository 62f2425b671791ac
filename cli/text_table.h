// text_table.h: rows of text in aligned columns, for people.
#ifndef H5REDISLOCK_CLI_TEXT_TABLE_H_
#define H5REDISLOCK_CLI_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace h5redislock {
namespace cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  // Every row on its own line, after `indent`; columns two spaces apart.
  std::string Render(const std::string& indent) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_TEXT_TABLE_H_
