// Data-parallel training over processes (c10d ProcessGroupGloo; LibTorch's C++ API has no
// DistributedDataParallel): rendezvous through a TCPStore at master_addr:master_port (rank
// 0 serves it) or a FileStore at dist_file; rank 0's initial weights are broadcast and
// gradients averaged over ranks every step. world_size 1 makes every call a no-op.
// Includes torch: ml/ only.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "reconbench/ml/train.hpp"  // DistOptions

namespace rb::ml {

class Dist {
 public:
  explicit Dist(const DistOptions& o);  // UserError naming the option on a failed rendezvous
  ~Dist();
  int rank() const { return rank_; }
  int world() const { return world_; }
  void broadcast(const std::vector<torch::Tensor>& params);        // rank 0's values to all
  void allreduce_grads(const std::vector<torch::Tensor>& params);  // gradients averaged
  void barrier();

 private:
  struct Group;
  int rank_ = 0, world_ = 1;
  std::unique_ptr<Group> group_;
};

}  // namespace rb::ml
