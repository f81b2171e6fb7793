// Symbol visibility for leakguard's public API (the library is built with hidden visibility).
#pragma once

#define LEAKGUARD_API __attribute__((visibility("default")))
