// Recurrent Variational Network and its ConvGRU (rvarnet.hpp).
#include "reconbench/ml/rvarnet.hpp"

#include "reconbench/core/error.hpp"

namespace rb::ml {

namespace nn = torch::nn;

namespace {

// ReplicationPad2d(pad) -> Conv2d(in, out, k, dilation)
nn::Sequential padded_conv(int64_t in, int64_t out, int64_t k, int64_t pad, int64_t dilation) {
  return nn::Sequential(nn::ReplicationPad2d(pad),
                        nn::Conv2d(nn::Conv2dOptions(in, out, k).dilation(dilation)));
}

nn::Conv2d gate(int64_t hidden, double bias) {
  nn::Conv2d c(nn::Conv2dOptions(2 * hidden, hidden, 1));
  torch::NoGradGuard ng;
  nn::init::orthogonal_(c->weight);
  c->bias.fill_(bias);
  return c;
}

}  // namespace

ConvGruImpl::ConvGruImpl(ConvGruOptions o) : options(o) {
  const int64_t F = o.hidden();
  convs = register_module("convs", nn::ModuleList());
  convs->push_back(padded_conv(o.in_chans(), F, 5, 2, 1));
  for (int64_t i = 1; i < o.layers(); ++i)
    convs->push_back(i == 1 ? padded_conv(F, F, 3, 2, 2) : padded_conv(F, F, 3, 1, 1));
  convs->push_back(padded_conv(F, o.out_chans(), 3, 1, 1));
  reset_gates = register_module("reset_gates", nn::ModuleList());
  update_gates = register_module("update_gates", nn::ModuleList());
  out_gates = register_module("out_gates", nn::ModuleList());
  for (int64_t i = 0; i < o.layers(); ++i) {
    reset_gates->push_back(gate(F, -1.0));
    update_gates->push_back(gate(F, 0.0));
    out_gates->push_back(gate(F, 0.0));
  }
}

std::pair<torch::Tensor, torch::Tensor> ConvGruImpl::forward(const torch::Tensor& input,
                                                             const torch::Tensor& state) {
  const int64_t L = options.layers(), F = options.hidden();
  torch::Tensor prev = state.defined()
                           ? state
                           : torch::zeros({input.size(0), F, input.size(2), input.size(3), L},
                                          input.options());
  std::vector<torch::Tensor> next;
  torch::Tensor x = input;
  for (int64_t i = 0; i < L; ++i) {
    x = torch::relu(convs[i]->as<nn::SequentialImpl>()->forward(x));
    const auto h = prev.select(-1, i);
    const auto xh = torch::cat({x, h}, 1);
    const auto z = torch::sigmoid(update_gates[i]->as<nn::Conv2dImpl>()->forward(xh));
    const auto r = torch::sigmoid(reset_gates[i]->as<nn::Conv2dImpl>()->forward(xh));
    const auto d = torch::tanh(out_gates[i]->as<nn::Conv2dImpl>()->forward(torch::cat({x, h * r}, 1)));
    const auto hn = h * (1 - z) + d * z;
    next.push_back(hn);
    x = torch::relu(hn);
  }
  return {convs[L]->as<nn::SequentialImpl>()->forward(x), torch::stack(next, -1)};
}

RecurrentVarNetBlockImpl::RecurrentVarNetBlockImpl(int64_t hidden, int64_t layers) {
  regularizer = register_module("regularizer",
                                ConvGru(ConvGruOptions().hidden(hidden).layers(layers)));
  learning_rate = register_parameter("learning_rate", torch::ones({1}));
}

std::pair<torch::Tensor, torch::Tensor> RecurrentVarNetBlockImpl::forward(
    const torch::Tensor& current, const torch::Tensor& ref, const torch::Tensor& mask,
    const torch::Tensor& sens, const torch::Tensor& state) {
  auto zero = torch::zeros({1, 1, 1, 1, 1}, current.options());
  auto err = torch::where(mask, current - ref, zero);
  auto x = sens_reduce(current, sens).squeeze(1).permute({0, 3, 1, 2});  // [B 2 H W]
  const int64_t b = x.size(0);
  auto g = x.reshape({b, 2, -1});
  auto mean = g.mean(2).view({b, 2, 1, 1}), std = g.std(2).view({b, 2, 1, 1});
  auto [w, next] = regularizer->forward((x - mean) / std, state);
  w = (w * std + mean).permute({0, 2, 3, 1}).unsqueeze(1);  // [B 1 H W 2]
  return {current - learning_rate * err + sens_expand(w, sens), next};
}

RecurrentVarNetImpl::RecurrentVarNetImpl(RecurrentVarNetOptions o) : options(o) {
  RB_CHECK(o.num_steps() >= 1 && o.hidden() >= 1 && o.layers() >= 1 && o.sens_chans() >= 1 &&
               o.sens_pools() >= 1,
           "recurrent VarNet options: steps (cascades), hidden channels (chans), GRU layers "
           "(pools), sens-chans, sens-pools must be >= 1");
  sens_net = register_module(
      "sens_net", SensitivityModel(o.sens_chans(), o.sens_pools(), o.mask_center()));
  steps = register_module("steps", nn::ModuleList());
  for (int64_t t = 0; t < o.num_steps(); ++t)
    steps->push_back(RecurrentVarNetBlock(o.hidden(), o.layers()));
}

torch::Tensor RecurrentVarNetImpl::forward(const torch::Tensor& masked_kspace,
                                           const torch::Tensor& mask, int64_t num_low_frequencies,
                                           const torch::Tensor& init) {
  check_kspace_net_input("RecurrentVarNet", masked_kspace, mask, init);
  auto sens = sens_net->forward(masked_kspace, mask, num_low_frequencies);
  torch::Tensor k = init.defined() ? init : masked_kspace.clone(), state;
  for (size_t t = 0; t < steps->size(); ++t)
    std::tie(k, state) = steps->ptr<RecurrentVarNetBlockImpl>(t)->forward(k, masked_kspace, mask,
                                                                           sens, state);
  return rss(complex_abs(ifft2c(k)), 1);
}

}  // namespace rb::ml
