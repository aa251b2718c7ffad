// Minimal HDF5 inspection for the submission validator: what a dataset is (class, element
// size, rank, dims) without reading it, so that a float64 or int array, a wrong rank or a
// truncated file is reported before any data is read. Reading volumes goes through
// eval::read_eval_input; writing fixtures through write_float_volume.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "reconbench/core/array.hpp"

namespace rb::challenge {

struct DatasetInfo {
  bool exists = false;
  std::string type;  // "float32", "float64", "int", "other"
  Shape dims;
};

// UserError naming the file if it is not readable HDF5.
DatasetInfo inspect_dataset(const std::filesystem::path& file, const std::string& key);

// Read a float32 [slice y x] dataset (UserError naming the file on any mismatch).
Array<float> read_float32(const std::filesystem::path& file, const std::string& key);

// Write `key` float32 with string and double attributes (fixtures, baselines); atomic.
void write_float_volume(const std::filesystem::path& file, const std::string& key,
                        const Array<float>& data,
                        const std::map<std::string, std::string>& string_attrs = {},
                        const std::map<std::string, double>& double_attrs = {});

}  // namespace rb::challenge
