#include "metrics/TextFormat.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace llmrt::metrics {
namespace {

// Python's repr(float): the shortest digits that round-trip, in fixed notation when the decimal
// exponent is in [-4, 16) (always with a fractional part, "3.0"), else in scientific notation
// with a sign and at least two exponent digits ("1e+16", "2.5e-05").
std::string pythonRepr(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view sci(buf, end - buf); // "-d.ddde+XX" or "-de+XX"
  bool negative = sci.front() == '-';
  if (negative)
    sci.remove_prefix(1);
  size_t ePos = sci.find('e');
  int exponent = std::atoi(std::string(sci.substr(ePos + 1)).c_str());
  std::string digits;
  for (char c : sci.substr(0, ePos))
    if (c != '.')
      digits += c;

  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else {
      size_t intDigits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= intDigits) {
        out += digits;
        out.append(intDigits - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, intDigits);
        out += '.';
        out += digits.substr(intDigits);
      }
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp;
}

} // namespace

std::string formatValue(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  std::string s = pythonRepr(value);
  size_t dot = s.find('.');
  // Go switches to an exponent sooner than Python: 1234567.0 -> 1.234567e+06.
  if (value > 0 && dot != std::string::npos && dot > 6) {
    std::string mantissa = s.substr(0, 1) + "." + s.substr(1, dot - 1) + s.substr(dot + 1);
    while (!mantissa.empty() && (mantissa.back() == '0' || mantissa.back() == '.'))
      mantissa.pop_back();
    char exp[16];
    std::snprintf(exp, sizeof exp, "e+%02d", static_cast<int>(dot - 1));
    return mantissa + exp;
  }
  return s;
}

void appendEscapedLabelValue(std::string &out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

void appendEscapedHelp(std::string &out, std::string_view help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

namespace {
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
} // namespace

bool isValidMetricName(std::string_view name) {
  if (name.empty() || isDigit(name[0]))
    return false;
  for (char c : name)
    if (!isAlpha(c) && !isDigit(c) && c != '_' && c != ':')
      return false;
  return true;
}

bool isValidLabelName(std::string_view name) {
  if (name.empty() || isDigit(name[0]) || name.starts_with("__"))
    return false;
  for (char c : name)
    if (!isAlpha(c) && !isDigit(c) && c != '_')
      return false;
  return true;
}

} // namespace llmrt::metrics
