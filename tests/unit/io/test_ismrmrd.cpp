// ISMRMRD header: make -> parse round trip, the namespace fastMRI's et_query needs, fastMRI's
// padding arithmetic, and headers that libismrmrd alone would refuse.
#include <gtest/gtest.h>

#include "reconbench/io/fastmri.hpp"

using namespace rb;

namespace {

IsmrmrdInfo info_640x320() {
  IsmrmrdInfo i;
  i.enc_x = 640;
  i.enc_y = 322;
  i.enc_z = 1;
  i.recon_x = 320;
  i.recon_y = 320;
  i.enc_fov_x = 440;
  i.enc_fov_y = 221.4;
  i.enc_fov_z = 7.5;
  i.recon_fov_x = 220;
  i.recon_fov_y = 220;
  i.recon_fov_z = 7.5;
  i.pe_min = 0;
  i.pe_max = 319;
  i.pe_center = 160;
  i.vendor = "SIEMENS";
  i.model = "Prisma_fit";
  i.field_strength_t = 2.89362;
  i.receiver_channels = 16;
  i.tr_ms = 9000;
  i.te_ms = 81;
  i.ti_ms = 2500;
  i.flip_angle_deg = 150;
  i.protocol_name = "AX FLAIR_FBB";
  return i;
}

TEST(Ismrmrd, MakeParseRoundTrip) {
  IsmrmrdInfo i = info_640x320();
  std::string xml = make_ismrmrd_header(i);
  EXPECT_NE(xml.find("xmlns=\"http://www.ismrm.org/ISMRMRD\""), std::string::npos) << xml;
  IsmrmrdInfo p = parse_ismrmrd_header(xml);
  EXPECT_EQ(p.enc_x, 640);
  EXPECT_EQ(p.enc_y, 322);
  EXPECT_EQ(p.enc_z, 1);
  EXPECT_EQ(p.recon_x, 320);
  EXPECT_EQ(p.recon_y, 320);
  EXPECT_FLOAT_EQ(p.enc_fov_x, 440);
  EXPECT_FLOAT_EQ(p.enc_fov_y, 221.4f);
  EXPECT_FLOAT_EQ(p.enc_fov_z, 7.5);
  EXPECT_FLOAT_EQ(p.recon_fov_x, 220);
  EXPECT_EQ(p.pe_min, 0);
  EXPECT_EQ(p.pe_max, 319);
  EXPECT_EQ(p.pe_center, 160);
  EXPECT_EQ(p.vendor, "SIEMENS");
  EXPECT_EQ(p.model, "Prisma_fit");
  EXPECT_FLOAT_EQ(p.field_strength_t, 2.89362f);
  EXPECT_EQ(p.receiver_channels, 16);
  EXPECT_FLOAT_EQ(p.tr_ms, 9000);
  EXPECT_FLOAT_EQ(p.te_ms, 81);
  EXPECT_FLOAT_EQ(p.ti_ms, 2500);
  EXPECT_FLOAT_EQ(p.flip_angle_deg, 150);
  EXPECT_EQ(p.protocol_name, "AX FLAIR_FBB");
  // fastMRI: padding_left = 322 // 2 - 160 = 1; padding_right = 1 + 319 + 1 = 321.
  EXPECT_EQ(p.padding_left(), 1);
  EXPECT_EQ(p.padding_right(), 321);
}

TEST(Ismrmrd, RejectsGarbageNamingTheSource) {
  for (std::string bad : {"", "not xml", "<ismrmrdHeader></ismrmrdHeader>", "<a><b>"}) {
    try {
      parse_ismrmrd_header(bad, "file.h5: 'ismrmrd_header'");
      FAIL() << "accepted: " << bad;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("file.h5"), std::string::npos) << e.what();
    }
  }
}

TEST(Ismrmrd, ForeignVersionIsAccepted) {
  std::string xml = make_ismrmrd_header(info_640x320());
  size_t pos = xml.find("<measurementInformation>");
  ASSERT_NE(pos, std::string::npos);
  xml.insert(pos, "<version>2</version>");
  EXPECT_EQ(parse_ismrmrd_header(xml).enc_y, 322);
}

TEST(Ismrmrd, MinimalHeaderFallsBackToFastMriFields) {
  // What a Python script with xml.etree might write: only the fields fastMRI reads, with a
  // namespace prefix. libismrmrd refuses it (no experimentalConditions, trajectory).
  const std::string xml = R"(<?xml version="1.0"?>
<ns0:ismrmrdHeader xmlns:ns0="http://www.ismrm.org/ISMRMRD">
  <ns0:acquisitionSystemInformation><ns0:systemVendor>GE</ns0:systemVendor>
    <ns0:systemModel>DISCOVERY MR750</ns0:systemModel>
    <ns0:systemFieldStrength_T>3.0</ns0:systemFieldStrength_T></ns0:acquisitionSystemInformation>
  <ns0:encoding>
    <ns0:encodedSpace><ns0:matrixSize><ns0:x>320</ns0:x><ns0:y>256</ns0:y><ns0:z>1</ns0:z></ns0:matrixSize>
      <ns0:fieldOfView_mm><ns0:x>220</ns0:x><ns0:y>176</ns0:y><ns0:z>5</ns0:z></ns0:fieldOfView_mm></ns0:encodedSpace>
    <ns0:reconSpace><ns0:matrixSize><ns0:x>320</ns0:x><ns0:y>320</ns0:y><ns0:z>1</ns0:z></ns0:matrixSize>
      <ns0:fieldOfView_mm><ns0:x>220</ns0:x><ns0:y>220</ns0:y><ns0:z>5</ns0:z></ns0:fieldOfView_mm></ns0:reconSpace>
    <ns0:encodingLimits><ns0:kspace_encoding_step_1><ns0:minimum>0</ns0:minimum>
      <ns0:maximum>251</ns0:maximum><ns0:center>126</ns0:center></ns0:kspace_encoding_step_1></ns0:encodingLimits>
  </ns0:encoding>
</ns0:ismrmrdHeader>)";
  IsmrmrdInfo p = parse_ismrmrd_header(xml);
  EXPECT_EQ(p.enc_x, 320);
  EXPECT_EQ(p.enc_y, 256);
  EXPECT_EQ(p.recon_y, 320);
  EXPECT_DOUBLE_EQ(p.enc_fov_y, 176);
  EXPECT_EQ(p.pe_max, 251);
  EXPECT_EQ(p.pe_center, 126);
  EXPECT_EQ(p.vendor, "GE");
  EXPECT_EQ(p.model, "DISCOVERY MR750");
  EXPECT_DOUBLE_EQ(p.field_strength_t, 3.0);
  EXPECT_EQ(p.padding_left(), 2);
  EXPECT_EQ(p.padding_right(), 254);
}

TEST(Ismrmrd, OutOfRangeMatrixIsAUserError) {
  IsmrmrdInfo i = info_640x320();
  i.enc_x = 70000;
  EXPECT_THROW(make_ismrmrd_header(i), UserError);
}

}  // namespace
