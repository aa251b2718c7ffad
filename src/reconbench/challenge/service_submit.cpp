// The front ends' paths into the challenge (service.hpp): accounts, directory submissions,
// the organiser's leaderboard, stored reads, and the reader-study case policy.
#include <algorithm>
#include <filesystem>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/reader.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

Service::TeamAccount Service::add_team(const std::string& username, const std::string& team) {
  const auto u = store_->create_user(username, random_hex(12), "participant");
  return {u.id, store_->create_team(u.id, team).id};
}

int64_t Service::organiser_id() {
  for (const auto& u : store_->users())
    if (u.role == "organiser") return u.id;
  return store_->create_user("admin", "", "organiser").id;
}

nlohmann::json Service::submit_directory(const std::string& phase, const std::string& track,
                                         int64_t team_id, int64_t user_id, const fs::path& dir,
                                         const std::string& description,
                                         const std::string& baseline) {
  find_track(track);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [name, path] : list_submission_dir(dir)) {
    const std::string sha = blobs_.put(read_file(path));
    store_->record_blob(sha, static_cast<int64_t>(fs::file_size(path)), user_id);
    files.emplace_back(name, sha);
  }
  const int64_t id = store_->create_submission(store_->phase(phase).id, track, team_id, user_id,
                                               baseline, description, files);
  return process_submission(id);
}

nlohmann::json Service::leaderboard(const std::string& phase, const std::string& track) {
  return store_->leaderboard(phase, track, current_spec_hash());
}

void Service::save_reads(int64_t study_id, const std::string& reader,
                         const std::vector<SlotRead>& reads, const std::string& comment) {
  auto u = store_->user_by_name(reader);
  const int64_t uid = u ? u->id : store_->create_user(reader, random_hex(12), "reader").id;
  for (size_t c = 0; c < reads.size(); ++c) {
    const auto pos = store_->reader_positions(study_id, uid, static_cast<int64_t>(c));
    nlohmann::json resp = {{"rank", nlohmann::json::object()},
                           {"likert", nlohmann::json::object()},
                           {"comment", comment}};
    for (size_t k = 0; k < pos.size(); ++k) {  // letter k shows candidate slot pos[k]
      const std::string L = letter(static_cast<int64_t>(k));
      const size_t slot = static_cast<size_t>(pos[k]);
      resp["rank"][L] = reads[c].rank.at(slot);
      for (const auto& [item, scores] : reads[c].likert) resp["likert"][L][item] = scores.at(slot);
    }
    store_->save_reader_response(study_id, uid, static_cast<int64_t>(c), resp, true);
  }
}

std::vector<Store::StudyCase> study_cases(std::vector<ManifestFile> files, int64_t want) {
  std::stable_sort(files.begin(), files.end(), [](const ManifestFile& a, const ManifestFile& b) {
    return a.lesions > b.lesions;
  });
  std::vector<Store::StudyCase> cases;
  std::map<std::string, int64_t> per_contrast;
  const int64_t cap = std::max<int64_t>(1, (want + 2) / 3);
  for (int pass = 0; pass < 2 && static_cast<int64_t>(cases.size()) < want; ++pass)
    for (const auto& f : files) {
      if (static_cast<int64_t>(cases.size()) >= want) break;
      const bool taken = std::any_of(cases.begin(), cases.end(),
                                     [&](const Store::StudyCase& c) { return c.volume == f.name; });
      if (taken || (pass == 0 && per_contrast[f.contrast] >= cap)) continue;
      ++per_contrast[f.contrast];
      const bool lesion = f.lesion_slice >= 0 && (f.slices <= 0 || f.lesion_slice < f.slices);
      cases.push_back({f.name, lesion ? f.lesion_slice : std::max<int64_t>(0, f.slices / 2)});
    }
  return cases;
}

}  // namespace rb::challenge
