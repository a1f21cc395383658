#include "store/account_store.h"
namespace dg {
std::string generate_key_secret() { return ""; }
std::string generate_key_id() { return ""; }
std::string hash_key_secret(std::string_view) { return ""; }
Status validate_account_name(std::string_view) { return {}; }
}  // namespace dg
