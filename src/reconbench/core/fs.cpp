#include "reconbench/core/fs.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "reconbench/core/error.hpp"

namespace fs = std::filesystem;

namespace rb {

AtomicOutput::AtomicOutput(fs::path final_path) : final_(std::move(final_path)) {
  if (final_.has_parent_path()) fs::create_directories(final_.parent_path());
  tmp_ = final_;
  tmp_ += ".part-" + std::to_string(::getpid());
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void AtomicOutput::commit() {
  fs::rename(tmp_, final_);
  committed_ = true;
}

void write_file_atomic(const fs::path& path, const std::string& contents) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.tmp(), std::ios::binary);
    RB_CHECK(f.good(), path.string(), ": cannot open for writing");
    f.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    RB_CHECK(f.good(), path.string(), ": write failed");
  }
  out.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  RB_CHECK(f.good(), path.string(), ": cannot open for reading");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<fs::path> list_inputs(const std::vector<std::string>& paths, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    fs::path path(p);
    RB_CHECK(fs::exists(path), p, ": no such file or directory");
    if (fs::is_directory(path)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(path))
        if (e.is_regular_file() && e.path().extension() == ext &&
            e.path().filename().string().find(".part-") == std::string::npos)
          found.push_back(e.path());
      std::sort(found.begin(), found.end());
      RB_CHECK(!found.empty(), p, ": directory contains no ", ext, " files");
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(path);
    }
  }
  return out;
}

}  // namespace rb
