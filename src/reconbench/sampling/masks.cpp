// fastMRI's mask functions (fastmri/data/subsample.py), bit-exact; see masks.hpp and
// design/fastmri-reference.md §1b. Python's round / np.around are ties-to-even: nearbyint.
#include "reconbench/sampling/masks.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "reconbench/core/error.hpp"

namespace rb {

namespace {

int64_t round_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

bool is_integer(double x) { return std::isfinite(x) && x == std::floor(x); }

// Restores the RNG state on scope exit (fastMRI temp_seed: save, reseed, draw, restore).
class TempSeed {
 public:
  TempSeed(RandomState& rng, const std::optional<MaskSeed>& seed) : rng_(rng) {
    if (seed) {
      saved_ = rng_.state();
      seed_rng(rng_, *seed);
    }
  }
  ~TempSeed() {
    if (saved_) rng_.set_state(*saved_);
  }
  TempSeed(const TempSeed&) = delete;
  TempSeed& operator=(const TempSeed&) = delete;

 private:
  RandomState& rng_;
  std::optional<RandomState::State> saved_;
};

// calculate_center_mask: ones at [pad, pad + nlf), pad = (W - nlf + 1) // 2.
void set_center(std::vector<float>& mask, int64_t nlf) {
  const int64_t w = static_cast<int64_t>(mask.size());
  RB_ASSERT(nlf >= 0 && nlf <= w);
  const int64_t pad = (w - nlf + 1) / 2;
  std::fill(mask.begin() + pad, mask.begin() + pad + nlf, 1.0f);
}

// mask[start::step] = 1 (Python slice assignment, start >= 0, step >= 1).
void set_strided(std::vector<float>& mask, int64_t start, int64_t step) {
  for (int64_t i = start; i < static_cast<int64_t>(mask.size()); i += step) mask[i] = 1.0f;
}

// np.arange(start, stop, step) for an int start/stop and a float step (numpy's fill rule:
// v0 = start, v1 = start + step, d = v1 - v0, v_i = v0 + i d for i >= 2).
std::vector<double> np_arange(int64_t start, int64_t stop, double step) {
  const double n = std::ceil(static_cast<double>(stop - start) / step);
  if (!(n > 0)) return {};
  std::vector<double> v(static_cast<size_t>(n));
  const double v0 = static_cast<double>(start);
  v[0] = v0;
  if (v.size() > 1) v[1] = v0 + step;
  if (v.size() > 2) {
    const double d = v[1] - v0;
    for (size_t i = 2; i < v.size(); ++i) v[i] = v0 + static_cast<double>(i) * d;
  }
  return v;
}

// EquiSpacedMaskFunc and MagicMaskFunc slice with the acceleration: numpy needs an integer.
int64_t integer_acceleration(double acc, MaskType t) {
  RB_CHECK(is_integer(acc) && acc >= 1, "mask type '", mask_type_name(t),
           "' needs integer accelerations >= 1 (got ", acc, ")");
  return static_cast<int64_t>(acc);
}

// MagicMaskFunc.calculate_acceleration_mask (Defazio 2019): equispaced lines on each half of
// k-space with a conjugate-symmetric offset, assembled unshifted and fftshift-ed.
std::vector<float> magic_lines(int64_t w, int64_t acc, int64_t offset) {
  int64_t off_pos, off_neg;
  if (offset % 2 == 0) {
    off_pos = offset + 1;
    off_neg = offset + 2;
  } else {
    off_pos = offset + 2;
    off_neg = offset - 1;
  }
  const int64_t poslen = (w + 1) / 2, neglen = w - poslen;
  std::vector<float> pos(poslen, 0.0f), neg(neglen, 0.0f);
  set_strided(pos, off_pos, acc);
  set_strided(neg, off_neg, acc);
  std::vector<float> cat(pos);
  cat.insert(cat.end(), neg.rbegin(), neg.rend());  // concatenate(pos, flip(neg))
  std::vector<float> out(w);
  for (int64_t i = 0; i < w; ++i) out[(i + w / 2) % w] = cat[i];  // fftshift = roll(w // 2)
  return out;
}

}  // namespace

MaskSeed seed_from_filename(const std::string& name) {
  std::string base = name;
  if (auto p = base.find_last_of('/'); p != std::string::npos) base = base.substr(p + 1);
  std::vector<uint32_t> ords;
  const auto* s = reinterpret_cast<const unsigned char*>(base.data());
  const size_t n = base.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = s[i];
    int len = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) len = 1, cp = c;
    else if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) ok = false;
      else cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      ords.push_back(cp);
      i += len;
    } else {
      ords.push_back(0xdc00U + c);  // surrogateescape
      ++i;
    }
  }
  RB_CHECK(!ords.empty(), "seed from file name: empty file name '", name, "'");
  return ords;
}

std::string mask_seed_str(const MaskSeed& seed) {
  if (const auto* i = std::get_if<uint32_t>(&seed)) return std::to_string(*i);
  const auto& v = std::get<std::vector<uint32_t>>(seed);
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + (v.size() == 1 ? ",)" : ")");
}

void seed_rng(RandomState& rng, const MaskSeed& seed) {
  if (const auto* i = std::get_if<uint32_t>(&seed)) rng.seed(*i);
  else rng.seed(std::span<const uint32_t>(std::get<std::vector<uint32_t>>(seed)));
}

const std::vector<std::string>& mask_type_names() {
  static const std::vector<std::string> names{"random", "equispaced", "equispaced_fraction",
                                              "magic", "magic_fraction"};
  return names;
}

MaskType parse_mask_type(const std::string& name) {
  const auto& names = mask_type_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<MaskType>(i);
  throw UserError("unknown mask type '" + name +
                  "' (expected random, equispaced, equispaced_fraction, magic or "
                  "magic_fraction)");
}

std::string mask_type_name(MaskType t) {
  const auto i = static_cast<size_t>(t);
  RB_ASSERT(i < mask_type_names().size());
  return mask_type_names()[i];
}

int64_t Mask::num_sampled() const {
  return std::count_if(mask.begin(), mask.end(), [](float v) { return v != 0.0f; });
}

std::vector<int64_t> Mask::indices() const {
  std::vector<int64_t> idx;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 0.0f) idx.push_back(static_cast<int64_t>(i));
  return idx;
}

MaskFunc::MaskFunc(MaskFuncOptions opts) : opts_(std::move(opts)), rng_(opts_.rng_seed) {
  RB_CHECK(!opts_.center_fractions.empty(), "mask: at least one center fraction is needed");
  RB_CHECK(!opts_.accelerations.empty(), "mask: at least one acceleration is needed");
  RB_CHECK(opts_.allow_any_combination ||
               opts_.center_fractions.size() == opts_.accelerations.size(),
           "mask: number of center fractions (", opts_.center_fractions.size(),
           ") should match number of accelerations (", opts_.accelerations.size(),
           ") unless any combination is allowed");
  for (double cf : opts_.center_fractions)
    RB_CHECK(std::isfinite(cf) && cf >= 0 && cf <= 1, "mask: center fraction ", cf,
             " is outside [0, 1]");
  for (double acc : opts_.accelerations) {
    RB_CHECK(std::isfinite(acc) && acc > 0, "mask: acceleration ", acc, " must be > 0");
    if (opts_.type == MaskType::Equispaced || opts_.type == MaskType::Magic)
      integer_acceleration(acc, opts_.type);
  }
}

Mask MaskFunc::operator()(int64_t width, const std::optional<MaskSeed>& seed,
                          std::optional<int64_t> offset) {
  RB_CHECK(width >= 1, "mask: width must be >= 1 (got ", width, ")");
  RB_CHECK(!offset || *offset >= 0, "mask: offset must be >= 0 (got ", *offset, ")");
  const MaskType type = opts_.type;
  const std::string tname = mask_type_name(type);
  TempSeed guard(rng_, seed);

  // choose_acceleration
  Mask m;
  const auto& cfs = opts_.center_fractions;
  const auto& accs = opts_.accelerations;
  if (opts_.allow_any_combination) {
    m.center_fraction = cfs[rng_.randint(0, static_cast<int64_t>(cfs.size()))];
    m.acceleration = accs[rng_.randint(0, static_cast<int64_t>(accs.size()))];
  } else {
    const int64_t i = rng_.randint(0, static_cast<int64_t>(cfs.size()));
    m.center_fraction = cfs[i];
    m.acceleration = accs[i];
  }
  const double acc = m.acceleration;
  const int64_t w = width;
  const double wd = static_cast<double>(w);
  int64_t nlf = round_even(wd * m.center_fraction);
  std::vector<float> accel(w, 0.0f);

  switch (type) {
    case MaskType::Random: {
      RB_CHECK(nlf < w, "mask 'random': the center (", nlf, " lines) fills all ", w,
               " columns; the outer sampling probability is undefined");
      // prob = (W / acc - nlf) / (W - nlf): expected W / acc columns in total
      const double prob = (wd / acc - static_cast<double>(nlf)) / static_cast<double>(w - nlf);
      for (int64_t i = 0; i < w; ++i) accel[i] = rng_.uniform() < prob ? 1.0f : 0.0f;
      m.adjusted_acceleration = acc;
      break;
    }
    case MaskType::Equispaced: {
      const int64_t a = integer_acceleration(acc, type);
      m.offset = offset ? *offset : rng_.randint(0, a);
      set_strided(accel, m.offset, a);
      m.adjusted_acceleration = acc;
      break;
    }
    case MaskType::EquispacedFraction: {
      // a = acc (nlf - W) / (nlf acc - W): spacing of the outer lines so that nlf + (W - nlf)/a
      // = W / acc in expectation.
      const double den = static_cast<double>(nlf) * acc - wd;
      RB_CHECK(den != 0.0, "mask 'equispaced_fraction': center fraction ", m.center_fraction,
               " x acceleration ", acc, " samples exactly the center (", nlf, " of ", w,
               " columns); the adjusted acceleration is undefined");
      const double a = (acc * static_cast<double>(nlf - w)) / den;
      RB_CHECK(a != 0.0, "mask 'equispaced_fraction': adjusted acceleration is 0 (center ", nlf,
               " lines fills all ", w, " columns)");
      m.adjusted_acceleration = a;
      if (offset) {
        m.offset = *offset;
      } else {
        const int64_t hi = round_even(a);
        RB_CHECK(hi > 0, "mask 'equispaced_fraction': adjusted acceleration ", a,
                 " rounds to ", hi, " (center fraction ", m.center_fraction,
                 " too large for acceleration ", acc, " at width ", w, ")");
        m.offset = rng_.randint(0, hi);
      }
      for (double v : np_arange(m.offset, w - 1, a)) {
        const int64_t idx = round_even(v);
        RB_ASSERT(idx >= 0 && idx < w, "equispaced_fraction index ", idx, " width ", w);
        accel[idx] = 1.0f;
      }
      break;
    }
    case MaskType::Magic: {
      const int64_t a = integer_acceleration(acc, type);
      m.offset = offset ? *offset : rng_.randint(0, a);
      accel = magic_lines(w, a, m.offset);
      m.adjusted_acceleration = acc;
      break;
    }
    case MaskType::MagicFraction: {
      // nlf bounded to [1, round(W / acc)]; the outer lines take the remaining budget.
      const int64_t target = round_even(wd / acc);
      nlf = std::max<int64_t>(std::min(nlf, target), 1);
      const int64_t adj_target = target - nlf;
      const int64_t adj = adj_target > 0 ? round_even(wd / static_cast<double>(adj_target)) : 0;
      RB_CHECK(adj > 0, "mask 'magic_fraction': no outer lines left for acceleration ", acc,
               " at width ", w, " (round(W / acc) = ", target, " <= ", nlf,
               " center lines)");
      m.adjusted_acceleration = static_cast<double>(adj);
      m.offset = offset ? *offset : rng_.randint(0, adj);
      accel = magic_lines(w, adj, m.offset);
      break;
    }
  }
  m.num_low_frequencies = nlf;
  m.mask = std::move(accel);
  set_center(m.mask, nlf);  // max(center, accel) of 0/1 masks
  return m;
}

std::vector<float> apply_mask_inplace(ArrayView<cfloat> kspace, std::span<const float> mask,
                                      int64_t pad_left, int64_t pad_right) {
  RB_CHECK(kspace.ndim() >= 1, "apply_mask: k-space has no axes");
  const int64_t w = kspace.dim(-1);
  RB_CHECK(static_cast<int64_t>(mask.size()) == w, "apply_mask: mask length ", mask.size(),
           " != phase-encode size ", w, " of k-space ", shape_str(kspace.shape()));
  if (pad_right == -1) pad_right = w;
  RB_CHECK(pad_left >= 0 && pad_right >= 0 && pad_left <= pad_right,
           "apply_mask: invalid padding [", pad_left, ", ", pad_right, ") for width ", w);
  pad_left = std::min(pad_left, w);
  pad_right = std::min(pad_right, w);
  std::vector<float> applied(mask.begin(), mask.end());
  for (int64_t i = 0; i < w; ++i)
    if (i < pad_left || i >= pad_right) applied[i] = 0.0f;
  // masked = kspace * mask + 0.0, per real/imag component in float32: the + 0.0 turns the
  // -0.0 of negative values times 0 into +0.0 (no sign bit leaks from unsampled columns).
  cfloat* d = kspace.data();
  const int64_t rows = w == 0 ? 0 : kspace.size() / w;
  for (int64_t r = 0; r < rows; ++r) {
    cfloat* row = d + r * w;
    for (int64_t i = 0; i < w; ++i) {
      const float m = applied[i];
      row[i] = cfloat(row[i].real() * m + 0.0f, row[i].imag() * m + 0.0f);
    }
  }
  return applied;
}

}  // namespace rb
