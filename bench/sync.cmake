# The sync benchmarks' client program: `nh sync run` on the C ABI.
add_executable(nh-sync-client ${CMAKE_CURRENT_LIST_DIR}/sync_client_main.c ${PROJECT_SOURCE_DIR}/tools/nh/cmd_sync.c)
target_link_libraries(nh-sync-client PRIVATE nocalhost)
