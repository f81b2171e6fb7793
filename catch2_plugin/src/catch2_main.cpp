// The main of leakguard::catch2_main: Catch2's own, with the session run through
// leakguard::catch2::run() for LEAKGUARD_REPEAT. With Catch2 v2 this file also holds Catch2's
// implementation, compiled with the plugin's own CATCH_CONFIG_* settings.
#if LEAKGUARD_CATCH2_MAJOR >= 3
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include "leakguard/catch2.hpp"

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  return leakguard::catch2::run(session);
}
