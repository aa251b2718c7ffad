// Finalist kinds -> modules (networks.hpp).
#include "reconbench/ml/networks.hpp"

#include "reconbench/core/error.hpp"
#include "reconbench/ml/dualnet.hpp"
#include "reconbench/ml/jointicnet.hpp"
#include "reconbench/ml/rvarnet.hpp"

namespace rb::ml {

std::shared_ptr<KspaceNetImpl> make_finalist_net(const ModelSpec& s) {
  switch (s.kind) {
    case ModelKind::DualNet:
    case ModelKind::DualNetGrappa:
      return std::make_shared<DualNetImpl>(DualNetOptions()
                                               .num_cascades(s.num_cascades)
                                               .sens_chans(s.sens_chans)
                                               .sens_pools(s.sens_pools)
                                               .chans(s.chans)
                                               .pools(s.pools)
                                               .mask_center(s.mask_center));
    case ModelKind::RecurrentVarNet:
      return std::make_shared<RecurrentVarNetImpl>(RecurrentVarNetOptions()
                                                       .num_steps(s.num_cascades)
                                                       .hidden(s.chans)
                                                       .layers(s.pools)
                                                       .sens_chans(s.sens_chans)
                                                       .sens_pools(s.sens_pools)
                                                       .mask_center(s.mask_center));
    case ModelKind::JointICNet:
      return std::make_shared<JointICNetImpl>(JointICNetOptions()
                                                  .num_iter(s.num_cascades)
                                                  .chans(s.chans)
                                                  .pools(s.pools)
                                                  .sens_chans(s.sens_chans)
                                                  .sens_pools(s.sens_pools)
                                                  .mask_center(s.mask_center));
    case ModelKind::Unet:
    case ModelKind::UnetGrappa:
    case ModelKind::VarNet:
    case ModelKind::VarNetGrappa: break;
  }
  RB_ASSERT(false, "make_finalist_net: ", model_kind_name(s.kind), " is not a finalist kind");
  return nullptr;
}

}  // namespace rb::ml
