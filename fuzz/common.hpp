// Shared pieces of the libFuzzer targets (fuzz/fuzz_*.cpp).
//
// Contract checked by every target: a parser fed arbitrary bytes either succeeds or throws
// rb::UserError (a clear message naming the file). Anything else -- a crash, a sanitizer
// report, an InternalError, std::bad_alloc, a foreign exception, a hang -- is a finding:
// expected() swallows UserError only, so every other exception escapes
// LLVMFuzzerTestOneInput and libFuzzer reports it as a crash ("deadly signal") with the
// reproducer written next to the run.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "reconbench/core/error.hpp"

namespace rb::fuzz {

namespace fs = std::filesystem;

// A per-process scratch directory (RAM-backed /dev/shm when present), removed at exit.
struct Scratch {
  fs::path dir;
  Scratch() {
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    dir = base / ("rbfuzz-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};
inline const fs::path& scratch() {
  static const Scratch s;
  return s.dir;
}

inline fs::path write_bytes(const std::string& name, const uint8_t* data, size_t size) {
  fs::path p = scratch() / name;
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) std::abort();  // the harness itself failed (disk full?)
  return p;
}
inline fs::path write_bytes(const std::string& name, std::string_view s) {
  return write_bytes(name, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Runs fn; a UserError is the documented outcome for bad input and is swallowed.
template <class Fn>
bool expected(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const rb::UserError&) {
    return false;
  }
}

}  // namespace rb::fuzz
