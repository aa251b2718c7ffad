// ISMRMRD header XML (io/ismrmrd.cpp): libismrmrd's deserializer (pugixml) and reconbench's
// fallback element-path reader for headers libismrmrd rejects, then the derived fastMRI
// padding. Seeds: headers written by make_ismrmrd_header for the simulator's Siemens-, GE-
// and Philips-like encodings, and a fastMRI-style header without experimentalConditions
// (fallback path).
#include <string>

#include "common.hpp"
#include "reconbench/io/fastmri.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  rb::fuzz::expected([&] {
    rb::IsmrmrdInfo info = rb::parse_ismrmrd_header(xml, "fuzz");
    (void)info.padding_left();
    (void)info.padding_right();
    // Whatever parsed must be writable again or refused with a UserError.
    rb::fuzz::expected([&] { (void)rb::parse_ismrmrd_header(rb::make_ismrmrd_header(info)); });
  });
  return 0;
}
