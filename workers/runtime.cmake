add_library(eq_workers STATIC
  ${CMAKE_CURRENT_LIST_DIR}/runtime.c
  ${CMAKE_CURRENT_LIST_DIR}/noop.c
  ${CMAKE_CURRENT_LIST_DIR}/kinds.c
  ${CMAKE_CURRENT_LIST_DIR}/chart_kind.c
  ${CMAKE_CURRENT_LIST_DIR}/source.c
  ${CMAKE_CURRENT_LIST_DIR}/backends.c
  ${CMAKE_CURRENT_LIST_DIR}/remote_source.c
  ${CMAKE_CURRENT_LIST_DIR}/collsearch.c
  ${CMAKE_CURRENT_LIST_DIR}/embed_kind.c
  ${CMAKE_CURRENT_LIST_DIR}/llm_kind.c)
target_link_libraries(eq_workers PUBLIC eq_common eq_forecast eq_report eq_embed eq_llm cjson
  nng::nng OpenSSL::Crypto Threads::Threads m)
