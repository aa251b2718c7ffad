// The reader study (paper §II-C, Table IV, Fig. 5): responses, their validation and the
// statistics.
//
// A response to one case, in the blinded letters the reader saw:
//   {"rank": {"A": 1, "B": 3, "C": 2},                       1 = best depiction of pathology
//    "likert": {"A": {"artifacts": 1, "sharpness": 2, "cnr": 1}, "B": {...}, "C": {...}},
//    "comment": "..."}                                        Likert 1 = best, 4 = worst
// A complete response ranks every candidate with a permutation of 1..n and gives every
// Likert score in 1..4. Letters map to candidate slots through the reader's seeded
// positions (Store::reader_positions): letter k shows candidate positions[k].
//
// Results per study: per team mean +- SD (ddof 1) of rank and of each Likert item over all
// (reader, case) reads (Table IV); Kendall's W with tie correction per case from the
// readers' rankings, averaged over the cases where it is defined (the paper's agreement
// number); per case the mean rank of each team (Fig. 5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rb::challenge {

inline const std::vector<std::string> kLikertItems = {"artifacts", "sharpness", "cnr"};

std::string letter(int64_t k);  // 0 -> "A"

// Checks a (possibly partial) response for n candidates: UserError naming the field on a
// malformed one (unknown letter, rank out of 1..n, Likert out of 1..4). Returns whether it is
// complete.
bool check_reader_response(const nlohmann::json& response, int64_t n_candidates);

// Translate letters to candidate slots: out["rank"][slot], out["likert"][slot][item].
nlohmann::json response_to_slots(const nlohmann::json& response,
                                 const std::vector<int64_t>& positions);

// study: Store::study(); responses: Store::study_responses() with each response already
// translated to slots ({"reader_id", "case", "slots": {"rank": [...], "likert": [[a,s,c]...]}}).
nlohmann::json reader_results(const nlohmann::json& study, const nlohmann::json& slot_responses);

}  // namespace rb::challenge
