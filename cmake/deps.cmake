# Third-party dependencies, all from Debian 12 packages (see ./dg deps).
set(Boost_NO_WARN_NEW_VERSIONS ON)
find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(GTest REQUIRED)
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)  # libisal-dev: analyze inflates .gz ~2x faster than zlib
find_package(simdjson REQUIRED)  # libsimdjson-dev: analyze parses exchange records with it
