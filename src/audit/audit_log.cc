#include "audit/audit_log.h"
namespace dg {
Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string&, const AuditLogOptions&) { return internal_error("todo"); }
AuditLog::~AuditLog() {}
Status AuditLog::append(ExchangeRecord) { return {}; }
Status AuditLog::flush(TimeNs) { return {}; }
AuditLog::Counters AuditLog::counters() const { return {}; }
Result<ChainReport> verify_audit_chain(const std::string&) { return internal_error("todo"); }
}  // namespace dg
