// ISMRMRD XML header <-> IsmrmrdInfo through libismrmrd (ISMRMRD::deserialize/serialize).
// serialize() writes the default namespace xmlns="http://www.ismrm.org/ISMRMRD", which is
// what fastMRI's et_query (mri_data.py) searches with.
#include <ismrmrd/xml.h>

#include <cmath>
#include <optional>
#include <regex>
#include <sstream>

#include "reconbench/io/fastmri.hpp"

namespace rb {

namespace {

// Minimal element-path lookup, used only when libismrmrd rejects a header (it insists on
// elements fastMRI never reads, e.g. experimentalConditions). Mirrors fastMRI's et_query:
// the text of the first element matching `path` as nested descendants, namespace prefixes
// ignored.
std::optional<std::string> xml_query(const std::string& xml, std::initializer_list<const char*> path) {
  size_t pos = 0;
  size_t end = xml.size();
  std::string text;
  for (const char* want : path) {
    bool found = false;
    while (pos < end) {
      size_t lt = xml.find('<', pos);
      if (lt == std::string::npos || lt >= end) break;
      size_t i = lt + 1;
      if (i < xml.size() && (xml[i] == '/' || xml[i] == '?' || xml[i] == '!')) {
        pos = i;
        continue;
      }
      size_t j = xml.find_first_of(" \t\r\n/>", i);
      if (j == std::string::npos) return std::nullopt;
      std::string name = xml.substr(i, j - i);
      if (auto c = name.find(':'); c != std::string::npos) name = name.substr(c + 1);
      size_t gt = xml.find('>', j);
      if (gt == std::string::npos) return std::nullopt;
      pos = gt + 1;
      if (name == want) {
        found = true;
        // Restrict the next search to this element's content (up to its closing tag).
        std::string tag = xml.substr(i, j - i);
        size_t close = xml.find("</" + tag, pos);
        end = close == std::string::npos ? end : close;
        text = xml.substr(pos, end - pos);
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  return text;
}

std::optional<double> xml_number(const std::string& xml, std::initializer_list<const char*> path) {
  auto t = xml_query(xml, path);
  if (!t) return std::nullopt;
  try {
    return std::stod(*t);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// An integer field (matrix sizes, limits, channels): nullopt unless it parses as a finite
// whole number of magnitude <= 2^31 (a header may say "inf" or "1e300"; casting such a
// double to int64 is undefined behaviour).
std::optional<int64_t> xml_int(const std::string& xml, std::initializer_list<const char*> path) {
  auto v = xml_number(xml, path);
  if (!v || !std::isfinite(*v) || std::fabs(*v) > 2147483648.0 || *v != std::floor(*v))
    return std::nullopt;
  return static_cast<int64_t>(*v);
}

// fastMRI's fields only (mri_data.py _retrieve_metadata) plus the system information.
std::optional<IsmrmrdInfo> parse_fallback(const std::string& xml) {
  IsmrmrdInfo info;
  auto ex = xml_int(xml, {"encoding", "encodedSpace", "matrixSize", "x"});
  auto ey = xml_int(xml, {"encoding", "encodedSpace", "matrixSize", "y"});
  auto rx = xml_int(xml, {"encoding", "reconSpace", "matrixSize", "x"});
  auto ry = xml_int(xml, {"encoding", "reconSpace", "matrixSize", "y"});
  if (!ex || !ey || !rx || !ry) return std::nullopt;
  info.enc_x = *ex;
  info.enc_y = *ey;
  info.enc_z = xml_int(xml, {"encoding", "encodedSpace", "matrixSize", "z"}).value_or(1);
  info.recon_x = *rx;
  info.recon_y = *ry;
  info.recon_z = xml_int(xml, {"encoding", "reconSpace", "matrixSize", "z"}).value_or(1);
  info.enc_fov_x = xml_number(xml, {"encoding", "encodedSpace", "fieldOfView_mm", "x"}).value_or(0);
  info.enc_fov_y = xml_number(xml, {"encoding", "encodedSpace", "fieldOfView_mm", "y"}).value_or(0);
  info.enc_fov_z = xml_number(xml, {"encoding", "encodedSpace", "fieldOfView_mm", "z"}).value_or(0);
  info.recon_fov_x = xml_number(xml, {"encoding", "reconSpace", "fieldOfView_mm", "x"}).value_or(0);
  info.recon_fov_y = xml_number(xml, {"encoding", "reconSpace", "fieldOfView_mm", "y"}).value_or(0);
  info.recon_fov_z = xml_number(xml, {"encoding", "reconSpace", "fieldOfView_mm", "z"}).value_or(0);
  auto center = xml_int(xml, {"encoding", "encodingLimits", "kspace_encoding_step_1", "center"});
  auto maximum = xml_int(xml, {"encoding", "encodingLimits", "kspace_encoding_step_1", "maximum"});
  auto minimum = xml_int(xml, {"encoding", "encodingLimits", "kspace_encoding_step_1", "minimum"});
  info.pe_center = center.value_or(info.enc_y / 2);
  info.pe_max = maximum.value_or(info.enc_y - 1);
  info.pe_min = minimum.value_or(0);
  info.vendor = xml_query(xml, {"acquisitionSystemInformation", "systemVendor"}).value_or("");
  info.model = xml_query(xml, {"acquisitionSystemInformation", "systemModel"}).value_or("");
  info.field_strength_t =
      xml_number(xml, {"acquisitionSystemInformation", "systemFieldStrength_T"}).value_or(0);
  info.receiver_channels =
      xml_int(xml, {"acquisitionSystemInformation", "receiverChannels"}).value_or(0);
  info.tr_ms = xml_number(xml, {"sequenceParameters", "TR"}).value_or(0);
  info.te_ms = xml_number(xml, {"sequenceParameters", "TE"}).value_or(0);
  info.ti_ms = xml_number(xml, {"sequenceParameters", "TI"}).value_or(0);
  info.flip_angle_deg = xml_number(xml, {"sequenceParameters", "flipAngle_deg"}).value_or(0);
  info.protocol_name = xml_query(xml, {"measurementInformation", "protocolName"}).value_or("");
  return info;
}

}  // namespace

IsmrmrdInfo parse_ismrmrd_header(const std::string& xml_in, const std::string& what) {
  RB_CHECK(!xml_in.empty(), what, ": empty ISMRMRD header");
  // libismrmrd refuses any <version> other than its own schema version; the fields read
  // here have not changed between versions, so the element is dropped before parsing.
  static const std::regex version_re(R"(<(\w+:)?version>\s*\d+\s*</(\w+:)?version>)");
  const std::string xml = std::regex_replace(xml_in, version_re, "");
  ISMRMRD::IsmrmrdHeader h;
  try {
    ISMRMRD::deserialize(xml.c_str(), h);
  } catch (const std::exception& e) {
    // Headers that libismrmrd finds incomplete but that carry what fastMRI reads.
    if (auto info = parse_fallback(xml)) return *info;
    throw UserError(cat(what, ": invalid ISMRMRD header XML (", e.what(), ")"));
  }
  RB_CHECK(!h.encoding.empty(), what, ": ISMRMRD header has no <encoding> section");
  const ISMRMRD::Encoding& enc = h.encoding[0];
  IsmrmrdInfo info;
  info.enc_x = enc.encodedSpace.matrixSize.x;
  info.enc_y = enc.encodedSpace.matrixSize.y;
  info.enc_z = enc.encodedSpace.matrixSize.z;
  info.enc_fov_x = enc.encodedSpace.fieldOfView_mm.x;
  info.enc_fov_y = enc.encodedSpace.fieldOfView_mm.y;
  info.enc_fov_z = enc.encodedSpace.fieldOfView_mm.z;
  info.recon_x = enc.reconSpace.matrixSize.x;
  info.recon_y = enc.reconSpace.matrixSize.y;
  info.recon_z = enc.reconSpace.matrixSize.z;
  info.recon_fov_x = enc.reconSpace.fieldOfView_mm.x;
  info.recon_fov_y = enc.reconSpace.fieldOfView_mm.y;
  info.recon_fov_z = enc.reconSpace.fieldOfView_mm.z;
  if (enc.encodingLimits.kspace_encoding_step_1) {
    const ISMRMRD::Limit& l = *enc.encodingLimits.kspace_encoding_step_1;
    info.pe_min = l.minimum;
    info.pe_max = l.maximum;
    info.pe_center = l.center;
  } else {
    // No limits: assume the whole encoded phase range was acquired, centred.
    info.pe_min = 0;
    info.pe_max = info.enc_y > 0 ? info.enc_y - 1 : 0;
    info.pe_center = info.enc_y / 2;
  }
  if (h.acquisitionSystemInformation) {
    const auto& a = *h.acquisitionSystemInformation;
    info.vendor = a.systemVendor.value_or(std::string());
    info.model = a.systemModel.value_or(std::string());
    info.field_strength_t = a.systemFieldStrength_T.value_or(0.0f);
    info.receiver_channels = a.receiverChannels.value_or(0);
  }
  if (h.sequenceParameters) {
    const auto& s = *h.sequenceParameters;
    auto first = [](const ISMRMRD::Optional<std::vector<float>>& v) {
      return v && !v->empty() ? static_cast<double>(v->front()) : 0.0;
    };
    info.tr_ms = first(s.TR);
    info.te_ms = first(s.TE);
    info.ti_ms = first(s.TI);
    info.flip_angle_deg = first(s.flipAngle_deg);
  }
  if (h.measurementInformation)
    info.protocol_name = h.measurementInformation->protocolName.value_or(std::string());
  return info;
}

std::string make_ismrmrd_header(const IsmrmrdInfo& info) {
  auto u16 = [](int64_t v, const char* name) {
    RB_CHECK(v >= 0 && v <= 65535, "ISMRMRD header: ", name, " = ", v,
             " does not fit the format's unsigned short");
    return static_cast<unsigned short>(v);
  };
  ISMRMRD::IsmrmrdHeader h;

  ISMRMRD::MeasurementInformation meas;
  meas.patientPosition = "HFS";
  if (!info.protocol_name.empty()) meas.protocolName = info.protocol_name;
  h.measurementInformation = meas;

  ISMRMRD::AcquisitionSystemInformation sys;
  if (!info.vendor.empty()) sys.systemVendor = info.vendor;
  if (!info.model.empty()) sys.systemModel = info.model;
  if (info.field_strength_t > 0)
    sys.systemFieldStrength_T = static_cast<float>(info.field_strength_t);
  if (info.receiver_channels > 0)
    sys.receiverChannels = u16(info.receiver_channels, "receiverChannels");
  h.acquisitionSystemInformation = sys;

  // Larmor frequency of 1H: 42.577478 MHz/T.
  h.experimentalConditions.H1resonanceFrequency_Hz =
      static_cast<long>(std::lround(42577478.0 * info.field_strength_t));

  ISMRMRD::Encoding enc;
  enc.encodedSpace.matrixSize = ISMRMRD::MatrixSize(u16(info.enc_x, "encodedSpace x"),
                                                    u16(info.enc_y, "encodedSpace y"),
                                                    u16(info.enc_z, "encodedSpace z"));
  enc.encodedSpace.fieldOfView_mm = {static_cast<float>(info.enc_fov_x),
                                     static_cast<float>(info.enc_fov_y),
                                     static_cast<float>(info.enc_fov_z)};
  enc.reconSpace.matrixSize = ISMRMRD::MatrixSize(u16(info.recon_x, "reconSpace x"),
                                                  u16(info.recon_y, "reconSpace y"),
                                                  u16(info.recon_z, "reconSpace z"));
  enc.reconSpace.fieldOfView_mm = {static_cast<float>(info.recon_fov_x),
                                   static_cast<float>(info.recon_fov_y),
                                   static_cast<float>(info.recon_fov_z)};
  enc.encodingLimits.kspace_encoding_step_1 = ISMRMRD::Limit(
      u16(info.pe_min, "kspace_encoding_step_1 minimum"),
      u16(info.pe_max, "kspace_encoding_step_1 maximum"),
      u16(info.pe_center, "kspace_encoding_step_1 center"));
  enc.encodingLimits.kspace_encoding_step_0 =
      ISMRMRD::Limit(0, u16(info.enc_x > 0 ? info.enc_x - 1 : 0, "encodedSpace x"),
                     u16(info.enc_x / 2, "encodedSpace x"));
  enc.encodingLimits.kspace_encoding_step_2 = ISMRMRD::Limit(0, 0, 0);
  enc.encodingLimits.slice = ISMRMRD::Limit(0, 0, 0);
  enc.trajectory = ISMRMRD::TrajectoryType::CARTESIAN;
  h.encoding.push_back(enc);

  ISMRMRD::SequenceParameters seq;
  auto put = [](ISMRMRD::Optional<std::vector<float>>& dst, double v) {
    if (v > 0) dst = std::vector<float>{static_cast<float>(v)};
  };
  put(seq.TR, info.tr_ms);
  put(seq.TE, info.te_ms);
  put(seq.TI, info.ti_ms);
  put(seq.flipAngle_deg, info.flip_angle_deg);
  if (seq.TR || seq.TE || seq.TI || seq.flipAngle_deg) h.sequenceParameters = seq;

  std::ostringstream os;
  ISMRMRD::serialize(h, os);
  return os.str();
}

}  // namespace rb
