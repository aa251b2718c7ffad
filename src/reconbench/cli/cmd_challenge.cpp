// `reconbench challenge`: organiser administration on the challenge database.
#include <cstdio>
#include <iostream>

#include "reconbench/challenge/backup.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace {

namespace ch = rb::challenge;
namespace fs = std::filesystem;

struct ChallengeCmd final : rb::cli::Command {
  std::string action, data, db, blobs, role = "participant", password, team, scope = "all",
                                        track, phase = "test", label;
  std::vector<std::string> args;
  int64_t per_day = -1, total = -1, attempts = -1;
  bool force = false, blobs_only = false;
  void declare(CLI::App& app) override {
    app.add_option("action", action,
                   "status | add-user NAME | token NAME | close PHASE | publish PHASE | baseline DIR | limits | "
                   "backup DIR | restore DIR")
        ->required()
        ->check(CLI::IsMember({"status", "add-user", "token", "close", "publish", "baseline", "limits", "backup",
                               "restore"}));
    app.add_option("args", args, "the action's argument (user name, phase, directory)");
    app.add_option("--data", data, "challenge data directory")->required();
    app.add_option("--db", db, "database: sqlite:PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB "
                   "(default: DATA/../challenge.db)");
    app.add_option("--blobs", blobs, "blob store directory (default: next to a SQLite database; required with "
                   "PostgreSQL: a directory the server and every worker can read)");
    app.add_option("--role", role, "add-user: organiser, participant or reader")->default_val("participant");
    app.add_option("--password", password, "add-user: password (>= 8 characters) for web login");
    app.add_option("--team", team, "add-user: create this team for the participant");
    app.add_option("--scope", scope, "add-user/token: token scope all, submit or read")->default_val("all");
    app.add_option("--track", track, "baseline: track");
    app.add_option("--phase", phase, "baseline: phase (test or challenge)")->default_val("test");
    app.add_option("--label", label, "baseline: the pinned row's name, e.g. zero-filled");
    app.add_option("--per-day", per_day, "limits: submissions per team/track/phase in 24 h");
    app.add_option("--total", total, "limits: total submissions per team/track/phase (0 = unlimited)");
    app.add_option("--attempts-per-day", attempts, "limits: attempts per team/track in 24 h");
    app.add_flag("--force", force, "publish: publish although a reader study of the phase is incomplete "
                 "(published scores unblind it)");
    app.add_flag("--blobs-only", blobs_only, "backup/restore: the blob store only (a PostgreSQL database "
                 "goes through pg_dump/pg_restore, docs/operations.md)");
  }
  std::string arg(const char* what) {
    RB_CHECK(args.size() == 1, "challenge ", action, ": expected one argument (", what, ")");
    return args[0];
  }
  int run() override {
    ch::ServiceOptions so;
    so.data = data;
    so.db = db;
    so.blobs = blobs;
    if (action == "restore") {  // before Service, which would create an empty database
      const std::string url = db.empty() ? ch::default_db_url(data) : db;
      const auto r = ch::restore_challenge(arg("backup directory"), url,
                                           blobs.empty() ? ch::default_blob_dir(url) : fs::path(blobs),
                                           {blobs_only});
      std::cout << r.dump(2) << "\n";
      return 0;
    }
    ch::Service svc(so);
    auto& store = svc.store();
    if (action == "status") {
      nlohmann::json phases = nlohmann::json::array();
      for (const auto& p : store.phases())
        phases.push_back({{"name", p.name}, {"closed", p.closed()}, {"scores_hidden", p.scores_hidden}, {"published", p.published()}});
      const auto l = store.limits();
      std::cout << nlohmann::json{{"phases", phases},
                                  {"limits", {{"per_day", l.per_day}, {"total", l.total},
                                              {"attempts_per_day", l.attempts_per_day}}},
                                  {"users", store.users().size()},
                                  {"teams", store.teams()},
                                  {"queue", store.queue_stats()},
                                  {"studies", store.studies()}}
                       .dump(2)
                << "\n";
    } else if (action == "add-user") {
      auto u = store.create_user(arg("user name"), password, role);
      if (!team.empty()) store.create_team(u.id, team);
      std::cout << store.create_token(u.id, scope, "challenge add-user") << "\n";
    } else if (action == "token") {
      auto u = store.user_by_name(arg("user name"));
      RB_CHECK(u, "no user '", args[0], "'");
      std::cout << store.create_token(u->id, scope, "challenge token") << "\n";
    } else if (action == "close") {
      std::cout << svc.close_phase(arg("phase")).dump(2) << "\n";
    } else if (action == "publish") {
      const auto open = svc.publish_results(arg("phase"), force);
      RB_CHECK(open.empty(), "challenge publish: reader studies of phase '", args[0],
               "' are not complete (--force publishes anyway, unblinding them): ", open.dump());
      std::printf("phase %s: final results published\n", args[0].c_str());
    } else if (action == "limits") {
      auto l = store.limits();
      if (per_day >= 0) l.per_day = per_day;
      if (total >= 0) l.total = total;
      if (attempts >= 0) l.attempts_per_day = attempts;
      store.set_limits(l);
      std::printf("limits: %lld per day, %lld total, %lld attempts per day\n",
                  static_cast<long long>(l.per_day), static_cast<long long>(l.total),
                  static_cast<long long>(l.attempts_per_day));
    } else if (action == "backup") {
      std::cout << ch::backup_challenge(store, svc.blobs(), svc.manifest().hash, arg("directory"), {blobs_only})
                       .dump(2)
                << "\n";
    } else if (action == "baseline") {
      RB_CHECK(!track.empty() && !label.empty(), "challenge baseline: --track and --label are required");
      auto out = svc.submit_directory(phase, track, 0, svc.organiser_id(), arg("directory"),
                                      "baseline " + label, label);
      std::cout << out.dump(2) << "\n";
      // Accepted = passed validation and not failed since. The state itself may already be
      // past 'queued' (a running worker claims or even scores it before it is read back).
      const auto& v = out["validation"];
      const bool valid = v.is_object() && v.value("ok", false);
      return valid && out["state"] != "failed" ? 0 : 1;
    }
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"challenge", "administer the challenge: users, tokens, limits, baselines, closing a phase",
     "Organiser actions on the challenge database (the server may be running): 'status' "
     "prints phases, limits, teams, queue and reader studies; 'add-user NAME' creates an "
     "account (--role, --password, --team) and prints an API token; 'token NAME' prints a new "
     "token; 'limits' sets the quota; 'baseline DIR' pins a reconstruction directory as a "
     "reference row (--track, --phase, --label); 'close PHASE' closes a phase and, for the "
     "challenge phase, forms the reader studies from the top 3 teams per track by SSIM; "
     "'backup DIR' writes a consistent copy of a SQLite database and the blob store into the "
     "new directory DIR while the server runs, 'restore DIR' restores one into a database "
     "(--db) and blob store (--blobs) that do not exist yet, checking every blob's sha256 "
     "(PostgreSQL: pg_dump/pg_restore plus --blobs-only; docs/operations.md).",
     {"reconbench challenge add-user alice --data data/ --team 'Team A' --password secret123",
      "reconbench challenge baseline zf-4x/ --data data/ --track multicoil_4x --label zero-filled",
      "reconbench challenge close challenge --data data/",
      "reconbench challenge backup /backup/2026-12-07 --data data/"},
     75},
    [] { return std::make_unique<ChallengeCmd>(); });

}  // namespace
