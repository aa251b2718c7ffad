// Temporary: the ml module's methods are registered here once implemented (issue 6).
#include "reconbench/ml/register.hpp"

namespace rb {
void register_ml_methods() {}
}  // namespace rb
