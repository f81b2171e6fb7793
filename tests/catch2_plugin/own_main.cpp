// A Catch2 program with a main of its own, linked with leakguard::catch2 (not catch2_main): linking
// alone registers the listener. This main runs the session itself, without leakguard::catch2::run.
#if LEAKGUARD_CATCH2_MAJOR >= 3
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  return session.run();
}
