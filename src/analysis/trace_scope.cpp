#include "leakguard/analysis.hpp"

namespace leakguard {

TraceScope::TraceScope(int nframe) : started_(!is_tracing()), previous_limit_(get_traceback_limit()) {
  start(nframe);
}

TraceScope::~TraceScope() {
  if (started_) {
    stop();
  } else {
    start(previous_limit_);
  }
}

}  // namespace leakguard
