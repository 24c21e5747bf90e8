// Python string formatting for templates: `"%s: %d" % (a, b)` (printf-style) and
// "{} {name}".format(...) (the format mini-language, through fmt, whose specs match Python's
// for the fill/align/width/precision/type forms templates use).
#include "chat/Builtins.h"

#include <cctype>

#include <fmt/format.h>

namespace llmrt::chat {
namespace {

std::string formatOne(char conv, const std::string &flags, int width, int precision, const Value &v) {
  std::string spec;
  bool left = flags.find('-') != std::string::npos;
  bool zero = flags.find('0') != std::string::npos && !left;
  if (flags.find('+') != std::string::npos) spec += '+';
  else if (flags.find(' ') != std::string::npos) spec += ' ';
  if (zero) spec += '0';
  if (width > 0) spec += std::to_string(width);
  std::string body;
  switch (conv) {
  case 's': body = v.str(); break;
  case 'r': body = v.repr(); break;
  case 'd': case 'i': case 'x': case 'X': case 'o': {
    if (!v.isNumber()) fault(fmt::format("%{} format: a real number is required, not {}", conv, v.typeName()));
    int64_t i = v.isFloat() ? int64_t(v.asDouble()) : v.asInt();
    std::string t = conv == 'x' ? "x" : conv == 'X' ? "X" : conv == 'o' ? "o" : "d";
    body = fmt::format(fmt::runtime("{:" + spec + t + "}"), i);
    break;
  }
  case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
    if (!v.isNumber()) fault(fmt::format("must be real number, not {}", v.typeName()));
    std::string t(1, '.');
    t += std::to_string(precision < 0 ? 6 : precision);
    t += conv;
    body = fmt::format(fmt::runtime("{:" + spec + t + "}"), v.asDouble());
    break;
  }
  default: fault(fmt::format("unsupported format character '{}'", conv));
  }
  if (conv == 's' || conv == 'r') {
    if (precision >= 0 && size_t(precision) < body.size()) body.resize(size_t(precision));
  }
  if (int(body.size()) < width) body = left ? body + std::string(width - body.size(), ' ') : std::string(width - body.size(), ' ') + body;
  return body;
}

} // namespace

std::string percentFormat(const std::string &f, const Value &args) {
  ValueList positional = args.isTuple() ? args.asList() : ValueList{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i >= f.size()) fault("incomplete format");
    const Value *mapped = nullptr;
    if (f[i] == '(') {
      size_t close = f.find(')', i);
      if (close == std::string::npos) fault("incomplete format key");
      if (!args.isDict()) fault("format requires a mapping");
      mapped = args.asDict().find(f.substr(i + 1, close - i - 1));
      if (!mapped) fault(fmt::format("KeyError: '{}'", f.substr(i + 1, close - i - 1)));
      i = close + 1;
    }
    std::string flags;
    while (i < f.size() && std::string("-+ #0").find(f[i]) != std::string::npos) flags += f[i++];
    int width = 0, precision = -1;
    while (i < f.size() && std::isdigit((unsigned char)f[i])) width = width * 10 + (f[i++] - '0');
    if (i < f.size() && f[i] == '.') {
      precision = 0;
      ++i;
      while (i < f.size() && std::isdigit((unsigned char)f[i])) precision = precision * 10 + (f[i++] - '0');
    }
    if (i >= f.size()) fault("incomplete format");
    if (f[i] == '%') {
      out += '%';
      continue;
    }
    const Value *v = mapped;
    if (!v) {
      if (next >= positional.size()) fault("not enough arguments for format string");
      v = &positional[next++];
    }
    out += formatOne(f[i], flags, width, precision, *v);
  }
  if (!args.isDict() && next < positional.size()) fault("not all arguments converted during string formatting");
  return out;
}

std::string strFormat(const std::string &f, const CallArgs &args) {
  std::string out;
  size_t autoIndex = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else fault("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) fault("Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conv;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    const Value *v = nullptr;
    if (field.empty()) {
      if (autoIndex >= args.positional.size()) fault(fmt::format("Replacement index {} out of range for positional args tuple", autoIndex));
      v = &args.positional[autoIndex++];
    } else if (std::isdigit((unsigned char)field[0])) {
      size_t k = std::stoul(field);
      if (k >= args.positional.size()) fault(fmt::format("Replacement index {} out of range for positional args tuple", k));
      v = &args.positional[k];
    } else {
      v = args.namedArg(field);
      if (!v) fault(fmt::format("KeyError: '{}'", field));
    }
    if (conv == "r") {
      out += v->repr();
      continue;
    }
    if (spec.empty()) {
      out += v->str();
      continue;
    }
    try {
      if (v->isInt() || v->isBool()) out += fmt::format(fmt::runtime("{:" + spec + "}"), v->asInt());
      else if (v->isFloat()) out += fmt::format(fmt::runtime("{:" + spec + "}"), v->asDouble());
      else out += fmt::format(fmt::runtime("{:" + spec + "}"), v->str());
    } catch (const fmt::format_error &e) {
      fault(fmt::format("bad format spec '{}': {}", spec, e.what()));
    }
  }
  return out;
}

} // namespace llmrt::chat
