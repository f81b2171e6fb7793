// leakguard: allocation tracing for C++ tests. The one header to include.
#pragma once

#include "leakguard/analysis.hpp"
#include "leakguard/attribution.hpp"
#include "leakguard/budget.hpp"
#include "leakguard/classify.hpp"
#include "leakguard/report.hpp"
#include "leakguard/run_report.hpp"
#include "leakguard/sizes.hpp"
#include "leakguard/snapshot.hpp"
#include "leakguard/statement_check.hpp"
#include "leakguard/suppressions.hpp"
#include "leakguard/test_check.hpp"
#include "leakguard/test_checker.hpp"
#include "leakguard/traceback.hpp"
#include "leakguard/tracing.hpp"
