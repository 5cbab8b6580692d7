# The sync engine's tests (protocol, server, client). Included from
# tests/sync/CMakeLists.txt.
pkg_check_modules(NH_TEST_XXHASH REQUIRED IMPORTED_TARGET libxxhash)
add_executable(nh_sync_tests
  ${CMAKE_CURRENT_LIST_DIR}/sync_test_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync_engine_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync_delta_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync_hostile_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync_warm_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync_switch_test.cpp)
target_link_libraries(nh_sync_tests PRIVATE nh_sync PkgConfig::NH_TEST_XXHASH GTest::gtest_main)
if(TARGET nhsyncd)
  add_dependencies(nh_sync_tests nhsyncd)
  target_compile_definitions(nh_sync_tests PRIVATE NH_SYNCD_PATH="$<TARGET_FILE:nhsyncd>")
else()
  target_compile_definitions(nh_sync_tests PRIVATE NH_SYNCD_PATH="/nonexistent/nhsyncd")
endif()
# Alone (RUN_SERIAL): several measure the link and the compressor's speed on this machine, and
# a test running beside them would make loopback look like a slow link.
gtest_discover_tests(nh_sync_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS sync TIMEOUT 300 RUN_SERIAL TRUE)
