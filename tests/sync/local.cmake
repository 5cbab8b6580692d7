# The local tree layer's tests (lib/sync/local). Included from
# tests/sync/CMakeLists.txt.
add_executable(nh_sync_local_tests
  ${CMAKE_CURRENT_LIST_DIR}/local_test_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_scan_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_index_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_ignore_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_wildmatch_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_watcher_test.cpp)
target_link_libraries(nh_sync_local_tests PRIVATE nh_sync GTest::gtest_main)
target_compile_definitions(nh_sync_local_tests PRIVATE
  NH_GEN_TREE="${PROJECT_SOURCE_DIR}/../shared/bench/gen_tree.py")
gtest_discover_tests(nh_sync_local_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS sync_local)
