# Every third-party library econq uses, found through pkg-config or its CMake config.
# See ../shared/DEPENDENCIES.md for the traps (libzip's config, nng has no .pc, ...).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nng CONFIG REQUIRED)                 # nng::nng
find_package(cJSON CONFIG REQUIRED)               # target `cjson`
find_package(CURL REQUIRED)                       # CURL::libcurl
find_package(OpenSSL REQUIRED)                    # OpenSSL::Crypto
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(CHECK REQUIRED IMPORTED_TARGET check)
pkg_check_modules(GSL REQUIRED IMPORTED_TARGET gsl)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(EXPAT REQUIRED IMPORTED_TARGET expat)
pkg_check_modules(FREEXL REQUIRED IMPORTED_TARGET freexl)
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo cairo-png cairo-svg)
pkg_check_modules(XLSXWRITER REQUIRED IMPORTED_TARGET xlsxwriter)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)

# Libraries without pkg-config or CMake files.
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
find_library(HTTP_PARSER_LIBRARY http_parser REQUIRED)
add_library(eq_http_parser INTERFACE)
target_include_directories(eq_http_parser INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(eq_http_parser INTERFACE ${HTTP_PARSER_LIBRARY})

find_path(CSV_INCLUDE_DIR csv.h REQUIRED)
find_library(CSV_LIBRARY csv REQUIRED)
add_library(eq_csv INTERFACE)
target_include_directories(eq_csv INTERFACE ${CSV_INCLUDE_DIR})
target_link_libraries(eq_csv INTERFACE ${CSV_LIBRARY})
