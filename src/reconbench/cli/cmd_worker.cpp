// `reconbench worker`: an evaluation worker process on the challenge database.
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "reconbench/challenge/service.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/cli/service_args.hpp"
#include "reconbench/core/parallel.hpp"

namespace {

struct WorkerCmd final : rb::cli::Command {
  rb::cli::ServiceArgs service;
  std::string id;
  double lease = 30, poll = 1;
  bool once = false;
  void declare(CLI::App& app) override {
    service.declare(app);
    service.declare_validator(app);
    app.add_option("--lease", lease, "job lease in seconds; heartbeats every lease/3")->default_val(30);
    app.add_option("--poll", poll, "seconds between queue polls when idle")->default_val(1);
    app.add_option("--id", id, "worker name in the queue (default: worker-<host>-<pid>)");
    app.add_flag("--once", once, "exit when the queue is empty");
  }
  int run() override {
    rb::challenge::ServiceOptions so = service.options();
    rb::challenge::Service svc(so);
    if (id.empty()) {
      char host[128] = {0};
      gethostname(host, sizeof host - 1);
      id = std::string("worker-") + host + "-" + std::to_string(::getpid());
    }
    std::atomic<bool> stop{false};
    std::thread watcher([&] {
      while (!stop.load()) {
        if (rb::interrupted()) stop = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    std::fprintf(stderr, "reconbench worker %s: polling %s\n", id.c_str(),
                 rb::challenge::redact_db_url(service.db.empty() ? rb::challenge::default_db_url(service.data)
                                                                 : service.db).c_str());
    const int64_t n = svc.work_loop(id, lease, poll, stop, once);
    stop = true;
    watcher.join();
    std::printf("reconbench worker %s: %lld jobs processed\n", id.c_str(), static_cast<long long>(n));
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"worker", "validate and evaluate queued submissions (leases + heartbeats)",
     "Claims validation jobs (each run in a sandboxed child process with memory, CPU and "
     "wall-clock limits) and evaluation jobs from the challenge database with a lease, heartbeats every "
     "lease/3 while scoring, and stores the score only while it still holds the lease, so "
     "each job is scored exactly once. A worker that dies loses its lease and the job goes "
     "back to the queue. Run several on one database; each needs the data directory with "
     "the ground truth and the blob store.",
     {"reconbench worker --data data/", "reconbench worker --data data/ --db sqlite:/srv/rb/challenge.db --lease 60",
      "reconbench worker --data data/ --once",
      "reconbench worker --data /mnt/challenge/data --db postgresql://rb@db-host:5432/challenge "
      "--blobs /mnt/challenge/blobs"},
     73},
    [] { return std::make_unique<WorkerCmd>(); });

}  // namespace
