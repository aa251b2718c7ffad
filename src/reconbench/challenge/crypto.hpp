// Hashing and secrets for the challenge: SHA-256 (FIPS 180-4) for content-addressed blobs,
// token hashes and metric-spec hashes; random API tokens; constant-time comparison; salted,
// iterated password hashes.
//
// API tokens are "rbt_<id>_<secret>": <id> selects the stored row, <secret> is 32 random bytes
// in hex. Only sha256(secret) is stored; comparison is constant-time.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace rb::challenge {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finalises; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
// Streams the file (UserError naming it when unreadable).
std::string sha256_file(const std::filesystem::path& path);
std::string to_hex(const uint8_t* p, size_t n);

// n bytes from the kernel CSPRNG (getrandom), hex-encoded (2n characters).
std::string random_hex(size_t n);

// Equal strings in time independent of where they differ (length is not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

// "<salt>$<hex>" with hex = sha256 iterated `rounds` times over salt + password.
std::string hash_password(std::string_view password, int rounds = 20000);
bool verify_password(std::string_view password, std::string_view stored);

// True when s is 64 lowercase hex digits (a sha256).
bool is_sha256_hex(std::string_view s);

}  // namespace rb::challenge
