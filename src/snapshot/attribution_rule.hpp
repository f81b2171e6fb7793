// The attribution rule in force, shared without copying by every Traceback being built.
#pragma once
#include <memory>

#include "leakguard/attribution.hpp"

namespace leakguard::detail {
std::shared_ptr<const AttributionRule> current_attribution_rule();
}
