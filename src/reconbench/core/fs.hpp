// Files written atomically: the data goes to "<name>.part-<pid>" and is renamed over the
// final path only by commit(), so an interrupt or error never leaves a truncated output
// (and never clobbers an existing good file with a partial one).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rb {

class AtomicOutput {
 public:
  explicit AtomicOutput(std::filesystem::path final_path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::filesystem::path& tmp() const { return tmp_; }
  const std::filesystem::path& path() const { return final_; }
  void commit();

 private:
  std::filesystem::path final_, tmp_;
  bool committed_ = false;
};

// Write a whole text/binary file atomically.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);
std::string read_file(const std::filesystem::path& path);

// Files with the given extension (e.g. ".h5") directly inside dir, sorted by name; a path to
// a regular file is returned as is. Throws UserError if nothing matches.
std::vector<std::filesystem::path> list_inputs(const std::vector<std::string>& paths,
                                               const std::string& ext);

// The source checkout this binary was built from (its models/ and web/ folders).
std::filesystem::path source_dir();

}  // namespace rb
