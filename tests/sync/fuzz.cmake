# libFuzzer target for the sync frame parser; only with clang.
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
#   ninja -C build-fuzz nh_sync_frame_fuzzer && tests/sync/fuzz/run.sh build-fuzz 60
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_executable(nh_sync_frame_fuzzer
    ${CMAKE_CURRENT_LIST_DIR}/fuzz/frame_fuzzer.cpp ${PROJECT_SOURCE_DIR}/lib/sync/protocol.cpp)
  # protocol.cpp is compiled here to be instrumented; the rest comes from the core.
  target_include_directories(nh_sync_frame_fuzzer PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(nh_sync_frame_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(nh_sync_frame_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(nh_sync_frame_fuzzer PRIVATE nocalhost_core)
  # A bounded run in the suite; the server itself is fuzzed over its socket by
  # Hostile.SurvivesBoundedFuzzing (sync_hostile_test.cpp) with any compiler.
  add_test(NAME sync_frame_fuzz_bounded
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/fuzz/run.sh ${PROJECT_BINARY_DIR} 20)
  set_tests_properties(sync_frame_fuzz_bounded PROPERTIES LABELS sync TIMEOUT 120)
endif()
