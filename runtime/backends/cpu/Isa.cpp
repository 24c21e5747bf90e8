#include "backends/cpu/Isa.h"

#include "backends/cpu/QuantDotAmx.h"
#include "support/Error.h"

#include <cstdlib>
#include <string>

namespace llmrt::cpu {
namespace {

IsaCap cap() {
  static const IsaCap c = [] {
    const char *v = std::getenv("LLMRT_CPU_ISA");
    return parseIsaCap(v ? v : "");
  }();
  return c;
}

bool avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

bool avx512(bool vnni) {
  return avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         (vnni ? __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")
               : __builtin_cpu_supports("avx512dq"));
}

bool allowed(Isa isa, IsaCap cap) {
  switch (isa) {
  case Isa::Scalar:
  case Isa::Avx2: return true;
  case Isa::AvxVnni: return cap != IsaCap::Avx2;
  case Isa::Avx512Vnni: return cap == IsaCap::Avx512 || cap == IsaCap::Amx;
  case Isa::AmxInt8: return cap == IsaCap::Amx;
  }
  return false;
}

} // namespace

std::string_view isaName(Isa isa) {
  switch (isa) {
  case Isa::Scalar: return "scalar";
  case Isa::Avx2: return "avx2";
  case Isa::Avx512Vnni: return "avx512-vnni";
  case Isa::AvxVnni: return "avx-vnni";
  case Isa::AmxInt8: return "amx-int8";
  }
  return "?";
}

bool isaSupported(Isa isa) {
  switch (isa) {
  case Isa::Scalar: return true;
  case Isa::Avx2: return avx2();
  case Isa::Avx512Vnni: return avx512(true);
  case Isa::AvxVnni: return avx2() && __builtin_cpu_supports("avxvnni");
  case Isa::AmxInt8: return amx::usable();
  }
  return false;
}

IsaCap parseIsaCap(std::string_view value) {
  if (value.empty() || value == "amx")
    return IsaCap::Amx;
  if (value == "avx512")
    return IsaCap::Avx512;
  if (value == "avx2")
    return IsaCap::Avx2;
  if (value == "avx-vnni")
    return IsaCap::AvxVnni;
  llm::fail("LLMRT_CPU_ISA is '{}': expected avx2, avx-vnni, avx512 or amx (the most the CPU "
            "kernels may use; unset means all this CPU has)",
            value);
}

Isa bestIsaUnder(IsaCap cap) {
  for (Isa isa : {Isa::AmxInt8, Isa::Avx512Vnni, Isa::AvxVnni, Isa::Avx2})
    if (allowed(isa, cap) && isaSupported(isa))
      return isa;
  return Isa::Scalar;
}

std::string_view floatIsaName(FloatIsa isa) { return isa == FloatIsa::Avx512 ? "avx512" : "avx2"; }

bool floatIsaSupported(FloatIsa isa) { return isa == FloatIsa::Avx2 ? avx2() : avx512(false); }

FloatIsa bestFloatIsaUnder(IsaCap cap) {
  const bool avx512 = cap == IsaCap::Avx512 || cap == IsaCap::Amx;
  return avx512 && floatIsaSupported(FloatIsa::Avx512) ? FloatIsa::Avx512 : FloatIsa::Avx2;
}

Isa bestIsa() {
  static const Isa best = bestIsaUnder(cap());
  return best;
}

FloatIsa bestFloatIsa() {
  static const FloatIsa best = bestFloatIsaUnder(cap());
  return best;
}

void checkIsaSetting() {
  bestIsa();
  bestFloatIsa();
}

std::string describeIsas() {
  return "float " + std::string(floatIsaName(bestFloatIsa())) + ", quantized " +
         std::string(isaName(bestIsa()));
}

} // namespace llmrt::cpu
