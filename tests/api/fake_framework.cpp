// Stands for a test framework's own code in test_checker.cpp: a record it allocates and loses.
#include "fake_framework.hpp"

namespace fake_framework {

__attribute__((noinline)) char* new_record() {
  char* record = new char[190 * 1024];
  asm volatile("" : : "r"(record) : "memory");  // kept, and no tail call: this frame is on its stack
  return record;
}

}  // namespace fake_framework
