#include "http/sse.h"

#include <cstring>

namespace dg::http {
namespace {

// Position just past the blank line that ends the first event in s[from..],
// or npos. A blank line is "\n\n" or "\n\r\n".
size_t find_boundary(std::string_view s, size_t from) {
  while (from < s.size()) {
    const void* p = std::memchr(s.data() + from, '\n', s.size() - from);
    if (!p) return std::string_view::npos;
    size_t i = static_cast<const char*>(p) - s.data();
    if (i + 1 < s.size() && s[i + 1] == '\n') return i + 2;
    if (i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') return i + 3;
    if (i + 1 >= s.size() || (i + 2 >= s.size() && s[i + 1] == '\r')) return std::string_view::npos;
    from = i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

void SseFramer::feed(std::string_view bytes) {
  buf_.append(bytes);
  // Resume a little before the old end: a boundary may straddle two reads.
  size_t from = scan_ > 2 ? scan_ - 2 : 0;
  if (from < complete_) from = complete_;
  for (;;) {
    size_t end = find_boundary(buf_, from);
    if (end == std::string_view::npos) break;
    complete_ = end;
    from = end;
  }
  scan_ = buf_.size();
}

std::string_view SseFramer::take(std::string_view bytes) {
  if (complete_ > 0) consume_complete();
  if (buf_.empty()) {
    size_t end = 0;
    for (size_t e = find_boundary(bytes, 0); e != std::string_view::npos; e = find_boundary(bytes, e)) end = e;
    buf_.assign(bytes.data() + end, bytes.size() - end);
    scan_ = buf_.size();
    return bytes.substr(0, end);
  }
  feed(bytes);
  return complete();
}

void SseFramer::consume_complete() {
  buf_.erase(0, complete_);
  scan_ -= complete_;
  complete_ = 0;
}

std::string_view next_event(std::string_view* rest) {
  size_t end = find_boundary(*rest, 0);
  if (end == std::string_view::npos) return {};
  std::string_view ev = rest->substr(0, end);
  rest->remove_prefix(end);
  return ev;
}

std::string_view event_data(std::string_view event, std::string& scratch) {
  std::string_view found;
  int n = 0;
  while (!event.empty()) {
    size_t nl = event.find('\n');
    std::string_view line = event.substr(0, nl);
    event.remove_prefix(nl == std::string_view::npos ? event.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 5 || line.compare(0, 5, "data:") != 0) continue;
    std::string_view v = line.substr(5);
    if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (n == 0) {
      found = v;
    } else {
      if (n == 1) scratch.assign(found);
      scratch += '\n';
      scratch += v;
    }
    ++n;
  }
  return n <= 1 ? found : std::string_view(scratch);
}

}  // namespace dg::http
