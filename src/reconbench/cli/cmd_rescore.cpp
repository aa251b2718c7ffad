// `reconbench rescore`: score every scored submission again with the current metric spec.
#include <unistd.h>

#include <cstdio>

#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/cli/service_args.hpp"

namespace {

struct RescoreCmd final : rb::cli::Command {
  rb::cli::ServiceArgs service;
  bool run_now = false;
  void declare(CLI::App& app) override {
    service.declare(app);
    app.add_flag("--run", run_now, "also process the queue here until it is empty");
  }
  int run() override {
    rb::challenge::ServiceOptions so = service.options();
    rb::challenge::Service svc(so);
    const int64_t added = svc.rescore_all();
    std::printf("rescore: %lld jobs queued for spec %s (old score rows are kept)\n",
                static_cast<long long>(added), rb::challenge::current_spec_hash().c_str());
    if (run_now) {
      std::atomic<bool> stop{false};
      const int64_t n = svc.work_loop("rescore-" + std::to_string(::getpid()), 60, 0.1, stop, true);
      std::printf("rescore: %lld jobs processed\n", static_cast<long long>(n));
    }
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"rescore", "re-evaluate submissions after a metric change, keeping old scores",
     "Queues one evaluation job per scored submission that has no score for the current "
     "metric specification (hash of SSIM variant, crop, mask recipe, bootstrap settings). New "
     "score rows are added next to the old ones; leaderboards rank by the current spec and "
     "name it. Workers (serve's or `reconbench worker`) process the jobs, or --run does here.",
     {"reconbench rescore --data data/", "reconbench rescore --data data/ --db sqlite:challenge.db --run"},
     74},
    [] { return std::make_unique<RescoreCmd>(); });

}  // namespace
