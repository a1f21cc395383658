// Status and Result<T>: errors as values on the request path.
//
// A Status is either ok or carries a code and a human-readable message. A
// Result<T> holds either a T or a non-ok Status. Both are [[nodiscard]]: an
// ignored error is a compile error under -Werror. Exceptions are used only
// where third-party code throws, and are caught at that call.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dg {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input from a client, a file or a flag
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,  // a limit, a full queue, a full disk
  kUnavailable,        // a peer (upstream, Redis) is unreachable
  kDeadlineExceeded,
  kDataLoss,  // corruption detected (e.g. a broken hash chain)
  kInternal,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message" (or "OK").
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: must be non-ok

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dg

#define DG_CONCAT_INNER(a, b) a##b
#define DG_CONCAT(a, b) DG_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not ok.
#define DG_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::dg::Status dg_status_ = (expr);     \
    if (!dg_status_.ok()) return dg_status_; \
  } while (0)

// `DG_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or returns its Status.
#define DG_ASSIGN_OR_RETURN(lhs, expr) \
  DG_ASSIGN_OR_RETURN_IMPL(DG_CONCAT(dg_result_, __LINE__), lhs, expr)
#define DG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
