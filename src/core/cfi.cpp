#include "cfi.hpp"

#include <cstring>

namespace leakguard::detail {
namespace {

#if defined(__x86_64__)
constexpr unsigned kSpReg = 7, kFpReg = 6;
#elif defined(__aarch64__)
constexpr unsigned kSpReg = 31, kFpReg = 29;
#endif

// DW_EH_PE_* pointer encodings.
constexpr std::uint8_t kOmit = 0xff;

struct Reader {
  const std::uint8_t* p;

  template <class T>
  T fixed() {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::uint64_t uleb() {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const std::uint8_t b = *p++;
      if (shift < 64) v |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
  }
  std::int64_t sleb() {
    std::int64_t v = 0;
    int shift = 0;
    std::uint8_t b;
    do {
      b = *p++;
      if (shift < 64) v |= std::int64_t{b & 0x7f} << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= -(std::int64_t{1} << shift);
    return v;
  }
  // Reads a DW_EH_PE-encoded pointer. datarel is the base for DW_EH_PE_datarel.
  bool encoded(std::uint8_t enc, std::uintptr_t datarel, std::uintptr_t* out) {
    if (enc == kOmit) return false;
    const std::uintptr_t here = reinterpret_cast<std::uintptr_t>(p);
    std::uintptr_t v;
    switch (enc & 0x0f) {
      case 0x00: v = fixed<std::uint64_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = fixed<std::uint16_t>(); break;
      case 0x03: v = fixed<std::uint32_t>(); break;
      case 0x04: v = fixed<std::uint64_t>(); break;
      case 0x09: v = static_cast<std::uintptr_t>(sleb()); break;
      case 0x0a: v = static_cast<std::uintptr_t>(fixed<std::int16_t>()); break;
      case 0x0b: v = static_cast<std::uintptr_t>(static_cast<std::intptr_t>(fixed<std::int32_t>())); break;
      case 0x0c: v = static_cast<std::uintptr_t>(fixed<std::int64_t>()); break;
      default: return false;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += here; break;
      case 0x30: v += datarel; break;
      default: return false;  // textrel/funcrel/aligned: not produced by GCC or Clang on Linux
    }
    if (enc & 0x80) v = *reinterpret_cast<const std::uintptr_t*>(v);
    *out = v;
    return true;
  }
};

// Finds the FDE covering pc through the binary-search table of .eh_frame_hdr.
const std::uint8_t* find_fde(const std::uint8_t* hdr, std::uintptr_t pc) {
  if (hdr == nullptr || hdr[0] != 1) return nullptr;
  const std::uint8_t frame_ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
  const auto base = reinterpret_cast<std::uintptr_t>(hdr);
  Reader r{hdr + 4};
  std::uintptr_t eh_frame, count;
  if (!r.encoded(frame_ptr_enc, base, &eh_frame) || !r.encoded(count_enc, base, &count)) {
    return nullptr;
  }
  if (table_enc != 0x3b || count == 0) return nullptr;  // datarel|sdata4 is what linkers emit
  const auto* table = reinterpret_cast<const std::int32_t*>(r.p);
  std::size_t lo = 0, hi = count;
  while (lo + 1 < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (base + static_cast<std::intptr_t>(table[2 * mid]) <= pc) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (base + static_cast<std::intptr_t>(table[2 * lo]) > pc) return nullptr;
  return reinterpret_cast<const std::uint8_t*>(base + static_cast<std::intptr_t>(table[2 * lo + 1]));
}

struct RegRule {
  enum Kind : std::uint8_t { kSame, kOffset, kOther } kind = kSame;
  std::int64_t off = 0;
};

struct CfaState {
  std::uint64_t cfa_reg = kSpReg;
  std::int64_t cfa_off = 0;
  bool cfa_expr = false;
  RegRule fp, ra;
};

struct Cie {
  std::uint64_t code_align = 1;
  std::int64_t data_align = 1;
  std::uint64_t ra_reg = 0;
  std::uint8_t fde_enc = 0;
  bool has_aug_data = false;
  const std::uint8_t* insns = nullptr;
  const std::uint8_t* end = nullptr;
};

bool read_length(Reader& r, const std::uint8_t** end) {
  std::uint64_t len = r.fixed<std::uint32_t>();
  if (len == 0xffffffffu) len = r.fixed<std::uint64_t>();
  if (len == 0) return false;
  *end = r.p + len;
  return true;
}

bool parse_cie(const std::uint8_t* at, Cie* cie) {
  Reader r{at};
  if (!read_length(r, &cie->end)) return false;
  if (r.fixed<std::uint32_t>() != 0) return false;
  const std::uint8_t version = r.fixed<std::uint8_t>();
  const char* aug = reinterpret_cast<const char*>(r.p);
  r.p += std::strlen(aug) + 1;
  if (std::strstr(aug, "eh") != nullptr) r.p += sizeof(void*);
  cie->code_align = r.uleb();
  cie->data_align = r.sleb();
  cie->ra_reg = version == 1 ? r.fixed<std::uint8_t>() : r.uleb();
  if (aug[0] == 'z') {
    cie->has_aug_data = true;
    const std::uint64_t len = r.uleb();
    const std::uint8_t* data_end = r.p + len;
    for (const char* c = aug + 1; *c != '\0'; ++c) {
      if (*c == 'R') {
        cie->fde_enc = r.fixed<std::uint8_t>();
      } else if (*c == 'P') {
        std::uintptr_t ignored;
        const std::uint8_t enc = r.fixed<std::uint8_t>();
        if (!r.encoded(enc & 0x7f, 0, &ignored)) return false;
      } else if (*c == 'L') {
        r.fixed<std::uint8_t>();
      }  // 'S', 'B', 'G' carry no data
    }
    r.p = data_end;
  } else if (aug[0] != '\0') {
    return false;
  }
  cie->insns = r.p;
  return true;
}

RegRule* rule_for(CfaState& s, std::uint64_t reg, std::uint64_t ra_reg) {
  if (reg == kFpReg) return &s.fp;
  if (reg == ra_reg) return &s.ra;
  return nullptr;
}

// Runs CFA instructions until the row for `target` is reached. Returns false on malformed input.
bool run(const std::uint8_t* p, const std::uint8_t* end, const Cie& cie, std::uintptr_t loc,
         std::uintptr_t target, const CfaState& initial, CfaState& s) {
  CfaState stack[8];
  int depth = 0;
  Reader r{p};
  while (r.p < end) {
    const std::uint8_t op = *r.p++;
    const std::uint8_t hi2 = op & 0xc0, low = op & 0x3f;
    std::uint64_t reg;
    if (hi2 == 0x40) {  // advance_loc
      loc += low * cie.code_align;
      if (loc > target) return true;
      continue;
    }
    if (hi2 == 0x80) {  // offset
      if (RegRule* rr = rule_for(s, low, cie.ra_reg)) *rr = {RegRule::kOffset, static_cast<std::int64_t>(r.uleb()) * cie.data_align};
      else r.uleb();
      continue;
    }
    if (hi2 == 0xc0) {  // restore
      if (RegRule* rr = rule_for(s, low, cie.ra_reg)) *rr = low == kFpReg ? initial.fp : initial.ra;
      continue;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x01: {       // set_loc
        std::uintptr_t v;
        if (!r.encoded(cie.fde_enc, 0, &v)) return false;
        loc = v;
        if (loc > target) return true;
        break;
      }
      case 0x02: loc += r.fixed<std::uint8_t>() * cie.code_align; if (loc > target) return true; break;
      case 0x03: loc += r.fixed<std::uint16_t>() * cie.code_align; if (loc > target) return true; break;
      case 0x04: loc += r.fixed<std::uint32_t>() * cie.code_align; if (loc > target) return true; break;
      case 0x05:  // offset_extended
        reg = r.uleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {RegRule::kOffset, static_cast<std::int64_t>(r.uleb()) * cie.data_align};
        else r.uleb();
        break;
      case 0x06:  // restore_extended
        reg = r.uleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = reg == kFpReg ? initial.fp : initial.ra;
        break;
      case 0x07:  // undefined
      case 0x08:  // same_value
        reg = r.uleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {op == 0x08 ? RegRule::kSame : RegRule::kOther, 0};
        break;
      case 0x09:  // register
        reg = r.uleb();
        r.uleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {RegRule::kOther, 0};
        break;
      case 0x0a:
        if (depth == 8) return false;
        stack[depth++] = s;
        break;
      case 0x0b:
        if (depth == 0) return false;
        s = stack[--depth];
        break;
      case 0x0c: s.cfa_reg = r.uleb(); s.cfa_off = static_cast<std::int64_t>(r.uleb()); s.cfa_expr = false; break;
      case 0x0d: s.cfa_reg = r.uleb(); s.cfa_expr = false; break;
      case 0x0e: s.cfa_off = static_cast<std::int64_t>(r.uleb()); break;
      case 0x0f: {  // def_cfa_expression
        const std::uint64_t len = r.uleb();
        r.p += len;
        s.cfa_expr = true;
        break;
      }
      case 0x10:    // expression
      case 0x16: {  // val_expression
        reg = r.uleb();
        const std::uint64_t len = r.uleb();
        r.p += len;
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {RegRule::kOther, 0};
        break;
      }
      case 0x11:  // offset_extended_sf
        reg = r.uleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {RegRule::kOffset, r.sleb() * cie.data_align};
        else r.sleb();
        break;
      case 0x12: s.cfa_reg = r.uleb(); s.cfa_off = r.sleb() * cie.data_align; s.cfa_expr = false; break;
      case 0x13: s.cfa_off = r.sleb() * cie.data_align; break;
      case 0x14:  // val_offset
      case 0x15:  // val_offset_sf
        reg = r.uleb();
        if (op == 0x14) r.uleb(); else r.sleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {RegRule::kOther, 0};
        break;
      case 0x2e: r.uleb(); break;  // GNU_args_size
      case 0x2f:                   // GNU_negative_offset_extended
        reg = r.uleb();
        if (RegRule* rr = rule_for(s, reg, cie.ra_reg)) *rr = {RegRule::kOffset, -static_cast<std::int64_t>(r.uleb()) * cie.data_align};
        else r.uleb();
        break;
      default: return false;
    }
  }
  return true;
}

}  // namespace

FrameRule compute_frame_rule(const Module& module, std::uintptr_t return_address) noexcept {
  FrameRule unsupported;
  unsupported.kind = FrameRule::kUnsupported;
#if defined(__x86_64__)
  // A return address points after the call; the call itself is what the rule must describe.
  const std::uintptr_t pc = return_address - 1;
  const std::uint8_t* fde = find_fde(module.eh_frame_hdr, pc);
  if (fde == nullptr) return unsupported;
  Reader r{fde};
  const std::uint8_t* fde_end;
  if (!read_length(r, &fde_end)) return unsupported;
  const std::uint8_t* cie_field = r.p;
  const std::uint32_t cie_off = r.fixed<std::uint32_t>();
  if (cie_off == 0) return unsupported;
  Cie cie;
  if (!parse_cie(cie_field - cie_off, &cie)) return unsupported;
  std::uintptr_t begin, range;
  if (!r.encoded(cie.fde_enc, 0, &begin) || !r.encoded(cie.fde_enc & 0x0f, 0, &range)) {
    return unsupported;
  }
  if (pc < begin || pc >= begin + range) return unsupported;
  if (cie.has_aug_data) r.p += r.uleb();

  CfaState initial;
  if (!run(cie.insns, cie.end, cie, 0, ~std::uintptr_t{0}, initial, initial)) return unsupported;
  CfaState state = initial;
  if (!run(r.p, fde_end, cie, begin, pc, initial, state)) return unsupported;

  if (state.cfa_expr || (state.cfa_reg != kSpReg && state.cfa_reg != kFpReg)) return unsupported;
  if (state.ra.kind != RegRule::kOffset || state.fp.kind == RegRule::kOther) return unsupported;
  if (state.cfa_off < -(1 << 27) || state.cfa_off >= (1 << 27)) return unsupported;
  FrameRule rule;
  rule.kind = FrameRule::kCfa;
  rule.cfa_from_fp = state.cfa_reg == kFpReg;
  rule.cfa_off = static_cast<std::int32_t>(state.cfa_off);
  rule.ra_off = static_cast<std::int16_t>(state.ra.off);
  rule.fp_saved = state.fp.kind == RegRule::kOffset;
  rule.fp_off = static_cast<std::int16_t>(state.fp.off);
  return rule;
#else
  // Mixed frame-pointer/CFI stepping needs the exact stack pointer at each frame, which an
  // AArch64 frame record does not give. There the walker follows frame records only.
  (void)module;
  (void)return_address;
  return unsupported;
#endif
}

}  // namespace leakguard::detail
