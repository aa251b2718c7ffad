#include "reconbench/ml/dist.hpp"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

#include "reconbench/core/error.hpp"

namespace rb::ml {

struct Dist::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

namespace {

torch::Tensor flatten(const std::vector<torch::Tensor>& params, bool grads) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : params) {
    torch::Tensor t = grads ? p.grad() : p;
    if (!t.defined()) t = torch::zeros_like(p);
    parts.push_back(t.detach().reshape(-1).to(torch::kCPU));
  }
  return torch::cat(parts);
}

void unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& params, bool grads) {
  int64_t off = 0;
  for (const auto& p : params) {
    auto part = flat.narrow(0, off, p.numel()).view(p.sizes()).to(p.device());
    off += p.numel();
    if (!grads)
      p.copy_(part);
    else if (p.grad().defined())
      p.mutable_grad().copy_(part);
    else
      p.mutable_grad() = part.clone();
  }
}

}  // namespace

Dist::~Dist() = default;

Dist::Dist(const DistOptions& o) : rank_(o.rank), world_(o.world_size) {
  RB_CHECK(o.world_size >= 1, "--world-size must be >= 1");
  RB_CHECK(o.rank >= 0 && o.rank < o.world_size, "--rank ", o.rank, " outside [0, ",
           o.world_size, ")");
  if (world_ == 1) return;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    if (!o.dist_file.empty()) {
      store = c10::make_intrusive<c10d::FileStore>(o.dist_file.string(), world_);
    } else {
      RB_CHECK(o.master_port > 0 && o.master_port < 65536, "--master-port ", o.master_port,
               " is not a TCP port");
      c10d::TCPStoreOptions so;
      so.port = static_cast<uint16_t>(o.master_port);
      so.isServer = rank_ == 0;
      so.numWorkers = static_cast<size_t>(world_);
      so.waitWorkers = true;
      so.timeout = std::chrono::minutes(5);
      store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    }
    auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::minutes(60));
    const bool loopback = o.master_addr == "127.0.0.1" || o.master_addr == "localhost";
    opts->devices.push_back(loopback
                                ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                : c10d::ProcessGroupGloo::createDefaultDevice());
    group_ = std::make_unique<Group>();
    group_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank_, world_, opts);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw UserError("distributed rendezvous (--master-addr " + o.master_addr + ":" +
                    std::to_string(o.master_port) + ", rank " + std::to_string(rank_) + "/" +
                    std::to_string(world_) + ") failed: " + msg.substr(0, msg.find('\n')));
  }
}

void Dist::broadcast(const std::vector<torch::Tensor>& params) {
  if (world_ == 1) return;
  torch::NoGradGuard ng;
  auto flat = flatten(params, false);
  std::vector<at::Tensor> v{flat};
  c10d::BroadcastOptions bo;
  bo.rootRank = 0;
  group_->pg->broadcast(v, bo)->wait();
  unflatten(flat, params, false);
}

void Dist::allreduce_grads(const std::vector<torch::Tensor>& params) {
  if (world_ == 1) return;
  torch::NoGradGuard ng;
  auto flat = flatten(params, true);
  std::vector<at::Tensor> v{flat};
  group_->pg->allreduce(v)->wait();
  flat.div_(world_);
  unflatten(flat, params, true);
}

void Dist::barrier() {
  if (world_ == 1) return;
  // a tiny all-reduce is a barrier that works on every Gloo build
  std::vector<at::Tensor> v{torch::zeros({1})};
  group_->pg->allreduce(v)->wait();
}

}  // namespace rb::ml
