// Store: users, tokens (sha256 of the secret at rest, constant-time compare, expiry,
// revocation), registration as one transaction, and teams (declared in store.hpp).
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/store.hpp"
#include "reconbench/challenge/store_util.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

using store_util::valid_name;

// ---------------------------------------------------------------- users and tokens

User Store::insert_user(const std::string& username, const std::string& password,
                        const std::string& role) {
  RB_CHECK(valid_name(username, 64) && username.find(' ') == std::string::npos,
           "username must be 1-64 characters of letters, digits, '_', '-', '.'");
  RB_CHECK(role == "organiser" || role == "participant" || role == "reader",
           "role must be organiser, participant or reader");
  RB_CHECK(password.empty() || password.size() >= 8, "password must have at least 8 characters");
  RB_CHECK(!user_by_name(username), "username '", username, "' is taken");
  auto rows = q("INSERT INTO users(username, password_hash, role, created_at) VALUES(?,?,?,?) "
                "RETURNING id",
                {username, password.empty() ? SqlValue(nullptr) : SqlValue(hash_password(password)),
                 role, now()});
  User u{rows[0].i(0), username, role};
  audit(u.id, "create_user", username + " (" + role + ")");
  return u;
}

User Store::create_user(const std::string& username, const std::string& password,
                        const std::string& role) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  User u = insert_user(username, password, role);
  tx.commit();
  return u;
}

Store::Registration Store::register_participant(const std::string& username, const std::string& password,
                                                const std::string& team, const std::string& token_label,
                                                double token_expires_at) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  Registration r;
  r.user = insert_user(username, password, "participant");
  if (!team.empty()) r.team = insert_team(r.user.id, team);
  r.token = create_token(r.user.id, "all", token_label, token_expires_at);
  tx.commit();  // a refusal above rolls back the account too
  return r;
}

std::optional<User> Store::user_by_name(const std::string& username) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, username, role FROM users WHERE username=?", {username});
  if (r.empty()) return std::nullopt;
  return User{r[0].i(0), r[0].s(1), r[0].s(2)};
}

std::optional<User> Store::user_by_id(int64_t id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, username, role FROM users WHERE id=?", {id});
  if (r.empty()) return std::nullopt;
  return User{r[0].i(0), r[0].s(1), r[0].s(2)};
}

std::optional<User> Store::login(const std::string& username, const std::string& password) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, username, role, password_hash FROM users WHERE username=?", {username});
  if (r.empty() || r[0].null(3)) {
    verify_password(password, "20000$00$00");  // similar timing for unknown users
    return std::nullopt;
  }
  if (!verify_password(password, r[0].s(3))) return std::nullopt;
  return User{r[0].i(0), r[0].s(1), r[0].s(2)};
}

int64_t Store::count_users(const std::string& role) {
  std::lock_guard lock(mu_);
  return q("SELECT COUNT(*) FROM users WHERE role=?", {role})[0].i(0);
}

std::vector<User> Store::users() {
  std::lock_guard lock(mu_);
  std::vector<User> out;
  for (const auto& r : q("SELECT id, username, role FROM users ORDER BY id"))
    out.push_back({r.i(0), r.s(1), r.s(2)});
  return out;
}

std::string Store::create_token(int64_t user_id, const std::string& scope,
                                const std::string& label, double expires_at) {
  RB_CHECK(scope == "all" || scope == "submit" || scope == "read",
           "token scope must be all, submit or read");
  RB_CHECK(label.size() <= 100, "token label too long");
  std::lock_guard lock(mu_);
  const std::string secret = random_hex(32);
  auto rows = q("INSERT INTO tokens(user_id, secret_hash, scope, label, created_at, expires_at) "
                "VALUES(?,?,?,?,?,?) RETURNING id",
                {user_id, sha256_hex(secret), scope, label, now(), expires_at > 0 ? expires_at : 0.0});
  return "rbt_" + std::to_string(rows[0].i(0)) + "_" + secret;
}

std::optional<Auth> Store::authenticate(const std::string& token) {
  // rbt_<id>_<64 hex>
  if (token.size() < 4 + 1 + 1 + 64 || token.rfind("rbt_", 0) != 0) return std::nullopt;
  const auto us = token.find('_', 4);
  if (us == std::string::npos || us == 4 || us > 24) return std::nullopt;
  int64_t id = 0;
  for (size_t k = 4; k < us; ++k) {
    if (token[k] < '0' || token[k] > '9') return std::nullopt;
    id = id * 10 + (token[k] - '0');
  }
  const std::string secret = token.substr(us + 1);
  if (secret.size() != 64) return std::nullopt;
  std::lock_guard lock(mu_);
  auto r = q("SELECT t.secret_hash, t.scope, t.revoked_at, u.id, u.username, u.role, t.expires_at "
             "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id=?",
             {id});
  if (r.empty()) return std::nullopt;
  if (!constant_time_equal(sha256_hex(secret), r[0].s(0))) return std::nullopt;
  if (!r[0].null(2)) return std::nullopt;
  if (r[0].d(6) > 0 && now() >= r[0].d(6)) return std::nullopt;
  return Auth{User{r[0].i(3), r[0].s(4), r[0].s(5)}, id, r[0].s(1)};
}

bool Store::revoke_token(int64_t token_id, int64_t user_id, bool any_owner) {
  std::lock_guard lock(mu_);
  int64_t n = any_owner
                  ? db_->exec("UPDATE tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                              {now(), token_id})
                  : db_->exec("UPDATE tokens SET revoked_at=? WHERE id=? AND user_id=? AND "
                              "revoked_at IS NULL",
                              {now(), token_id, user_id});
  if (n > 0) audit(user_id, "revoke_token", std::to_string(token_id));
  return n > 0;
}

nlohmann::json Store::list_tokens(int64_t user_id) {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  const double t = now();
  for (const auto& r : q("SELECT id, scope, label, created_at, revoked_at, expires_at FROM tokens WHERE "
                         "user_id=? ORDER BY id",
                         {user_id}))
    a.push_back({{"id", r.i(0)}, {"scope", r.s(1)}, {"label", r.s(2)}, {"created_at", r.d(3)},
                 {"expires_at", r.d(5) > 0 ? nlohmann::json(r.d(5)) : nlohmann::json()},
                 {"revoked", !r.null(4)}, {"expired", r.d(5) > 0 && t >= r.d(5)}});
  return a;
}

// ---------------------------------------------------------------- teams

Team Store::insert_team(int64_t creator, const std::string& name) {
  RB_CHECK(valid_name(name, 64), "team name must be 1-64 characters of letters, digits, ' ', '_', '-', '.'");
  RB_CHECK(q("SELECT 1 FROM team_members WHERE challenge_id=? AND user_id=?",
             {challenge_id_, creator}).empty(),
           "you are already in a team of this challenge (one user, one team)");
  RB_CHECK(q("SELECT 1 FROM teams WHERE challenge_id=? AND name=?", {challenge_id_, name}).empty(),
           "team name '", name, "' is taken");
  auto rows = q("INSERT INTO teams(challenge_id, name, created_by, created_at) VALUES(?,?,?,?) "
                "RETURNING id",
                {challenge_id_, name, creator, now()});
  const int64_t id = rows[0].i(0);
  db_->exec("INSERT INTO team_members(team_id, user_id, challenge_id, joined_at) VALUES(?,?,?,?)",
            {id, creator, challenge_id_, now()});
  audit(creator, "create_team", name);
  return {id, name};
}

Team Store::create_team(int64_t creator, const std::string& name) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  Team t = insert_team(creator, name);
  tx.commit();
  return t;
}

void Store::add_team_member(int64_t team_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  RB_CHECK(!q("SELECT 1 FROM teams WHERE id=?", {team_id}).empty(), "no team ", team_id);
  RB_CHECK(q("SELECT 1 FROM team_members WHERE challenge_id=? AND user_id=?",
             {challenge_id_, user_id}).empty(),
           "user is already in a team of this challenge (one user, one team)");
  db_->exec("INSERT INTO team_members(team_id, user_id, challenge_id, joined_at) VALUES(?,?,?,?)",
            {team_id, user_id, challenge_id_, now()});
  audit(user_id, "join_team", std::to_string(team_id));
  tx.commit();
}

std::optional<Team> Store::team_of(int64_t user_id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT t.id, t.name FROM team_members m JOIN teams t ON t.id = m.team_id "
             "WHERE m.challenge_id=? AND m.user_id=?",
             {challenge_id_, user_id});
  if (r.empty()) return std::nullopt;
  return Team{r[0].i(0), r[0].s(1)};
}

std::optional<Team> Store::team_by_id(int64_t team_id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, name FROM teams WHERE id=?", {team_id});
  if (r.empty()) return std::nullopt;
  return Team{r[0].i(0), r[0].s(1)};
}

nlohmann::json Store::teams() {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT t.id, t.name, COUNT(m.user_id) FROM teams t LEFT JOIN "
                         "team_members m ON m.team_id = t.id WHERE t.challenge_id=? "
                         "GROUP BY t.id, t.name ORDER BY t.id",
                         {challenge_id_}))
    a.push_back({{"id", r.i(0)}, {"name", r.s(1)}, {"members", r.i(2)}});
  return a;
}

}  // namespace rb::challenge
