# The sync part of the C ABI through the shared library.
add_executable(nh_capi_sync_tests
  ${CMAKE_CURRENT_LIST_DIR}/capi_sync_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sync_test_util.cpp)
target_link_libraries(nh_capi_sync_tests PRIVATE nocalhost nocalhost_core PkgConfig::NH_TEST_XXHASH GTest::gtest_main)
# Alone, as the engine's tests (sync.cmake).
gtest_discover_tests(nh_capi_sync_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS sync TIMEOUT 120 RUN_SERIAL TRUE)
