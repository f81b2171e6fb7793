#pragma once

namespace fake_framework {
char* new_record();  // 190 KiB, for the caller to lose
}  // namespace fake_framework
