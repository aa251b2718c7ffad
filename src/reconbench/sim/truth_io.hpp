// Simulator side files (toolkit-private, kept apart from the fastMRI files):
//
//   <name>_truth.h5
//     image_complex            complex64 [slice y x]  noise-free, coil-free object, recon grid
//     image_complex_nolesion   complex64 [slice y x]  (lesion volumes only)
//     sens                     complex64 [slice coil read phase] on the written k-space grid
//     labels                   uint8 [slice y x]      dominant tissue (attrs: tissue names)
//     lesion_mask              uint8 [slice y x]      1 + lesion index, 0 = none
//     noise_cov                complex64 [coil coil]  per written k-space sample
//     params                   bytes: JSON of every drawn parameter
//   attrs: file (the fastMRI file name), version
//
// Written with the io module's HDF5 lock held; object time stamps are disabled so that the
// same seed gives byte-identical files.
#pragma once

#include <filesystem>
#include <string>

#include "reconbench/sim/volume.hpp"

namespace rb::sim {

void write_truth_file(const std::filesystem::path& path, const SimulatedVolume& vol,
                      const std::string& fastmri_name);

// Ground-truth file for a test/challenge volume: reconstruction_rss + ismrmrd_header + attrs
// acquisition, max, norm, patient_id, acceleration, num_low_frequency (no kspace).
void write_ground_truth_file(const std::filesystem::path& path, const Array<float>& rss,
                             const std::string& header_xml, const std::string& acquisition,
                             double max, double norm, const std::string& patient_id,
                             int64_t acceleration, int64_t num_low_frequency);

}  // namespace rb::sim
